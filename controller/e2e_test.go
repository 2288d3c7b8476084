package controller_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/uspkit/uspkit/agent"
	"github.com/uspkit/uspkit/controller"
	"github.com/uspkit/uspkit/datamodel"
	"github.com/uspkit/uspkit/e2e"
	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/mtp/ws"
	"github.com/uspkit/uspkit/record"
	"github.com/uspkit/uspkit/schema"
	"github.com/uspkit/uspkit/store"
	"github.com/uspkit/uspkit/tr181/deviceinfo"
	"github.com/uspkit/uspkit/wire"
)

// startAgentMode runs an Agent over WebSocket whose Controller row has the
// given E2ESession.SessionMode.
func startAgentMode(t *testing.T, url, mode string) {
	t.Helper()
	m := schema.New()
	agent.Define(m)
	deviceinfo.Define(m)
	mux := datamodel.NewMux(m)
	deviceinfo.Register(mux, deviceinfo.Info{Manufacturer: "uspkit", ManufacturerOUI: "00D09E", ModelName: "m", SerialNumber: "S1", SoftwareVersion: "1"})
	var a *agent.Agent
	var mu sync.Mutex
	cli := ws.NewClient(&ws.Options{URL: url, EndpointID: agentID, MinWait: 100 * time.Millisecond, OnState: func(ctx context.Context, p mtp.Peer, s mtp.State, err error) {
		mu.Lock()
		x := a
		mu.Unlock()
		if x != nil {
			x.OnState("WebSocket")(ctx, p, s, err)
		}
	}})
	var err error
	mu.Lock()
	a, err = agent.New(context.Background(), agent.Options{EndpointID: agentID, Mux: mux, Store: store.NewMemory(),
		MTPs: []agent.MTP{{Protocol: "WebSocket", Transport: cli, Connect: func(to string) *record.Record { return record.NewWebSocketConnect(to, agentID) }}},
		Factory: &agent.Config{Controllers: []agent.ControllerConfig{{EndpointID: ctrlID, SessionMode: mode,
			MTPs: []agent.ControllerMTPConf{{Protocol: "WebSocket"}}}}}})
	mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

func paramsOf(m *wire.Msg) map[string]string {
	out := map[string]string{}
	for _, rp := range m.GetBody().GetResponse().GetGetResp().GetReqPathResults() {
		for _, res := range rp.GetResolvedPathResults() {
			for k, v := range res.GetResultParams() {
				out[res.GetResolvedPath()+k] = v
			}
		}
	}
	return out
}

// TestSessionsRequire: a Controller that requires E2E sessions talks to an
// Agent that allows them: requests and answers travel in one session, and
// once the Agent's MaxUSPRecordSize is 512 its answers come segmented and
// are put back together.
func TestSessionsRequire(t *testing.T) {
	r := startControllerWith(t, nil, controller.Options{Sessions: controller.SessionSettings{Policy: controller.SessionsRequire, Config: e2e.Config{MaxRecordSize: 1024}}})
	startAgentMode(t, r.url, "Allow")
	waitOnline(t, r.c, true)
	ctx := context.Background()
	resp, err := r.c.Do(ctx, agentID, get("Device.LocalAgent.Controller.1.E2ESession.Status"))
	if err != nil {
		t.Fatal(err)
	}
	if got := paramsOf(resp)["Device.LocalAgent.Controller.1.E2ESession.Status"]; got != "Up" {
		t.Fatalf("E2ESession.Status %q, want Up", got)
	}
	if _, up := r.c.Sessions(agentID); !up {
		t.Fatal("no session established on the Controller's side")
	}
	set := &wire.Request{ReqType: &wire.Request_Set{Set: &wire.Set{UpdateObjs: []*wire.Set_UpdateObject{{ObjPath: "Device.LocalAgent.Controller.1.E2ESession.",
		ParamSettings: []*wire.Set_UpdateParamSetting{{Param: "MaxUSPRecordSize", Value: "512", Required: true}}}}}}}
	if resp, err := r.c.Do(ctx, agentID, set); err != nil || resp.GetBody().GetResponse().GetSetResp() == nil {
		t.Fatalf("Set: %v %v", resp, err)
	}
	resp, err = r.c.Do(ctx, agentID, get("Device.LocalAgent.", "Device.DeviceInfo."))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(paramsOf(resp)); n < 40 {
		t.Fatalf("segmented GetResp carried %d parameters", n)
	}
}

// TestSessionsPreferFallsBack: a Controller that prefers sessions meets an
// Agent that forbids them; the Agent's 7106 Disconnect makes the
// Controller go on without a session, send the request again, and keep
// the Agent online.
func TestSessionsPreferFallsBack(t *testing.T) {
	r := startControllerWith(t, nil, controller.Options{Sessions: controller.SessionSettings{Policy: controller.SessionsPrefer}})
	startAgentMode(t, r.url, "Forbid")
	waitOnline(t, r.c, true)
	resp, err := r.c.Do(context.Background(), agentID, get("Device.LocalAgent.EndpointID"))
	if err != nil {
		t.Fatal(err)
	}
	if got := paramsOf(resp)["Device.LocalAgent.EndpointID"]; got != agentID {
		t.Fatalf("EndpointID %q", got)
	}
	if _, up := r.c.Sessions(agentID); up {
		t.Fatal("a session is still in use after the Agent refused it")
	}
	if a, _ := r.c.Agent(agentID); !a.Online {
		t.Fatal("the Agent went offline on a 7106 Disconnect")
	}
}

// TestSessionsPerAgent: SetSessions overrides Options.Sessions for one
// Agent.
func TestSessionsPerAgent(t *testing.T) {
	r := startController(t, nil)
	startAgentMode(t, r.url, "Allow")
	waitOnline(t, r.c, true)
	ctx := context.Background()
	if _, err := r.c.Do(ctx, agentID, get("Device.LocalAgent.EndpointID")); err != nil {
		t.Fatal(err)
	}
	if _, up := r.c.Sessions(agentID); up {
		t.Fatal("a session with the default policy (off)")
	}
	r.c.SetSessions(agentID, controller.SessionSettings{Policy: controller.SessionsRequire})
	if _, err := r.c.Do(ctx, agentID, get("Device.LocalAgent.EndpointID")); err != nil {
		t.Fatal(err)
	}
	if s, up := r.c.Sessions(agentID); !up || s.Policy != controller.SessionsRequire {
		t.Fatalf("policy %v, session %v", s.Policy, up)
	}
}
