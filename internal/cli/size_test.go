package cli_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/uspkit/uspkit/broker"
	"github.com/uspkit/uspkit/controller"
	"github.com/uspkit/uspkit/internal/testenv"
	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/usperr"
	"github.com/uspkit/uspkit/wire"
)

// tableRows is the size of the table of TestLargeTable: with the
// parameters of a Device.LocalAgent.Subscription row, its Get response is
// several hundred kilobytes, far over the 64 KiB MTPs used to carry.
const tableRows = 1000

// startPairMax is startPair with the agent's record limit (its
// mtps[].max_record) set to max; 0 keeps the default.
func startPairMax(t *testing.T, bin string, m testenv.MTP, max int) (*controller.Controller, mtpEnds) {
	t.Helper()
	e := newMTPEnds(m, mtpCtrlID)
	c := runController(t, m.Protocol, func(onState mtp.StateFunc) mtp.Transport {
		return controllerTransport(t, m, e, onState, ctrlRetry())
	})
	mtps, ctrls := agentMTPYAML(m, e)
	if max > 0 {
		mtps += fmt.Sprintf("    max_record: %d\n", max)
	}
	if testing.Verbose() {
		startAgentProcessLogged(t, bin, e.agentID, mtps, ctrls, "info", os.Stderr)
	} else {
		startAgentProcessWith(t, bin, e.agentID, mtps, ctrls)
	}
	waitAgent(t, c, e.agentID, true)
	return c, e
}

// addRows adds n Device.LocalAgent.Subscription rows in one Add.
func addRows(t *testing.T, c *controller.Controller, agentID string, n int) {
	t.Helper()
	add := &wire.Add{}
	for i := range n {
		add.CreateObjs = append(add.CreateObjs, &wire.Add_CreateObject{ObjPath: "Device.LocalAgent.Subscription.", ParamSettings: []*wire.Add_CreateParamSetting{
			{Param: "ID", Value: fmt.Sprintf("large-table-%04d", i), Required: true},
			{Param: "NotifType", Value: "ValueChange", Required: true},
			{Param: "ReferenceList", Value: "Device.LocalAgent.SoftwareVersion", Required: true},
			{Param: "Enable", Value: "false", Required: true}}})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	m, err := c.Do(ctx, agentID, &wire.Request{ReqType: &wire.Request_Add{Add: add}})
	if err != nil {
		t.Fatalf("add %d rows: %v", n, err)
	}
	if got := len(m.GetBody().GetResponse().GetAddResp().GetCreatedObjResults()); got != n {
		t.Fatalf("add %d rows: %d results: %.500v", n, got, m)
	}
}

// getTable reads the Subscription table and returns the answer and its
// size.
func getTable(t *testing.T, c *controller.Controller, agentID string) (*wire.Msg, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	m, err := c.Do(ctx, agentID, &wire.Request{ReqType: &wire.Request_Get{Get: &wire.Get{ParamPaths: []string{"Device.LocalAgent.Subscription."}}}})
	if err != nil {
		t.Fatalf("get of the table: %v", err)
	}
	return m, proto.Size(m)
}

// TestLargeTable checks that a Get of a 1,000-row table, a response of
// several hundred kilobytes, is answered in full over MQTT 5.0 and 3.1.1
// (mosquitto) and STOMP (RabbitMQ): the MTPs carry 5 MiB Records by
// default.
func TestLargeTable(t *testing.T) {
	bin := buildUSP(t)
	testenv.EachMTP(t, func(t *testing.T, m testenv.MTP) {
		c, e := startPairMax(t, bin, m, 0)
		addRows(t, c, e.agentID, tableRows)
		start := time.Now()
		r, size := getTable(t, c, e.agentID)
		rows := len(r.GetBody().GetResponse().GetGetResp().GetReqPathResults()[0].GetResolvedPathResults())
		if rows < tableRows || size < 256<<10 {
			t.Fatalf("Get of the table: %d rows, %d bytes; want at least %d rows over 256 KiB: %.300v", rows, size, tableRows, r)
		}
		t.Logf("%s: Get of %d rows answered in full, %d bytes, in %v", m.Name, rows, size, time.Since(start).Round(time.Millisecond))
	}, "MQTT5", "MQTT311", "STOMP")
}

// TestOverLimitAnswers runs `usp agent` with a 64 KiB record limit
// (mtps[].max_record) and checks that what does not fit is still
// answered [R-MSG.0]: a Get whose response is over the limit gets an
// Error 7005, a Set with a 50,000-character value gets a small Error, and
// the agent stays online and answers what fits.
func TestOverLimitAnswers(t *testing.T) {
	const max = 64 << 10
	bin := buildUSP(t)
	testenv.EachMTP(t, func(t *testing.T, m testenv.MTP) {
		c, e := startPairMax(t, bin, m, max)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		paths := make([]string, 1500)
		for i := range paths {
			paths[i] = fmt.Sprintf("Device.LocalAgent.Controller.1.X_Nope%d", i)
		}
		get := &wire.Request{ReqType: &wire.Request_Get{Get: &wire.Get{ParamPaths: paths}}}
		set := &wire.Request{ReqType: &wire.Request_Set{Set: &wire.Set{UpdateObjs: []*wire.Set_UpdateObject{{ObjPath: "Device.LocalAgent.Controller.1.",
			ParamSettings: []*wire.Set_UpdateParamSetting{{Param: "PeriodicNotifInterval", Value: strings.Repeat("9", 50000), Required: true}}}}}}}
		tests := []struct {
			name string
			req  *wire.Request
			code func(uint32) bool
		}{
			{"Get1500Paths", get, func(c uint32) bool { return c == usperr.CodeResourcesExceeded }},
			{"Set50000Chars", set, func(c uint32) bool { return c >= 7000 }},
		}
		for _, tc := range tests {
			r, err := c.Do(ctx, e.agentID, tc.req)
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			er := r.GetBody().GetError()
			if er == nil || !tc.code(er.GetErrCode()) || proto.Size(r) > 4096 {
				t.Fatalf("%s: answer of %d bytes, want a small Error: %.300v", tc.name, proto.Size(r), r)
			}
			t.Logf("%s: %s: Error %d (%d bytes) %.120q", m.Name, tc.name, er.GetErrCode(), proto.Size(r), er.GetErrMsg())
		}
		r, err := c.Do(ctx, e.agentID, &wire.Request{ReqType: &wire.Request_Get{Get: &wire.Get{ParamPaths: []string{"Device.LocalAgent.EndpointID"}}}})
		if err != nil || r.GetBody().GetResponse().GetGetResp() == nil {
			t.Fatalf("Get after the refusals: %v %v", r, err)
		}
	}, "MQTT5", "MQTT311", "STOMP", "WebSocket", "UDS")
}

// TestEmbeddedBrokerLimits checks the embedded broker with its default
// Maximum Packet Size: a 1,000-row table is answered in full; and with a
// smaller one, that the Controller refuses a request over it at once
// (controller.ErrTooLarge, nothing queued, the agent online) and that the
// agent answers a response over it with an Error 7005.
func TestEmbeddedBrokerLimits(t *testing.T) {
	bin := buildUSP(t)
	for _, tc := range []struct {
		name      string
		maxPacket uint32
	}{
		{"Default", 0},
		{"Small", 128 << 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			brk, err := broker.New(&broker.Options{Addr: "127.0.0.1:0", AllowAnonymous: true, MaxPacketSize: tc.maxPacket})
			if err != nil {
				t.Fatal(err)
			}
			if err := brk.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { brk.Close() })
			m := testenv.MTP{Name: "Embedded" + tc.name, Protocol: "MQTT", URL: "tcp://" + brk.Addrs().TCP, MQTTVersion: "5"}
			c, e := startPairMax(t, bin, m, 0)
			rows := tableRows
			if tc.maxPacket != 0 {
				rows = 500 // an Add under the broker's limit whose Get is over it
			}
			addRows(t, c, e.agentID, rows)
			r, size := getTable(t, c, e.agentID)
			if tc.maxPacket == 0 {
				if rows := len(r.GetBody().GetResponse().GetGetResp().GetReqPathResults()[0].GetResolvedPathResults()); rows < tableRows {
					t.Fatalf("Get of the table: %d rows, %d bytes: %.300v", rows, size, r)
				}
				t.Logf("Get of %d rows answered in full through the embedded broker, %d bytes", tableRows, size)
				return
			}
			if r.GetBody().GetError().GetErrCode() != usperr.CodeResourcesExceeded {
				t.Fatalf("Get over the broker's %d bytes: %.300v, want Error 7005", tc.maxPacket, r)
			}
			set := &wire.Request{ReqType: &wire.Request_Set{Set: &wire.Set{UpdateObjs: []*wire.Set_UpdateObject{{ObjPath: "Device.LocalAgent.Controller.1.",
				ParamSettings: []*wire.Set_UpdateParamSetting{{Param: "PeriodicNotifInterval", Value: strings.Repeat("9", 200000), Required: true}}}}}}}
			start := time.Now()
			_, err = c.Do(context.Background(), e.agentID, set)
			var tl *controller.TooLargeError
			if !errors.Is(err, controller.ErrTooLarge) || !errors.As(err, &tl) || time.Since(start) > 2*time.Second {
				t.Fatalf("Set of 200,000 characters over the broker's %d bytes: %v after %v, want ErrTooLarge at once", tc.maxPacket, err, time.Since(start))
			}
			if a, _ := c.Agent(e.agentID); !a.Online || c.Stats().Queued != 0 {
				t.Fatalf("after the refusal: online %v, %d queued", a.Online, c.Stats().Queued)
			}
			t.Logf("refused: %v", err)
		})
	}
}
