package service_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/uspkit/uspkit/agent"
	"github.com/uspkit/uspkit/datamodel"
	"github.com/uspkit/uspkit/internal/testenv"
	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/mtp/uds"
	"github.com/uspkit/uspkit/schema"
	"github.com/uspkit/uspkit/service"
	"github.com/uspkit/uspkit/usperr"
	"github.com/uspkit/uspkit/wire"
)

func TestMain(m *testing.M) { testenv.Main(m) }

const brokerID = "os::012345-BROKER"

// world is a Broker (an agent.Agent serving its Controller socket and an
// Agent socket) and its socket directory.
type world struct {
	dir, ctlSock, agentSock string
	broker                  *agent.Agent
}

func logger(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

func startBroker(t *testing.T, opts ...func(*agent.Options)) *world {
	t.Helper()
	return startBrokerTimeout(t, 5*time.Second, opts...)
}

// startBrokerTimeout is startBroker with the Broker's timeout for proxied
// requests.
func startBrokerTimeout(t *testing.T, timeout time.Duration, opts ...func(*agent.Options)) *world {
	t.Helper()
	dir, err := os.MkdirTemp("", "uspbrk")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	w := &world{dir: dir, ctlSock: filepath.Join(dir, "ctl"), agentSock: filepath.Join(dir, "agent")}
	m := schema.New()
	agent.Define(m)
	agent.DefineBroker(m)
	m.Define("Device.X_TEST_Local.").Param("Name", schema.String(), schema.ReadWrite, schema.Default("local")).
		Param("ItemNumberOfEntries", schema.UnsignedInt())
	m.Define("Device.X_TEST_Local.Item.{i}.", schema.ObjAddDelete, schema.Keys("Name"), schema.NumEntries("ItemNumberOfEntries")).
		Param("Name", schema.String(), schema.ReadWrite).
		Param("Note", schema.String(schema.MaxLen(8)), schema.ReadWrite)
	mux := datamodel.NewMux(m)
	mux.Store("Device.X_TEST_Local.", nil)
	mux.Store("Device.X_TEST_Local.Item.{i}.", nil)
	ctx, cancel := context.WithCancel(context.Background())
	var a *agent.Agent
	agentSrv := uds.NewServer(&uds.Options{Path: w.agentSock, EndpointID: brokerID, OnState: func(ctx context.Context, p mtp.Peer, s mtp.State, err error) {
		if a != nil {
			a.OnState("UDS")(ctx, p, s, err)
		}
	}})
	o := agent.Options{EndpointID: brokerID, Mux: mux, Logger: logger(t),
		MTPs:    []agent.MTP{{Protocol: "UDS", Transport: agentSrv}},
		Factory: &agent.Config{UntrustedRole: "Full Access"}}
	for _, f := range opts {
		f(&o)
	}
	a, err = agent.New(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	w.broker = a
	ctlSrv := uds.NewServer(&uds.Options{Path: w.ctlSock, EndpointID: brokerID, OnState: a.ServiceState})
	done := make(chan struct{}, 2)
	go func() { a.Run(ctx); done <- struct{}{} }()
	go func() {
		a.ServeServices(ctx, agent.BrokerOptions{Transport: ctlSrv, ControllerSocket: w.ctlSock, AgentSocket: w.agentSock, Timeout: timeout})
		done <- struct{}{}
	}()
	t.Cleanup(func() { cancel(); <-done; <-done })
	return w
}

// startService runs a Service with a stored object at path (a table
// "Item.{i}." with a Name, a parameter Value) and a command Echo().
func startService(t *testing.T, w *world, id, path string, ctl bool, opts ...func(*service.Options)) (*service.Service, context.CancelFunc) {
	t.Helper()
	m := schema.New()
	service.Define(m)
	for i := len("Device."); i < len(path)-1; i++ { // the ancestors of a deeper path
		if path[i] == '.' && m.Object(path[:i+1]) == nil {
			m.Define(path[:i+1])
		}
	}
	m.Define(path).Param("Value", schema.String(), schema.ReadWrite, schema.Default("v-"+id)).
		Param("ItemNumberOfEntries", schema.UnsignedInt()).
		Command("Echo()", false, []*schema.Param{schema.Arg("In", schema.String())}, []*schema.Param{schema.Arg("Out", schema.String())}).
		Command("Wait()", true, []*schema.Param{schema.Arg("Milliseconds", schema.UnsignedInt())}, []*schema.Param{schema.Arg("Waited", schema.String())}).
		Event("Tick!", schema.Arg("N", schema.String()))
	m.Define(path+"Item.{i}.", schema.ObjAddDelete, schema.Keys("Name"), schema.NumEntries("ItemNumberOfEntries")).
		Param("Name", schema.String(), schema.ReadWrite).
		Param("Note", schema.String(schema.MaxLen(8)), schema.ReadWrite)
	mux := datamodel.NewMux(m)
	mux.Store(path, nil)
	mux.HandleFunc(path+"Echo()", func(ctx context.Context, rw datamodel.ResponseWriter, r *datamodel.Request) error {
		rw.SetValue("Out", id+":"+r.Values["In"])
		return nil
	})
	mux.HandleFunc(path+"Wait()", func(ctx context.Context, rw datamodel.ResponseWriter, r *datamodel.Request) error {
		ms, _ := strconv.Atoi(r.Values["Milliseconds"])
		select {
		case <-time.After(time.Duration(ms) * time.Millisecond):
		case <-ctx.Done():
			return usperr.Errorf(usperr.CodeCommandCanceled, "cancelled")
		}
		rw.SetValue("Waited", r.Values["Milliseconds"])
		return nil
	})
	o := service.Options{EndpointID: id, Mux: mux, Paths: []string{path}, Socket: w.ctlSock, Logger: logger(t), ReconnectWait: 50 * time.Millisecond, Timeout: 5 * time.Second}
	if ctl {
		o.AgentSocket = w.agentSock
	}
	for _, f := range opts {
		f(&o)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s, err := service.New(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	select {
	case <-s.Registered():
	case <-time.After(10 * time.Second):
		t.Fatalf("%s did not register: %v", id, s.RegisterError())
	}
	if ctl {
		select {
		case <-s.Broker().Connected():
		case <-time.After(10 * time.Second):
			t.Fatal("service controller did not connect")
		}
	}
	return s, func() { cancel(); <-done }
}

func req(r any) *wire.Request {
	switch r := r.(type) {
	case *wire.Get:
		return &wire.Request{ReqType: &wire.Request_Get{Get: r}}
	case *wire.Set:
		return &wire.Request{ReqType: &wire.Request_Set{Set: r}}
	case *wire.Add:
		return &wire.Request{ReqType: &wire.Request_Add{Add: r}}
	case *wire.Delete:
		return &wire.Request{ReqType: &wire.Request_Delete{Delete: r}}
	case *wire.Operate:
		return &wire.Request{ReqType: &wire.Request_Operate{Operate: r}}
	case *wire.GetInstances:
		return &wire.Request{ReqType: &wire.Request_GetInstances{GetInstances: r}}
	case *wire.GetSupportedDM:
		return &wire.Request{ReqType: &wire.Request_GetSupportedDm{GetSupportedDm: r}}
	}
	panic("request type")
}

func do(t *testing.T, c *service.Controller, r any) *wire.Msg {
	t.Helper()
	m, err := c.Do(context.Background(), req(r))
	if err != nil {
		t.Fatal(err)
	}
	if e := m.GetBody().GetError(); e != nil {
		t.Fatalf("error %d: %s %v", e.GetErrCode(), e.GetErrMsg(), e.GetParamErrs())
	}
	return m
}

func get(t *testing.T, c *service.Controller, paths ...string) map[string]string {
	t.Helper()
	v, err := c.Get(context.Background(), paths...)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func want(t *testing.T, got map[string]string, kv ...string) {
	t.Helper()
	for i := 0; i < len(kv); i += 2 {
		if got[kv[i]] != kv[i+1] {
			t.Errorf("%s = %q, want %q (all: %v)", kv[i], got[kv[i]], kv[i+1], got)
		}
	}
}

// TestBrokerRoutes: one message touching two Services and the Broker's own
// objects is split, proxied and merged, for every request type.
func TestBrokerRoutes(t *testing.T) {
	w := startBroker(t)
	a, _ := startService(t, w, "os::012345-SVCA", "Device.X_USPKIT_A.", true)
	startService(t, w, "os::012345-SVCB", "Device.X_USPKIT_B.", false)
	c := a.Broker()

	want(t, get(t, c, "Device.X_USPKIT_A.", "Device.X_USPKIT_B.Value", "Device.X_TEST_Local.Name"),
		"Device.X_USPKIT_A.Value", "v-os::012345-SVCA", "Device.X_USPKIT_B.Value", "v-os::012345-SVCB", "Device.X_TEST_Local.Name", "local")
	// A search path spanning the Services and the Broker.
	want(t, get(t, c, "Device.*.Value"), "Device.X_USPKIT_A.Value", "v-os::012345-SVCA", "Device.X_USPKIT_B.Value", "v-os::012345-SVCB")

	// Set across both Services and the Broker, allow_partial false.
	set := &wire.Set{UpdateObjs: []*wire.Set_UpdateObject{
		{ObjPath: "Device.X_USPKIT_A.", ParamSettings: []*wire.Set_UpdateParamSetting{{Param: "Value", Value: "a2"}}},
		{ObjPath: "Device.X_TEST_Local.", ParamSettings: []*wire.Set_UpdateParamSetting{{Param: "Name", Value: "l2"}}},
		{ObjPath: "Device.X_USPKIT_B.", ParamSettings: []*wire.Set_UpdateParamSetting{{Param: "Value", Value: "b2"}}},
	}}
	rs := do(t, c, set).GetBody().GetResponse().GetSetResp().GetUpdatedObjResults()
	if len(rs) != 3 || rs[0].GetRequestedPath() != "Device.X_USPKIT_A." || rs[1].GetRequestedPath() != "Device.X_TEST_Local." || rs[2].GetRequestedPath() != "Device.X_USPKIT_B." {
		t.Fatalf("SetResp out of order: %v", rs)
	}
	want(t, get(t, c, "Device.X_USPKIT_A.Value", "Device.X_USPKIT_B.Value", "Device.X_TEST_Local.Name"),
		"Device.X_USPKIT_A.Value", "a2", "Device.X_USPKIT_B.Value", "b2", "Device.X_TEST_Local.Name", "l2")

	// Add in both Services in one message, then GetInstances and Delete.
	add := &wire.Add{CreateObjs: []*wire.Add_CreateObject{
		{ObjPath: "Device.X_USPKIT_A.Item.", ParamSettings: []*wire.Add_CreateParamSetting{{Param: "Name", Value: "x"}}},
		{ObjPath: "Device.X_USPKIT_B.Item.", ParamSettings: []*wire.Add_CreateParamSetting{{Param: "Name", Value: "y"}}},
	}}
	ar := do(t, c, add).GetBody().GetResponse().GetAddResp().GetCreatedObjResults()
	if len(ar) != 2 || ar[0].GetOperStatus().GetOperSuccess().GetInstantiatedPath() != "Device.X_USPKIT_A.Item.1." ||
		ar[1].GetOperStatus().GetOperSuccess().GetInstantiatedPath() != "Device.X_USPKIT_B.Item.1." {
		t.Fatalf("AddResp: %v", ar)
	}
	gi := do(t, c, &wire.GetInstances{ObjPaths: []string{"Device.X_USPKIT_A.Item.", "Device."}}).GetBody().GetResponse().GetGetInstancesResp().GetReqPathResults()
	var insts []string
	for _, ci := range gi[1].GetCurrInsts() {
		insts = append(insts, ci.GetInstantiatedObjPath())
	}
	if len(gi[0].GetCurrInsts()) != 1 || !slices.Contains(insts, "Device.X_USPKIT_B.Item.1.") {
		t.Errorf("GetInstances: %v", gi)
	}
	del := &wire.Delete{ObjPaths: []string{"Device.X_USPKIT_A.Item.1.", "Device.X_USPKIT_B.Item.*."}}
	dr := do(t, c, del).GetBody().GetResponse().GetDeleteResp().GetDeletedObjResults()
	if len(dr) != 2 || len(dr[1].GetOperStatus().GetOperSuccess().GetAffectedPaths()) != 1 {
		t.Errorf("DeleteResp: %v", dr)
	}

	// Operate, with the Controller's msg_id kept.
	om := do(t, c, &wire.Operate{Command: "Device.X_USPKIT_B.Echo()", SendResp: true, InputArgs: map[string]string{"In": "hi"}})
	if out := om.GetBody().GetResponse().GetOperateResp().GetOperationResults()[0].GetReqOutputArgs().GetOutputArgs()["Out"]; out != "os::012345-SVCB:hi" {
		t.Errorf("Echo() output %q", out)
	}

	// GetSupportedDM of Device. lists the Services' objects.
	gs := do(t, c, &wire.GetSupportedDM{ObjPaths: []string{"Device."}, ReturnParams: true}).GetBody().GetResponse().GetGetSupportedDmResp().GetReqObjResults()
	var objs []string
	for _, o := range gs[0].GetSupportedObjs() {
		objs = append(objs, o.GetSupportedObjPath())
	}
	for _, p := range []string{"Device.LocalAgent.", "Device.X_USPKIT_A.", "Device.X_USPKIT_B.Item.{i}."} {
		if !slices.Contains(objs, p) {
			t.Errorf("GetSupportedDM Device. lacks %s: %v", p, objs)
		}
	}

	// Device.USPServices.
	sv := get(t, c, "Device.USPServices.")
	if sv["Device.USPServices.USPServiceNumberOfEntries"] != "2" {
		t.Errorf("USPServices: %v", sv)
	}
	for i, id := range []string{"os::012345-SVCA", "os::012345-SVCB"} {
		var inst string
		for k, v := range sv {
			if v == id {
				inst = k[:len(k)-len("EndpointID")]
			}
		}
		if inst == "" {
			t.Fatalf("no USPService row for %s: %v", id, sv)
		}
		want(t, sv, inst+"HasController", []string{"true", "false"}[i], inst+"Protocol", "UDS",
			inst+"DataModelPaths", []string{"Device.X_USPKIT_A.", "Device.X_USPKIT_B."}[i])
	}
	want(t, get(t, c, "Device.UnixDomainSockets."), "Device.UnixDomainSockets.UnixDomainSocket.1.Path", w.agentSock,
		"Device.UnixDomainSockets.UnixDomainSocket.2.Path", w.ctlSock, "Device.UnixDomainSockets.UnixDomainSocket.2.Mode", "Listen")
}

// TestRegisterConflicts: the errors of Register and Deregister
// [R-REG.0]–[R-REG.2], [R-DEREG.1], [R-DEREG.2], [R-DEREG.4].
func TestRegisterConflicts(t *testing.T) {
	w := startBroker(t)
	startService(t, w, "os::012345-SVCA", "Device.X_USPKIT_A.", false)
	b, _ := startService(t, w, "os::012345-SVCB", "Device.X_USPKIT_B.", false)
	ctx := context.Background()
	reg := func(partial bool, paths ...string) *wire.Msg {
		r := &wire.Register{AllowPartial: partial}
		for _, p := range paths {
			r.RegPaths = append(r.RegPaths, &wire.Register_RegistrationPath{Path: p})
		}
		m, err := b.SendRegister(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	tests := []struct {
		name string
		path string
		code uint32
	}{
		{"another Service's path", "Device.X_USPKIT_A.", usperr.CodeAlreadyInUse},
		{"below another Service's path", "Device.X_USPKIT_A.Sub.", usperr.CodeAlreadyInUse},
		{"a path the Broker owns", "Device.LocalAgent.", usperr.CodeAlreadyInUse},
		{"above the Broker's objects", "Device.UnixDomainSockets.", usperr.CodeAlreadyInUse},
		{"instance number", "Device.X_USPKIT_C.1.", usperr.CodeRegisterFailure},
		{"supported-model notation", "Device.X_USPKIT_C.{i}.", usperr.CodeRegisterFailure},
		{"a parameter", "Device.X_USPKIT_C.Name", usperr.CodeRegisterFailure},
		{"Device. itself", "Device.", usperr.CodeRegisterFailure},
		{"its own path again", "Device.X_USPKIT_B.", usperr.CodeRegisterFailure},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// allow_partial false: an Error, nothing registered [R-REG.1].
			m := reg(false, "Device.X_USPKIT_OK.", tc.path)
			e := m.GetBody().GetError()
			if e == nil || e.GetErrCode() != tc.code {
				t.Fatalf("Register %s: got %v, want Error %d", tc.path, m, tc.code)
			}
			// allow_partial true: a RegisterResp, the good path in [R-REG.0].
			m = reg(true, "Device.X_USPKIT_OK.", tc.path)
			rs := m.GetBody().GetResponse().GetRegisterResp().GetRegisteredPathResults()
			if len(rs) != 2 || rs[0].GetOperStatus().GetOperSuccess().GetRegisteredPath() != "Device.X_USPKIT_OK." ||
				rs[1].GetOperStatus().GetOperFailure().GetErrCode() != tc.code {
				t.Fatalf("Register %s allow_partial: %v", tc.path, m)
			}
			dr, err := b.Deregister(ctx, "Device.X_USPKIT_OK.")
			if err != nil || dr.GetDeregisteredPathResults()[0].GetOperStatus().GetOperSuccess() == nil {
				t.Fatalf("Deregister: %v %v", dr, err)
			}
		})
	}
	dereg := []struct {
		path string
		code uint32
	}{
		{"Device.X_USPKIT_A.", usperr.CodePathAlreadyRegistered}, // [R-DEREG.1]
		{"Device.X_USPKIT_NONE.", usperr.CodeDeregisterFailure},
	}
	for _, tc := range dereg {
		dr, err := b.Deregister(ctx, tc.path) // always a DeregisterResp [R-DEREG.4]
		if err != nil {
			t.Fatal(err)
		}
		if f := dr.GetDeregisteredPathResults()[0].GetOperStatus().GetOperFailure(); f.GetErrCode() != tc.code {
			t.Errorf("Deregister %s: %v, want %d", tc.path, dr, tc.code)
		}
	}
	dr, err := b.Deregister(ctx, "") // [R-DEREG.2]
	if err != nil {
		t.Fatal(err)
	}
	if got := dr.GetDeregisteredPathResults()[0].GetOperStatus().GetOperSuccess().GetDeregisteredPath(); !slices.Equal(got, []string{"Device.X_USPKIT_B."}) {
		t.Errorf("Deregister all: %v", dr)
	}
}

// TestServiceRestart: a Service that goes away loses its paths, a request
// on them fails, the Broker goes on, and the Service registers again.
func TestServiceRestart(t *testing.T) {
	w := startBroker(t)
	a, _ := startService(t, w, "os::012345-SVCA", "Device.X_USPKIT_A.", true)
	_, stopB := startService(t, w, "os::012345-SVCB", "Device.X_USPKIT_B.", false)
	c := a.Broker()
	want(t, get(t, c, "Device.X_USPKIT_B.Value"), "Device.X_USPKIT_B.Value", "v-os::012345-SVCB")
	stopB()
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := c.Get(context.Background(), "Device.X_USPKIT_B.Value")
		if usperr.Code(err) == usperr.CodeInvalidPath {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the Service stopped: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if sv := get(t, c, "Device.USPServices."); sv["Device.USPServices.USPServiceNumberOfEntries"] != "1" {
		t.Errorf("USPServices after the Service stopped: %v", sv)
	}
	startService(t, w, "os::012345-SVCB", "Device.X_USPKIT_B.", false)
	want(t, get(t, c, "Device.X_USPKIT_B.Value"), "Device.X_USPKIT_B.Value", "v-os::012345-SVCB")
}
