package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/uspkit/uspkit/agent"
	"github.com/uspkit/uspkit/controller"
	"github.com/uspkit/uspkit/controller/api"
	"github.com/uspkit/uspkit/datamodel"
	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/mtp/uds"
	"github.com/uspkit/uspkit/schema"
)

// udsRig runs a Controller serving a Unix domain socket whose Records are
// at most max bytes, an Agent connected to it, and the API in front.
func udsRig(t *testing.T, max int) (*httptest.Server, *controller.Controller) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	sock := filepath.Join(t.TempDir(), "usp.sock")
	var c *controller.Controller
	srv := uds.NewServer(&uds.Options{Path: sock, EndpointID: ctrlID, MaxRecord: max,
		OnState: func(ctx context.Context, p mtp.Peer, s mtp.State, err error) { c.OnState("UDS")(ctx, p, s, err) }})
	c, err := controller.New(ctx, controller.Options{EndpointID: ctrlID, MTPs: []controller.MTP{{Protocol: "UDS", Transport: srv}}, RequestTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	m := schema.New()
	agent.Define(m)
	var a *agent.Agent
	cl := uds.NewClient(&uds.Options{Path: sock, EndpointID: agentID, MaxRecord: max,
		OnState: func(ctx context.Context, p mtp.Peer, s mtp.State, err error) { a.OnState("UDS")(ctx, p, s, err) }})
	a, err = agent.New(ctx, agent.Options{EndpointID: agentID, Mux: datamodel.NewMux(m), SoftwareVersion: "t",
		MTPs:    []agent.MTP{{Protocol: "UDS", Transport: cl}},
		Factory: &agent.Config{Controllers: []agent.ControllerConfig{{EndpointID: ctrlID, MTPs: []agent.ControllerMTPConf{{Protocol: "UDS"}}}}}})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{}, 2)
	go func() { c.Run(ctx); done <- struct{}{} }()
	go func() { a.Run(ctx); done <- struct{}{} }()
	hs := httptest.NewServer(api.New(api.Options{Controller: c, Tokens: api.NewTokens(map[string]api.Role{admin: api.Admin, oper: api.Operator, viewer: api.Viewer})}))
	t.Cleanup(func() { hs.Close(); cancel(); <-done; <-done })
	for range 500 {
		if ag, ok := c.Agent(agentID); ok && ag.Online {
			return hs, c
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("the agent did not connect")
	return nil, nil
}

// TestRequestTooLarge checks that a request larger than the Agent's MTP
// carries is refused at once with 413 and a clear message: nothing is
// queued, the Agent stays online and answers the next request; and that
// the Agent answers a request whose response would be over the limit
// with an Error 7005 [R-MSG.0], which the API passes on as 422.
func TestRequestTooLarge(t *testing.T) {
	const max = 4096
	hs, c := udsRig(t, max)
	long := strings.Repeat("x", 50000)
	body, _ := json.Marshal(api.SetBody{Objects: []api.ObjectBody{{Path: "Device.LocalAgent.Controller.1.", Params: map[string]string{"PeriodicNotifInterval": long}}}})
	start := time.Now()
	code, resp := call(t, hs, admin, "POST", "/api/v1/agents/"+agentID+"/set", string(body))
	if code != http.StatusRequestEntityTooLarge || !strings.Contains(string(resp), "bytes") {
		t.Fatalf("Set of 50,000 characters over a %d-byte MTP: %d %s, want 413 with the sizes", max, code, resp)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("413 took %v, want at once", d)
	}
	t.Logf("413: %s", resp)
	if s := c.Stats(); s.Queued != 0 {
		t.Errorf("%d requests queued, want none", s.Queued)
	}
	if ag, _ := c.Agent(agentID); !ag.Online {
		t.Error("the agent is offline after a refused request")
	}
	// A response over the limit: the Agent's Error 7005.
	paths := make([]string, 40)
	for i := range paths {
		paths[i] = "Device.LocalAgent."
	}
	body, _ = json.Marshal(api.GetBody{Paths: paths})
	code, resp = call(t, hs, oper, "POST", "/api/v1/agents/"+agentID+"/get", string(body))
	if code != http.StatusUnprocessableEntity || !strings.Contains(string(resp), "7005") {
		t.Fatalf("Get whose response is over the MTP's limit: %d %s, want 422 with Error 7005", code, resp)
	}
	// What fits still works.
	code, resp = call(t, hs, oper, "POST", "/api/v1/agents/"+agentID+"/get", `{"paths":["Device.LocalAgent.EndpointID"]}`)
	if code != http.StatusOK || !strings.Contains(string(resp), agentID) {
		t.Fatalf("Get after the refusals: %d %s", code, resp)
	}
	// A body larger than the API takes is 413 too.
	code, resp = call(t, hs, oper, "POST", "/api/v1/agents/"+agentID+"/get", fmt.Sprintf(`{"paths":[%q]}`, strings.Repeat("y", 9<<20)))
	if code != http.StatusRequestEntityTooLarge {
		t.Fatalf("body of 9 MiB: %d %s, want 413", code, resp)
	}
}
