package cli_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/uspkit/uspkit/controller"
	"github.com/uspkit/uspkit/internal/testenv"
	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/mtp/mqtt"
	"github.com/uspkit/uspkit/mtp/stomp"
	"github.com/uspkit/uspkit/mtp/uds"
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
	c, err := controller.New(ctx, controller.Options{EndpointID: mtpCtrlID, Store: store.NewMemory(), MTPs: []controller.MTP{{Protocol: protocol, Transport: tr}},
		RequestTimeout: 10 * time.Second, Subscriptions: []controller.Subscription{{ID: "ctl-vc", NotifType: "ValueChange", ReferenceList: "Device.LocalAgent.Controller.1.PeriodicNotifInterval"}}})
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

// TestControllerOverWebSocket: the agent connects to the controller's
// WebSocket server; a request queued while it is away is delivered when
// it comes back.
func TestControllerOverWebSocket(t *testing.T) {
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
	exercise(t, c, "os::012345-WSC1")

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

// TestControllerToAgentWebSocket: the controller connects to the agent's
// WebSocket server.
func TestControllerToAgentWebSocket(t *testing.T) {
	bin := buildUSP(t)
	port := testenv.FreePort(t)
	startAgentProcess(t, bin, "os::012345-WSS1", fmt.Sprintf("  - protocol: WebSocket\n    listen: 127.0.0.1:%d\n", port), "WebSocket", mtpCtrlID)
	c := runController(t, "WebSocket", func(onState mtp.StateFunc) mtp.Transport {
		return ws.NewClient(&ws.Options{URL: fmt.Sprintf("ws://127.0.0.1:%d/", port), EndpointID: mtpCtrlID, OnState: onState, MinWait: 100 * time.Millisecond})
	})
	waitAgent(t, c, "os::012345-WSS1", true)
	exercise(t, c, "os::012345-WSS1")
}

// TestControllerOverSTOMP: agent and controller meet at RabbitMQ.
func TestControllerOverSTOMP(t *testing.T) {
	r := testenv.RabbitMQ(t)
	bin := buildUSP(t)
	ctrlDest := "/queue/usp.ctl." + fmt.Sprint(time.Now().UnixNano())
	c := runController(t, "STOMP", func(onState mtp.StateFunc) mtp.Transport {
		return stomp.NewClient(&stomp.Options{Addr: r.Stomp, Username: "guest", Password: "guest", EndpointID: mtpCtrlID, Destination: ctrlDest,
			OnState: onState, MinWait: 100 * time.Millisecond})
	})
	conf := fmt.Sprintf("  - protocol: STOMP\n    addr: %s\n    username: guest\n    password: guest\n    destination: /queue/usp.agent.stomp1\n", r.Stomp)
	startAgentProcessWith(t, bin, "os::012345-STOMP1", conf, fmt.Sprintf("    - endpoint_id: %s\n      mtps:\n        - protocol: STOMP\n          destination: %s\n", mtpCtrlID, ctrlDest))
	waitAgent(t, c, "os::012345-STOMP1", true)
	exercise(t, c, "os::012345-STOMP1")
}

// TestControllerOverMQTT: agent and controller meet at mosquitto, over
// MQTT 5 and 3.1.1.
func TestControllerOverMQTT(t *testing.T) {
	bin := buildUSP(t)
	for _, v := range []string{"5", "3.1.1"} {
		t.Run(v, func(t *testing.T) {
			addr := testenv.Mosquitto(t)
			version := mqtt.V5
			if v == "3.1.1" {
				version = mqtt.V311
			}
			const ctlTopic = "usp/controller/mtp-test"
			c := runController(t, "MQTT", func(onState mtp.StateFunc) mtp.Transport {
				return mqtt.NewClient(&mqtt.Options{URL: "tcp://" + addr, Version: version, EndpointID: mtpCtrlID, Topic: ctlTopic, OnState: onState,
					MinWait: 100 * time.Millisecond})
			})
			id := "os::012345-MQ" + strings.ReplaceAll(v, ".", "")
			startAgentProcessWith(t, bin, id,
				fmt.Sprintf("  - protocol: MQTT\n    url: tcp://%s\n    topic: usp/agent/%s\n    mqtt_version: \"%s\"\n", addr, id, v),
				fmt.Sprintf("    - endpoint_id: %s\n      mtps:\n        - protocol: MQTT\n          topic: %s\n", mtpCtrlID, ctlTopic))
			waitAgent(t, c, id, true)
			exercise(t, c, id)
		})
	}
}

// TestControllerOverUDS: the controller serves a Unix domain socket that
// the agent connects to.
func TestControllerOverUDS(t *testing.T) {
	bin := buildUSP(t)
	sock := filepath.Join(t.TempDir(), "controller.sock")
	c := runController(t, "UDS", func(onState mtp.StateFunc) mtp.Transport {
		return uds.NewServer(&uds.Options{Path: sock, EndpointID: mtpCtrlID, OnState: onState})
	})
	startAgentProcess(t, bin, "os::012345-UDS1", fmt.Sprintf("  - protocol: UDS\n    socket: %s\n", sock), "UDS", mtpCtrlID)
	waitAgent(t, c, "os::012345-UDS1", true)
	exercise(t, c, "os::012345-UDS1")
}
