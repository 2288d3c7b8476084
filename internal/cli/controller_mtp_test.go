package cli_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/uspkit/uspkit/controller"
	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/mtp/ws"
	"github.com/uspkit/uspkit/store"
	"github.com/uspkit/uspkit/wire"
)

const mtpCtrlID = "proto::mtp-controller"

// runController runs a Controller over one transport until the test ends.
func runController(t *testing.T, protocol string, mk func(onState mtp.StateFunc) mtp.Transport) *controller.Controller {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var c *controller.Controller
	tr := mk(func(ctx context.Context, p mtp.Peer, s mtp.State, err error) {
		if c != nil {
			c.OnState(protocol)(ctx, p, s, err)
		}
	})
	c, err := controller.New(ctx, controller.Options{EndpointID: mtpCtrlID, Store: store.NewMemory(), MTPs: []controller.MTP{{Protocol: protocol, Transport: tr, Identity: controller.IdentityClaimed}},
		// Over plain WebSocket these agents carry no credential: a lab.
		Admission: controller.AdmitAll, RequestTimeout: 10 * time.Second, Subscriptions: []controller.Subscription{{ID: "ctl-vc", NotifType: "ValueChange", ReferenceList: "Device.LocalAgent.Controller.1.PeriodicNotifInterval"}}})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return c
}

func waitAgent(t *testing.T, c *controller.Controller, id string, online bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if a, ok := c.Agent(id); ok && a.Online == online && (!online || len(a.Supported) > 0) {
			return
		}
	}
	t.Fatalf("agent %s not online=%v", id, online)
}

// exercise checks a Get, a Notify stored and acknowledged end to end
// (through the subscription the Controller created), and an error path.
func exercise(t *testing.T, c *controller.Controller, agentID string) {
	t.Helper()
	ctx := context.Background()
	m, err := c.Do(ctx, agentID, &wire.Request{ReqType: &wire.Request_Get{Get: &wire.Get{ParamPaths: []string{"Device.LocalAgent.EndpointID", "Device.Nope."}}}})
	if err != nil {
		t.Fatal(err)
	}
	rp := m.GetBody().GetResponse().GetGetResp().GetReqPathResults()
	if len(rp) != 2 || rp[0].GetResolvedPathResults()[0].GetResultParams()["EndpointID"] != agentID || rp[1].GetErrCode() != 7026 {
		t.Fatalf("get: %v", m)
	}
	// The controller created its subscription on first contact; wait for it.
	for range 100 {
		m, _ = c.Do(ctx, agentID, &wire.Request{ReqType: &wire.Request_Get{Get: &wire.Get{ParamPaths: []string{"Device.LocalAgent.Subscription.*.ID"}}}})
		if strings.Contains(m.String(), "ctl-vc") {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	events, stop := c.Subscribe()
	defer stop()
	set := &wire.Request{ReqType: &wire.Request_Set{Set: &wire.Set{UpdateObjs: []*wire.Set_UpdateObject{{ObjPath: "Device.LocalAgent.Controller.1.",
		ParamSettings: []*wire.Set_UpdateParamSetting{{Param: "PeriodicNotifInterval", Value: fmt.Sprint(time.Now().UnixNano() % 100000), Required: true}}}}}}}
	if m, err := c.Do(ctx, agentID, set); err != nil || m.GetBody().GetResponse().GetSetResp() == nil {
		t.Fatalf("set: %v %v", m, err)
	}
	deadline := time.After(10 * time.Second)
	for {
		select {
		case e := <-events:
			if e.Kind == "notify" && strings.Contains(string(e.Msg), "PeriodicNotifInterval") {
				// NotifRetry was asked for: a second copy would come if the
				// NotifyResp had not reached the agent.
				select {
				case e2 := <-events:
					if e2.Kind == "notify" && e2.MsgID == e.MsgID {
						t.Errorf("notify resent: not acknowledged")
					}
				case <-time.After(1500 * time.Millisecond):
				}
				return
			}
		case <-deadline:
			t.Fatal("no ValueChange notify stored")
		}
	}
}

// TestControllerQueuesForAgentAway: the agent connects to the
// controller's WebSocket server; a request queued while it is away is
// delivered when it comes back. (TestControllerEachMTP covers the
// exchanges themselves over every MTP.)
func TestControllerQueuesForAgentAway(t *testing.T) {
	bin := buildUSP(t)
	var srv *ws.Server
	c := runController(t, "WebSocket", func(onState mtp.StateFunc) mtp.Transport {
		var err error
		srv, err = ws.Listen(context.Background(), "127.0.0.1:0", &ws.Options{EndpointID: mtpCtrlID, OnState: onState})
		if err != nil {
			t.Fatal(err)
		}
		return srv
	})
	url := "ws://" + srv.Addr().String() + "/usp"
	stop := startAgentProcessStoppable(t, bin, "os::012345-WSC1", fmt.Sprintf("  - protocol: WebSocket\n    url: %s\n", url), "WebSocket", mtpCtrlID)
	waitAgent(t, c, "os::012345-WSC1", true)

	restart := stop()
	waitAgent(t, c, "os::012345-WSC1", false)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	set := &wire.Request{ReqType: &wire.Request_Set{Set: &wire.Set{UpdateObjs: []*wire.Set_UpdateObject{{ObjPath: "Device.LocalAgent.Controller.1.",
		ParamSettings: []*wire.Set_UpdateParamSetting{{Param: "ProvisioningCode", Value: "queued", Required: true}}}}}}}
	if _, err := c.Do(ctx, "os::012345-WSC1", set); err == nil || !strings.Contains(err.Error(), "queued") {
		t.Fatalf("offline request: %v", err)
	}
	restart()
	waitAgent(t, c, "os::012345-WSC1", true)
	for range 100 {
		m, err := c.Do(context.Background(), "os::012345-WSC1", &wire.Request{ReqType: &wire.Request_Get{Get: &wire.Get{ParamPaths: []string{"Device.LocalAgent.Controller.1.ProvisioningCode"}}}})
		if err == nil && strings.Contains(m.String(), `"queued"`) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("the queued Set was not delivered")
}
