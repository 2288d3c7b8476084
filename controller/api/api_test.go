package api_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/uspkit/uspkit/agent"
	"github.com/uspkit/uspkit/controller"
	"github.com/uspkit/uspkit/controller/api"
	"github.com/uspkit/uspkit/datamodel"
	"github.com/uspkit/uspkit/internal/testenv"
	"github.com/uspkit/uspkit/mtp/mtptest"
	"github.com/uspkit/uspkit/record"
	"github.com/uspkit/uspkit/schema"
)

func TestMain(m *testing.M) { testenv.Main(m) }

const (
	ctrlID  = "proto::api-controller"
	agentID = "os::012345-APITEST"
	admin   = "admin-token-0123456789"
	oper    = "operator-token-0123456789"
	viewer  = "viewer-token-0123456789"
)

// rig runs a Controller and an Agent joined by a pipe, behind the API.
func rig(t *testing.T) *httptest.Server { return rigWith(t, controller.AdmitVerified) }

// rigWith is rig under an admission policy.
func rigWith(t *testing.T, admission controller.Admission) *httptest.Server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ctrlEnd, agentEnd := mtptest.NewPipe(ctrlID, agentID, nil)
	c, err := controller.New(ctx, controller.Options{EndpointID: ctrlID, MTPs: []controller.MTP{{Protocol: "UDS", Transport: ctrlEnd}}, RequestTimeout: 5 * time.Second, Admission: admission})
	if err != nil {
		t.Fatal(err)
	}
	m := schema.New()
	agent.Define(m)
	a, err := agent.New(ctx, agent.Options{EndpointID: agentID, Mux: datamodel.NewMux(m), SoftwareVersion: "t",
		MTPs:    []agent.MTP{{Protocol: "UDS", Transport: agentEnd}},
		Factory: &agent.Config{Controllers: []agent.ControllerConfig{{EndpointID: ctrlID, MTPs: []agent.ControllerMTPConf{{Protocol: "UDS"}}}}}})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{}, 2)
	go func() { c.Run(ctx); done <- struct{}{} }()
	go func() { a.Run(ctx); done <- struct{}{} }()
	srv := httptest.NewServer(api.New(api.Options{Controller: c, Tokens: api.NewTokens(map[string]api.Role{admin: api.Admin, oper: api.Operator, viewer: api.Viewer})}))
	t.Cleanup(func() { srv.Close(); cancel(); <-done; <-done })
	// Over a pipe the Agent sends no connect record: send one on its
	// behalf so that the Controller knows it.
	rec, _ := record.NewWebSocketConnect(ctrlID, agentID).MarshalBinary()
	agentEnd.Send(ctx, ctrlID, rec)
	for range 100 {
		if _, ok := c.Agent(agentID); ok {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	return srv
}

func call(t *testing.T, srv *httptest.Server, token, method, path, body string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func TestAuth(t *testing.T) {
	srv := rig(t)
	for _, c := range []struct {
		token, method, path, body string
		want                      int
	}{
		{"", "GET", "/healthz", "", 200},
		{"", "GET", "/api/v1/agents", "", 401},
		{"wrong-token-0123456789", "GET", "/api/v1/agents", "", 401},
		{"", "GET", "/metrics", "", 401},
		{viewer, "GET", "/api/v1/agents", "", 200},
		{viewer, "POST", "/api/v1/agents/" + agentID + "/get", `{"paths":["Device.LocalAgent.EndpointID"]}`, 200},
		{viewer, "POST", "/api/v1/agents/" + agentID + "/set", `{"objects":[{"path":"Device.DeviceInfo.","params":{"FriendlyName":"x"}}]}`, 403},
		{oper, "POST", "/api/v1/agents/" + agentID + "/get", `{"paths":["Device.LocalAgent.EndpointID"]}`, 200},
		{oper, "DELETE", "/api/v1/agents/" + agentID, "", 403},
		{oper, "POST", "/api/v1/agents/" + agentID + "/get", `{"pathz":["x"]}`, 400},
		{oper, "POST", "/api/v1/agents/os::012345-NOBODY/get", `{"paths":["Device."]}`, 404},
	} {
		if got, body := call(t, srv, c.token, c.method, c.path, c.body); got != c.want {
			t.Errorf("%s %s as %q: %d, want %d (%s)", c.method, c.path, c.token, got, c.want, body)
		}
	}
}

func TestUSPRequests(t *testing.T) {
	srv := rig(t)
	code, body := call(t, srv, oper, "POST", "/api/v1/agents/"+agentID+"/get", `{"paths":["Device.LocalAgent.EndpointID","Device.Nope."]}`)
	if code != 200 || !strings.Contains(string(body), agentID) || !strings.Contains(string(body), "7026") {
		t.Errorf("get: %d %s", code, body)
	}
	code, body = call(t, srv, admin, "POST", "/api/v1/agents/"+agentID+"/set",
		`{"objects":[{"path":"Device.LocalAgent.Controller.1.","params":{"PeriodicNotifInterval":"0"}}]}`)
	var e struct {
		Code    uint32 `json:"code"`
		Message string `json:"message"`
	}
	json.Unmarshal(body, &e)
	if code != 422 || e.Code != 7012 || e.Message == "" {
		t.Errorf("set error: %d %s", code, body)
	}
	code, body = call(t, srv, oper, "POST", "/api/v1/agents/"+agentID+"/add",
		`{"objects":[{"path":"Device.LocalAgent.Subscription.","params":{"NotifType":"Event","ReferenceList":"Device.Boot!"}}]}`)
	if code != 200 || !strings.Contains(string(body), "Device.LocalAgent.Subscription.1.") {
		t.Errorf("add: %d %s", code, body)
	}
	code, body = call(t, srv, oper, "POST", "/api/v1/agents/"+agentID+"/msg",
		`{"header":{"msgId":"x","msgType":"GET"},"body":{"request":{"get":{"paramPaths":["Device.LocalAgent.SoftwareVersion"]}}}}`)
	if code != 200 || !strings.Contains(string(body), `"SoftwareVersion"`) {
		t.Errorf("raw msg: %d %s", code, body)
	}
	for _, ep := range []string{"instances", "supported", "protocol", "operate", "delete"} {
		b := map[string]string{"instances": `{"paths":["Device.LocalAgent."]}`, "supported": `{"paths":["Device.LocalAgent."],"params":true}`,
			"protocol": "", "operate": `{"command":"Device.LocalAgent.Controller.1.SendOnBoardRequest()"}`, "delete": `{"paths":["Device.LocalAgent.Subscription.1."]}`}[ep]
		tok := oper
		if ep == "operate" { // a command under Device.LocalAgent.Controller. (DefaultPolicy)
			tok = admin
		}
		if code, body := call(t, srv, tok, "POST", "/api/v1/agents/"+agentID+"/"+ep, b); code != 200 {
			t.Errorf("%s: %d %s", ep, code, body)
		}
	}
	code, body = call(t, srv, viewer, "GET", "/api/v1/agents?online=true&limit=1", "")
	if code != 200 || !strings.Contains(string(body), `"total": 1`) {
		t.Errorf("agents: %d %s", code, body)
	}
	code, body = call(t, srv, viewer, "GET", "/metrics", "")
	if code != 200 || !strings.Contains(string(body), "usp_agents_online 1") || !strings.Contains(string(body), "usp_request_duration_seconds_count") {
		t.Errorf("metrics: %d %s", code, body)
	}
}

// TestOpenAPIMatchesHandlers: every operation of the document is served
// (no 404 or 405), and the document lists every route the server has.
func TestOpenAPIMatchesHandlers(t *testing.T) {
	srv := rig(t)
	code, body := call(t, srv, viewer, "GET", "/api/v1/openapi.json", "")
	if code != 200 {
		t.Fatal(code)
	}
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(body, &doc); err != nil || doc.OpenAPI == "" {
		t.Fatal(err)
	}
	n := 0
	for path, ops := range doc.Paths {
		for method := range ops {
			n++
			p := strings.ReplaceAll(path, "{id}", agentID)
			if strings.HasSuffix(p, "/stream") {
				continue // streams forever
			}
			b := ""
			if method == "post" {
				b = `{"paths":["Device.LocalAgent.EndpointID"]}`
			}
			code, _ := call(t, srv, admin, strings.ToUpper(method), p, b)
			if code == 404 && !strings.Contains(path, "{id}") || code == 405 {
				t.Errorf("%s %s: %d", method, path, code)
			}
		}
	}
	if n < 17 {
		t.Errorf("only %d operations documented", n)
	}
	// An undocumented path is not served.
	if code, _ := call(t, srv, admin, "GET", "/api/v1/nothing", ""); code != 404 {
		t.Errorf("undocumented path: %d", code)
	}
}

func TestEventStream(t *testing.T) {
	srv := rig(t)
	req, _ := http.NewRequest("GET", srv.URL+"/api/v1/events/stream?after=0", nil)
	req.Header.Set("Authorization", "Bearer "+viewer)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "event: online") {
			return
		}
	}
	t.Fatal("no online event in the stream")
}

func TestTokens(t *testing.T) {
	dir := t.TempDir()
	tok, path, created, err := api.LoadTokens(dir)
	if err != nil || !created || tok == nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("%s: %v %v", path, fi.Mode(), err)
	}
	if fi, _ := os.Stat(filepath.Join(dir, api.TokenFile)); fi.Mode().Perm() != 0o600 {
		t.Errorf("tokens file mode %v", fi.Mode())
	}
	if _, _, created, err := api.LoadTokens(dir); err != nil || created {
		t.Errorf("second load: created %v, %v", created, err)
	}
}

// TestOperationsTracked: a subscription added through the API reaches the
// agent, and an asynchronous command is followed to its end.
func TestOperationsTracked(t *testing.T) {
	srv := rig(t)
	if code, body := call(t, srv, oper, "POST", "/api/v1/subscriptions", `{"id":"ops","notif_type":"OperationComplete","reference_list":"Device."}`); code != 201 {
		t.Fatalf("add subscription: %d %s", code, body)
	}
	for range 100 {
		_, body := call(t, srv, oper, "POST", "/api/v1/agents/"+agentID+"/get", `{"paths":["Device.LocalAgent.Subscription.*.ID"]}`)
		if strings.Contains(string(body), `"ops"`) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if code, body := call(t, srv, oper, "POST", "/api/v1/agents/"+agentID+"/operate", `{"command":"Device.SelfTestDiagnostics()","command_key":"k1"}`); code != 200 {
		t.Fatalf("operate: %d %s", code, body)
	}
	for range 200 {
		_, body := call(t, srv, viewer, "GET", "/api/v1/operations?agent="+agentID, "")
		if strings.Contains(string(body), `"status": "complete"`) && strings.Contains(string(body), `"Status": "Complete"`) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	_, body := call(t, srv, viewer, "GET", "/api/v1/operations", "")
	t.Fatalf("operation not completed: %s", body)
}
