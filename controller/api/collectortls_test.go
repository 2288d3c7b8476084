package api_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/uspkit/uspkit/agent"
	"github.com/uspkit/uspkit/controller"
	"github.com/uspkit/uspkit/controller/api"
	"github.com/uspkit/uspkit/datamodel"
	"github.com/uspkit/uspkit/mtp/mtptest"
	"github.com/uspkit/uspkit/record"
	"github.com/uspkit/uspkit/schema"
	"github.com/uspkit/uspkit/telemetry"
	"github.com/uspkit/uspkit/tr181/bulkdata"
)

// TestCollectorHTTPS: with the API served over HTTPS, the profile the API
// configures points the Agent at the collector's https:// URL, and the
// Agent's reports arrive over TLS with the credentials it was given; a
// transfer without them, or with another Agent's, is refused.
func TestCollectorHTTPS(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	ctrlEnd, agentEnd := mtptest.NewPipe(ctrlID, agentID, nil)
	c, err := controller.New(ctx, controller.Options{EndpointID: ctrlID, MTPs: []controller.MTP{{Protocol: "UDS", Transport: ctrlEnd}}, RequestTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	db, err := telemetry.OpenSQLite(ctx, filepath.Join(t.TempDir(), "telemetry.db"))
	if err != nil {
		t.Fatal(err)
	}
	tel := telemetry.New(db, telemetry.NewCredentials([]byte("0123456789abcdef0123456789abcdef")), nil)
	srv := httptest.NewUnstartedServer(nil)
	srv.Config.Handler = api.New(api.Options{Controller: c, Telemetry: tel, Tokens: api.NewTokens(map[string]api.Role{oper: api.Operator, viewer: api.Viewer})})
	srv.StartTLS()
	m := schema.New()
	agent.Define(m)
	bulkdata.Define(m)
	mux := datamodel.NewMux(m)
	bd := bulkdata.New(&bulkdata.Options{Client: srv.Client()}) // trusts the server's certificate
	bd.Register(mux)
	a, err := agent.New(ctx, agent.Options{EndpointID: agentID, Mux: mux, SoftwareVersion: "t",
		MTPs:    []agent.MTP{{Protocol: "UDS", Transport: agentEnd}},
		Factory: &agent.Config{Controllers: []agent.ControllerConfig{{EndpointID: ctrlID, MTPs: []agent.ControllerMTPConf{{Protocol: "UDS"}}}}}})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{}, 3)
	go func() { c.Run(ctx); done <- struct{}{} }()
	go func() { a.Run(ctx); done <- struct{}{} }()
	bd.SetCaller(a.Caller)
	go func() { bd.Run(ctx, a.Engine(), a.Emit); done <- struct{}{} }()
	defer func() {
		srv.Close()
		cancel()
		<-done
		<-done
		<-done
		db.Close()
	}()
	rec, _ := record.NewWebSocketConnect(ctrlID, agentID).MarshalBinary()
	agentEnd.Send(ctx, ctrlID, rec)
	for range 100 {
		if _, ok := c.Agent(agentID); ok {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}

	do := func(token, method, path, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	path := "/api/v1/agents/" + url.PathEscape(agentID)
	if code, b := do(oper, "POST", path+"/bulkdata", `{"name":"tls","interval":1,"params":["Device.LocalAgent.UpTime"]}`); code != 200 {
		t.Fatalf("POST bulkdata: %d %s", code, b)
	}
	if code, b := do(oper, "POST", path+"/get", `{"paths":["Device.BulkData.Profile.1.HTTP.URL"]}`); code != 200 || !strings.Contains(b, `"https://127.0.0.1:`) {
		t.Fatalf("Profile.1.HTTP.URL: %d %s", code, b)
	}
	deadline := time.Now().Add(5 * time.Second)
	for tel.Stats().Reports < 2 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if st := tel.Stats(); st.Reports < 2 || st.Rejected != 0 {
		t.Fatalf("collector over HTTPS: %+v", st)
	}
	// Another Agent's credentials, and none, are refused.
	for _, user := range []string{"os::012345-OTHER", ""} {
		req, _ := http.NewRequest("POST", srv.URL+"/bulkdata/"+url.PathEscape(agentID), strings.NewReader(`{"Report":[{"CollectionTime":1,"N":1}]}`))
		req.Header.Set("Content-Type", "application/json")
		if user != "" {
			req.SetBasicAuth(user, tel.Credentials().Password(user))
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("transfer as %q: %d, want 401", user, resp.StatusCode)
		}
	}
}
