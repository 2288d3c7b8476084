package api_test

import (
	"context"
	"encoding/json"
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

// telemetryRig is rig with Device.BulkData on the Agent and the
// telemetry service behind the API.
func telemetryRig(t *testing.T) (*httptest.Server, *telemetry.Service) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ctrlEnd, agentEnd := mtptest.NewPipe(ctrlID, agentID, nil)
	c, err := controller.New(ctx, controller.Options{EndpointID: ctrlID, MTPs: []controller.MTP{{Protocol: "UDS", Transport: ctrlEnd}}, RequestTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	m := schema.New()
	agent.Define(m)
	bulkdata.Define(m)
	mux := datamodel.NewMux(m)
	bd := bulkdata.New(nil)
	bd.Register(mux)
	a, err := agent.New(ctx, agent.Options{EndpointID: agentID, Mux: mux, SoftwareVersion: "t",
		MTPs:    []agent.MTP{{Protocol: "UDS", Transport: agentEnd}},
		Factory: &agent.Config{Controllers: []agent.ControllerConfig{{EndpointID: ctrlID, MTPs: []agent.ControllerMTPConf{{Protocol: "UDS"}}}}}})
	if err != nil {
		t.Fatal(err)
	}
	db, err := telemetry.OpenSQLite(ctx, filepath.Join(t.TempDir(), "telemetry.db"))
	if err != nil {
		t.Fatal(err)
	}
	tel := telemetry.New(db, telemetry.NewCredentials([]byte("0123456789abcdef0123456789abcdef")), &telemetry.Options{MetricParams: []string{"Device.LocalAgent.UpTime"}})
	done := make(chan struct{}, 3)
	go func() { c.Run(ctx); done <- struct{}{} }()
	go func() { a.Run(ctx); done <- struct{}{} }()
	bd.SetCaller(a.Caller)
	go func() { bd.Run(ctx, a.Engine(), a.Emit); done <- struct{}{} }()
	srv := httptest.NewServer(api.New(api.Options{Controller: c, Telemetry: tel,
		Tokens: api.NewTokens(map[string]api.Role{admin: api.Admin, oper: api.Operator, viewer: api.Viewer})}))
	t.Cleanup(func() {
		srv.Close()
		cancel()
		<-done
		<-done
		<-done
		db.Close()
	})
	rec, _ := record.NewWebSocketConnect(ctrlID, agentID).MarshalBinary()
	agentEnd.Send(ctx, ctrlID, rec)
	for range 100 {
		if _, ok := c.Agent(agentID); ok {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	return srv, tel
}

// TestTelemetry: the API configures an HTTP profile on the Agent with
// its collector credentials; the Agent's reports reach the collector
// and come back from the telemetry query, raw and downsampled, and in
// /metrics. A viewer may read telemetry but not configure a profile.
func TestTelemetry(t *testing.T) {
	srv, tel := telemetryRig(t)
	path := "/api/v1/agents/" + url.PathEscape(agentID)
	body := `{"name":"t","interval":1,"params":["Device.LocalAgent.UpTime"]}`
	if code, _ := call(t, srv, viewer, "POST", path+"/bulkdata", body); code != 403 {
		t.Errorf("viewer configured a profile: %d", code)
	}
	code, b := call(t, srv, oper, "POST", path+"/bulkdata", body)
	if code != 200 || !strings.Contains(string(b), `"Device.BulkData.Profile.1."`) {
		t.Fatalf("POST bulkdata: %d %s", code, b)
	}
	// Profile.{i}.Controller names the Controller that created it.
	code, b = call(t, srv, oper, "POST", path+"/get", `{"paths":["Device.BulkData.Profile.1.Controller"]}`)
	if code != 200 || !strings.Contains(string(b), `"Controller":"Device.LocalAgent.Controller.1"`) && !strings.Contains(string(b), `"Controller": "Device.LocalAgent.Controller.1"`) {
		t.Errorf("Profile.1.Controller: %d %s", code, b)
	}
	deadline := time.Now().Add(5 * time.Second)
	for tel.Stats().Reports < 2 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if st := tel.Stats(); st.Reports < 2 || st.Rejected != 0 {
		t.Fatalf("collector stats %+v", st)
	}
	var params struct{ Params []string }
	code, b = call(t, srv, viewer, "GET", path+"/telemetry", "")
	if code != 200 || json.Unmarshal(b, &params) != nil || len(params.Params) != 1 || params.Params[0] != "Device.LocalAgent.UpTime" {
		t.Fatalf("params: %d %s", code, b)
	}
	var got struct {
		Points []struct {
			T string   `json:"t"`
			V *float64 `json:"v"`
			N int      `json:"n"`
		}
	}
	code, b = call(t, srv, viewer, "GET", path+"/telemetry?param=Device.LocalAgent.UpTime&from=0", "")
	if code != 200 || json.Unmarshal(b, &got) != nil || len(got.Points) < 2 || got.Points[0].V == nil {
		t.Fatalf("points: %d %s", code, b)
	}
	code, b = call(t, srv, viewer, "GET", path+"/telemetry?param=Device.LocalAgent.UpTime&step=1h&agg=max", "")
	if code != 200 || json.Unmarshal(b, &got) != nil || len(got.Points) < 1 || got.Points[0].N < 2 {
		t.Fatalf("downsampled: %d %s", code, b)
	}
	for _, bad := range []string{"step=-1s", "agg=median", "from=yesterday"} {
		if code, _ := call(t, srv, viewer, "GET", path+"/telemetry?param=x&"+bad, ""); code != 400 {
			t.Errorf("%s: %d, want 400", bad, code)
		}
	}
	code, b = call(t, srv, viewer, "GET", "/metrics", "")
	if code != 200 || !strings.Contains(string(b), "usp_bulkdata_reports_total ") || !strings.Contains(string(b), `usp_bulkdata_value{agent="`+agentID+`",param="Device.LocalAgent.UpTime"}`) {
		t.Errorf("metrics: %d %s", code, b)
	}
}
