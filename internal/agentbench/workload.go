package agentbench

import (
	"context"
	"fmt"
	"strconv"
	"sync"

	"github.com/uspkit/uspkit/wire"
)

// Workloads are the request kinds Run measures, by name, in the order they
// run. "add" leaves the Subscription rows it creates for "delete", which
// removes them (before a "delete" cell, rows are added, untimed, up to the
// cell's request count); Run deletes what is left at the end.
var Workloads = []string{"get-deviceinfo", "get-endpointid", "set", "add", "delete", "operate"}

// workload builds the i-th request of one kind for one target.
type workload struct {
	name string
	// setup runs before a cell; it may refuse the cell by returning
	// false (nothing to delete).
	build func(st *state, i int) (wire.Header_MsgType, *wire.Request, bool)
	// done sees each successful response.
	done func(st *state, r *wire.Msg)
}

// state is what the workloads of one target share.
type state struct {
	nonce   string // keeps the Subscription IDs of one run apart
	ctrlID  string
	setPath string // the Subscription row the Set workload writes

	mu   sync.Mutex
	rows []string // Subscription rows made by "add", for "delete"
	seq  int
}

func (st *state) takeRow() (string, bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if len(st.rows) == 0 {
		return "", false
	}
	p := st.rows[len(st.rows)-1]
	st.rows = st.rows[:len(st.rows)-1]
	return p, true
}

func (st *state) nextID() string {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.seq++
	return "agentbench-" + st.nonce + "-" + strconv.Itoa(st.seq)
}

func get(paths ...string) (wire.Header_MsgType, *wire.Request, bool) {
	return wire.Header_GET, &wire.Request{ReqType: &wire.Request_Get{Get: &wire.Get{ParamPaths: paths}}}, true
}

// addSubscription is the Add of one disabled ValueChange Subscription.
func addSubscription(id string) *wire.Request {
	return &wire.Request{ReqType: &wire.Request_Add{Add: &wire.Add{CreateObjs: []*wire.Add_CreateObject{{
		ObjPath: "Device.LocalAgent.Subscription.",
		ParamSettings: []*wire.Add_CreateParamSetting{
			{Param: "Enable", Value: "false", Required: true},
			{Param: "ID", Value: id, Required: true},
			{Param: "NotifType", Value: "ValueChange", Required: true},
			{Param: "ReferenceList", Value: "Device.LocalAgent.SoftwareVersion", Required: true},
		},
	}}}}}
}

// addedPath is the instance an AddResp created, or "".
func addedPath(r *wire.Msg) string {
	for _, c := range r.GetBody().GetResponse().GetAddResp().GetCreatedObjResults() {
		if p := c.GetOperStatus().GetOperSuccess().GetInstantiatedPath(); p != "" {
			return p
		}
	}
	return ""
}

func workloadByName(name string) (workload, error) {
	switch name {
	case "get-deviceinfo":
		return workload{name: name, build: func(*state, int) (wire.Header_MsgType, *wire.Request, bool) {
			return get("Device.DeviceInfo.")
		}}, nil
	case "get-endpointid":
		return workload{name: name, build: func(*state, int) (wire.Header_MsgType, *wire.Request, bool) {
			return get("Device.LocalAgent.EndpointID")
		}}, nil
	case "set":
		return workload{name: name, build: func(st *state, i int) (wire.Header_MsgType, *wire.Request, bool) {
			return wire.Header_SET, &wire.Request{ReqType: &wire.Request_Set{Set: &wire.Set{UpdateObjs: []*wire.Set_UpdateObject{{
				ObjPath:       st.setPath,
				ParamSettings: []*wire.Set_UpdateParamSetting{{Param: "NotifRetry", Value: strconv.FormatBool(i%2 == 0), Required: true}},
			}}}}}, true
		}}, nil
	case "add":
		return workload{name: name, build: func(st *state, _ int) (wire.Header_MsgType, *wire.Request, bool) {
			return wire.Header_ADD, addSubscription(st.nextID()), true
		}, done: func(st *state, r *wire.Msg) {
			if p := addedPath(r); p != "" {
				st.mu.Lock()
				st.rows = append(st.rows, p)
				st.mu.Unlock()
			}
		}}, nil
	case "delete":
		return workload{name: name, build: func(st *state, _ int) (wire.Header_MsgType, *wire.Request, bool) {
			p, ok := st.takeRow()
			return wire.Header_DELETE, &wire.Request{ReqType: &wire.Request_Delete{Delete: &wire.Delete{ObjPaths: []string{p}}}}, ok
		}}, nil
	case "operate":
		// A synchronous command both reference agents have; it makes the
		// Agent send an OnBoardRequest Notify, which the client answers.
		return workload{name: name, build: func(st *state, _ int) (wire.Header_MsgType, *wire.Request, bool) {
			cmd := fmt.Sprintf("Device.LocalAgent.Controller.[EndpointID==%q].SendOnBoardRequest()", st.ctrlID)
			return wire.Header_OPERATE, &wire.Request{ReqType: &wire.Request_Operate{Operate: &wire.Operate{Command: cmd, SendResp: true}}}, true
		}}, nil
	}
	return workload{}, fmt.Errorf("agentbench: unknown workload %q (know %v)", name, Workloads)
}

// setup adds the Subscription row the Set workload writes.
func (st *state) setup(ctx context.Context, c *client) error {
	r, err := c.do(ctx, wire.Header_ADD, addSubscription(st.nextID()))
	if err != nil {
		return fmt.Errorf("agentbench: set-up Add: %w", err)
	}
	if st.setPath = addedPath(r); st.setPath == "" {
		return fmt.Errorf("agentbench: set-up Add failed: %v", r)
	}
	return nil
}

// cleanup deletes the rows the run made.
func (st *state) cleanup(ctx context.Context, c *client) {
	paths := st.rows
	if st.setPath != "" {
		paths = append(paths, st.setPath)
	}
	for len(paths) > 0 {
		n := min(len(paths), 100)
		_, _ = c.do(ctx, wire.Header_DELETE, &wire.Request{ReqType: &wire.Request_Delete{Delete: &wire.Delete{ObjPaths: paths[:n], AllowPartial: true}}})
		paths = paths[n:]
	}
	st.rows = nil
}
