package telemetry_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/uspkit/uspkit/telemetry"
)

func newService(t *testing.T, opt *telemetry.Options) (*telemetry.Service, *httptest.Server) {
	db, err := telemetry.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	svc := telemetry.New(db, telemetry.NewCredentials([]byte("0123456789abcdef0123456789abcdef")), opt)
	mux := http.NewServeMux()
	mux.Handle("POST /bulkdata/{agent}", svc.Collector())
	mux.Handle("PUT /bulkdata/{agent}", svc.Collector())
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return svc, srv
}

// TestCollector: the collector stores what an Agent with its credentials
// sends (JSON, gzip CSV, chunked), and refuses other logins, malformed
// reports and bodies over the limit.
func TestCollector(t *testing.T) {
	svc, srv := newService(t, &telemetry.Options{MaxBody: 4096, MetricParams: []string{"UpTime"}})
	pw := svc.Credentials().Password("os::A")
	if pw == svc.Credentials().Password("os::B") || len(pw) != 32 {
		t.Fatalf("passwords %q", pw)
	}
	post := func(method, agent, user, pass, ctype, enc string, body []byte, chunked bool) int {
		t.Helper()
		var rd = bytes.NewReader(body)
		req, _ := http.NewRequest(method, srv.URL+"/bulkdata/"+agent+"?oui=00D09E&pc=Box&sn=S1", rd)
		if chunked {
			req.ContentLength = -1 // sent chunked [R-BULK.0]
			req.Body = io.NopCloser(struct{ io.Reader }{rd})
		}
		req.Header.Set("Content-Type", ctype)
		req.Header.Set("BBF-Report-Format", `"NameValuePair"`)
		if enc != "" {
			req.Header.Set("Content-Encoding", enc)
		}
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	js := []byte(`{"Report":[{"CollectionTime":1364529149,"UpTime":42},{"CollectionTime":1364529209,"UpTime":102}]}`)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte("ReportTimestamp,ParameterName,ParameterValue,ParameterType\n1364529269,UpTime,162,unsignedInt\n"))
	zw.Close()
	for _, tc := range []struct {
		name                          string
		method, agent, user, pass, ct string
		enc                           string
		body                          []byte
		chunked                       bool
		want                          int
	}{
		{"JSON", "POST", "os::A", "os__A", pw, "application/json; charset=UTF-8", "", js, false, 200},
		{"gzip CSV with PUT, chunked", "PUT", "os::A", "os__A", pw, "text/csv; charset=UTF-8; header=present", "gzip", gz.Bytes(), true, 200},
		{"no credentials", "POST", "os::A", "", "", "application/json", "", js, false, 401},
		{"another agent's password", "POST", "os::B", "os__B", pw, "application/json", "", js, false, 401},
		{"user is not the agent", "POST", "os::B", "os__A", pw, "application/json", "", js, false, 401},
		{"malformed", "POST", "os::A", "os__A", pw, "application/json", "", []byte(`{"Report":[`), false, 400},
		{"too large", "POST", "os::A", "os__A", pw, "application/json", "", bytes.Repeat([]byte(" "), 5000), false, 413},
	} {
		if got := post(tc.method, tc.agent, tc.user, tc.pass, tc.ct, tc.enc, tc.body, tc.chunked); got != tc.want {
			t.Errorf("%s: status %d, want %d", tc.name, got, tc.want)
		}
	}
	ps, err := svc.Query(context.Background(), telemetry.Query{Agent: "os::A", Param: "UpTime"})
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 3 || ps[0].Value != 42 || ps[2].Value != 162 || ps[1].Time.Unix() != 1364529209 {
		t.Errorf("points %+v", ps)
	}
	st := svc.Stats()
	if st.Reports != 3 || st.Rows != 3 || st.Rejected != 5 {
		t.Errorf("stats %+v", st)
	}
	var m strings.Builder
	svc.WriteMetrics(&m)
	for _, want := range []string{"usp_bulkdata_reports_total 3\n", "usp_bulkdata_rows_total 3\n", `usp_bulkdata_value{agent="os::A",param="UpTime"} 162` + "\n"} {
		if !strings.Contains(m.String(), want) {
			t.Errorf("metrics lack %q:\n%s", want, m.String())
		}
	}
}

// TestIngestPush: a Push! event's Data is stored like an HTTP report.
func TestIngestPush(t *testing.T) {
	svc, _ := newService(t, nil)
	n, err := svc.IngestPush(context.Background(), "os::A", `{"Report":[{"CollectionTime":1364529149,"Device":{"DeviceInfo":{"UpTime":42}}}]}`)
	if err != nil || n != 1 {
		t.Fatalf("%d %v", n, err)
	}
	ps, _ := svc.Query(context.Background(), telemetry.Query{Agent: "os::A", Param: "Device.DeviceInfo.UpTime"})
	if len(ps) != 1 || ps[0].Value != 42 {
		t.Errorf("%+v", ps)
	}
	if _, err := svc.IngestPush(context.Background(), "os::A", "{"); err == nil {
		t.Error("malformed Data accepted")
	}
}

// TestRetention: RunRetention deletes what is older than the maximum age
// on its schedule and counts it.
func TestRetention(t *testing.T) {
	now := time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)
	svc, _ := newService(t, &telemetry.Options{Now: func() time.Time { return now }})
	ctx, cancel := context.WithCancel(context.Background())
	svc.Ingest(ctx, "os::A", []telemetry.Report{
		{Time: now.Add(-48 * time.Hour), Values: []telemetry.Value{{Name: "N", Value: "1"}}},
		{Time: now.Add(-time.Hour), Values: []telemetry.Value{{Name: "N", Value: "2"}}},
	})
	done := make(chan struct{})
	go func() { svc.RunRetention(ctx, 24*time.Hour, 10*time.Millisecond); close(done) }()
	for deadline := time.Now().Add(2 * time.Second); svc.Stats().Purged == 0 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
	ps, _ := svc.Query(context.Background(), telemetry.Query{Agent: "os::A", Param: "N"})
	if svc.Stats().Purged != 1 || len(ps) != 1 || ps[0].Value != 2 {
		t.Errorf("purged %d, left %+v", svc.Stats().Purged, ps)
	}
}
