package bulkdata_test

import (
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uspkit/uspkit/datamodel"
	"github.com/uspkit/uspkit/schema"
	"github.com/uspkit/uspkit/schema/schematest"
	"github.com/uspkit/uspkit/tr181/bulkdata"
	"github.com/uspkit/uspkit/usperr"
)

func TestModelMatchesTR181(t *testing.T) {
	ref := schematest.LoadTR181(t)
	m := schema.New()
	m.Define("Device.")
	bulkdata.Define(m)
	for _, d := range schematest.Diff(m, ref) {
		// The published XML carries RowSeparator's default "&#10;" as a
		// space; ours is the line feed it stands for.
		if strings.HasPrefix(d, "Device.BulkData.Profile.{i}.CSVEncoding.RowSeparator: default") {
			continue
		}
		t.Error(d)
	}
}

// env is an engine with Device.BulkData, a provided Device.DeviceInfo and
// a stored test table Device.Test.Interface.{i}.Stats., and a running
// Service.
type env struct {
	eng    *datamodel.Engine
	svc    *bulkdata.Service
	mu     sync.Mutex
	pushes []string
	stop   func()
}

// newEnv is newEnvIn with the test table's two rows.
func newEnv(t *testing.T, opt *bulkdata.Options) *env {
	e := newEnvIn(t, opt, nil)
	for i, v := range []string{"100", "200"} {
		e.add(t, "Device.Test.Interface.", "Name", []string{"eth0", "eth1"}[i])
		e.set(t, "Device.Test.Interface."+[]string{"1", "2"}[i]+".Stats.", "BytesSent", v, "Up", "true")
	}
	return e
}

// newEnvIn builds the engine, calls before (if not nil), and runs the
// Service until the test ends or e.stop is called.
func newEnvIn(t *testing.T, opt *bulkdata.Options, before func(*env)) *env {
	t.Helper()
	m := schema.New()
	m.Define("Device.")
	m.Define("Device.DeviceInfo.").
		Param("ManufacturerOUI", schema.String()).Param("ProductClass", schema.String()).
		Param("SerialNumber", schema.String()).Param("UpTime", schema.UnsignedInt())
	m.Define("Device.Test.")
	m.Define("Device.Test.Interface.{i}.", schema.ObjAddDelete).Param("Name", schema.String(), schema.ReadWrite)
	m.Define("Device.Test.Interface.{i}.Stats.").
		Param("BytesSent", schema.UnsignedLong(), schema.ReadWrite).
		Param("Up", schema.Boolean(), schema.ReadWrite)
	bulkdata.Define(m)
	mux := datamodel.NewMux(m)
	mux.HandleFunc("Device.DeviceInfo.", func(ctx context.Context, w datamodel.ResponseWriter, r *datamodel.Request) error {
		vals := map[string]string{"ManufacturerOUI": "00D09E", "ProductClass": "Box", "SerialNumber": "S1", "UpTime": "42"}
		for _, n := range r.Names {
			w.SetValue(n, vals[n])
		}
		return nil
	})
	mux.Store("Device.Test.", nil)
	e := &env{}
	e.svc = bulkdata.New(opt)
	e.svc.Register(mux)
	eng, err := datamodel.New(context.Background(), mux, datamodel.Options{})
	if err != nil {
		t.Fatal(err)
	}
	e.eng = eng
	if before != nil {
		before(e)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		e.svc.Run(ctx, eng, func(ctx context.Context, path string, args func(string) map[string]string) {
			e.mu.Lock()
			e.pushes = append(e.pushes, path+" "+args("ctrl")["Data"])
			e.mu.Unlock()
		})
	}()
	var once sync.Once
	e.stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(e.stop)
	return e
}

func (e *env) add(t *testing.T, path string, kv ...string) string {
	t.Helper()
	var ps []datamodel.ParamSetting
	for i := 0; i < len(kv); i += 2 {
		ps = append(ps, datamodel.ParamSetting{Param: kv[i], Value: kv[i+1], Required: true})
	}
	res, err := e.eng.Add(context.Background(), datamodel.Caller{}, false, []datamodel.CreateObject{{Path: path, Params: ps}})
	if err != nil {
		t.Fatalf("add %s: %v", path, err)
	}
	return res[0].Path
}

func (e *env) set(t *testing.T, path string, kv ...string) error {
	t.Helper()
	var ps []datamodel.ParamSetting
	for i := 0; i < len(kv); i += 2 {
		ps = append(ps, datamodel.ParamSetting{Param: kv[i], Value: kv[i+1], Required: true})
	}
	_, err := e.eng.Set(context.Background(), datamodel.Caller{}, false, []datamodel.UpdateObject{{Path: path, Params: ps}})
	return err
}

// request is what the collector received.
type request struct {
	method string
	query  url.Values
	header http.Header
	body   []byte
}

// collector is an HTTP Bulk Data collector that fails the first
// failures requests with 503.
type collector struct {
	mu       sync.Mutex
	failures int
	got      []request
	srv      *httptest.Server
}

func newCollector(t *testing.T, failures int) *collector {
	c := &collector{failures: failures}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(strings.NewReader(string(body)))
			if err == nil {
				body, _ = io.ReadAll(zr)
			}
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		c.got = append(c.got, request{r.Method, r.URL.Query(), r.Header.Clone(), body})
		if c.failures > 0 {
			c.failures--
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(c.srv.Close)
	return c
}

// wait returns the first n requests, or fails the test after timeout.
func (c *collector) wait(t *testing.T, n int, timeout time.Duration) []request {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		c.mu.Lock()
		if len(c.got) >= n {
			out := slices.Clone(c.got[:n])
			c.mu.Unlock()
			return out
		}
		c.mu.Unlock()
		time.Sleep(20 * time.Millisecond)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	t.Fatalf("collector got %d requests in %v, want %d", len(c.got), timeout, n)
	return nil
}

// reports decodes a JSON transfer's Report array.
func reports(t *testing.T, body []byte) []map[string]any {
	t.Helper()
	var doc struct{ Report []map[string]any }
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatalf("report %q: %v", body, err)
	}
	return doc.Report
}

// TestHTTPJSON: a JSON profile over HTTP sends every interval, with the
// device identity and a RequestURIParameter in the query [R-BULK.1], the
// media type with charset [R-BULK.7], the BBF-Report-Format header
// [R-BULK.8], a Date header, Basic credentials and gzip; wildcards and
// partial paths are named as TR-369 Annex A.2.1 says [R-BULK.9],
// [R-BULK.10]; excluded parameters are left out.
func TestHTTPJSON(t *testing.T) {
	e := newEnv(t, nil)
	c := newCollector(t, 0)
	p := e.add(t, "Device.BulkData.Profile.", "Protocol", "HTTP", "EncodingType", "JSON", "ReportingInterval", "1",
		"HTTP.URL", c.srv.URL+"/bd?x=1", "HTTP.Username", "u", "HTTP.Password", "pw", "HTTP.Compression", "GZIP", "JSONEncoding.ReportFormat", "NameValuePair")
	e.add(t, p+"Parameter.", "Name", "UpTime", "Reference", "Device.DeviceInfo.UpTime")
	e.add(t, p+"Parameter.", "Name", "Sent", "Reference", "Device.Test.Interface.*.Stats.BytesSent")
	e.add(t, p+"Parameter.", "Name", "If", "Reference", "Device.Test.Interface.*.Stats.")
	e.add(t, p+"Parameter.", "Reference", "Device.Test.Interface.2.Stats.Up", "Exclude", "true")
	e.add(t, p+"HTTP.RequestURIParameter.", "Name", "name", "Reference", "Device.Test.Interface.1.Name")
	if err := e.set(t, p, "Enable", "true"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	got := c.wait(t, 2, 5*time.Second)
	if d := time.Since(start); d < 1500*time.Millisecond {
		t.Errorf("two reports in %v at a 1 s interval", d)
	}
	r := got[0]
	if r.method != http.MethodPost {
		t.Errorf("method %s", r.method)
	}
	for k, v := range map[string]string{"oui": "00D09E", "pc": "Box", "sn": "S1", "name": "eth0", "x": "1"} {
		if r.query.Get(k) != v {
			t.Errorf("query %s = %q, want %q (%v)", k, r.query.Get(k), v, r.query)
		}
	}
	for k, v := range map[string]string{"Content-Type": "application/json; charset=UTF-8", "BBF-Report-Format": `"NameValuePair"`, "Content-Encoding": "gzip",
		"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte("u:pw"))} {
		if r.header.Get(k) != v {
			t.Errorf("header %s = %q, want %q", k, r.header.Get(k), v)
		}
	}
	if _, err := http.ParseTime(r.header.Get("Date")); err != nil {
		t.Errorf("Date header %q: %v", r.header.Get("Date"), err)
	}
	rep := reports(t, r.body)
	if len(rep) != 1 {
		t.Fatalf("%d reports in %s", len(rep), r.body)
	}
	want := map[string]any{"UpTime": 42.0, "Sent.1": 100.0, "Sent.2": 200.0, "If.1.BytesSent": 100.0, "If.1.Up": true, "If.2.BytesSent": 200.0}
	for k, v := range want {
		if rep[0][k] != v {
			t.Errorf("%s = %v, want %v (%s)", k, rep[0][k], v, r.body)
		}
	}
	if _, ok := rep[0]["If.2.Up"]; ok {
		t.Errorf("excluded parameter reported: %s", r.body)
	}
	if _, ok := rep[0]["CollectionTime"].(float64); !ok {
		t.Errorf("CollectionTime missing: %s", r.body)
	}
}

// TestHTTPCSVPut: CSV with PUT, ParameterPerRow, no Date header.
func TestHTTPCSVPut(t *testing.T) {
	e := newEnv(t, nil)
	c := newCollector(t, 0)
	p := e.add(t, "Device.BulkData.Profile.", "Protocol", "HTTP", "EncodingType", "CSV", "ReportingInterval", "1",
		"HTTP.URL", c.srv.URL, "HTTP.Method", "PUT", "HTTP.UseDateHeader", "false", "CSVEncoding.ReportFormat", "ParameterPerRow", "CSVEncoding.RowTimestamp", "None")
	e.add(t, p+"Parameter.", "Name", "UpTime", "Reference", "Device.DeviceInfo.UpTime")
	e.set(t, p, "Enable", "true")
	r := c.wait(t, 1, 3*time.Second)[0]
	if r.method != http.MethodPut || r.header.Get("Date") != "" {
		t.Errorf("method %s, Date %q", r.method, r.header.Get("Date"))
	}
	if ct := r.header.Get("Content-Type"); ct != "text/csv; charset=UTF-8; header=present" {
		t.Errorf("Content-Type %q [R-BULK.11]", ct)
	}
	if f := r.header.Get("BBF-Report-Format"); f != `"ParameterPerRow"` {
		t.Errorf("BBF-Report-Format %q", f)
	}
	if want := "ParameterName,ParameterValue,ParameterType\nUpTime,42,unsignedInt\n"; string(r.body) != want {
		t.Errorf("body %q, want %q", r.body, want)
	}
}

// TestHTTPRetry: with RetryEnable, a transfer the collector refuses is
// tried again until it is delivered [R-BULK.2]; the next transfer starts
// afresh [R-BULK.4].
func TestHTTPRetry(t *testing.T) {
	e := newEnv(t, nil)
	c := newCollector(t, 2)
	p := e.add(t, "Device.BulkData.Profile.", "Protocol", "HTTP", "EncodingType", "JSON", "ReportingInterval", "5",
		"HTTP.URL", c.srv.URL, "HTTP.RetryEnable", "true", "HTTP.RetryMinimumWaitInterval", "1", "HTTP.RetryIntervalMultiplier", "1000")
	e.add(t, p+"Parameter.", "Reference", "Device.DeviceInfo.UpTime")
	e.set(t, p, "Enable", "true")
	got := c.wait(t, 3, 10*time.Second)
	for i := 1; i < 3; i++ {
		if string(got[i].body) != string(got[0].body) {
			t.Errorf("retry %d sent %s, first attempt %s", i, got[i].body, got[0].body)
		}
	}
	if sent, failed := e.svc.Stats(); sent != 1 || failed != 0 {
		t.Errorf("sent %d failed %d, want 1 0", sent, failed)
	}
}

// TestRetainedReports: without retries, failed reports are kept, at
// most NumberOfRetainedFailedReports of them (the oldest dropped), and
// sent before the current one in the next transfer, once.
func TestRetainedReports(t *testing.T) {
	e := newEnv(t, nil)
	c := newCollector(t, 4)
	p := e.add(t, "Device.BulkData.Profile.", "Protocol", "HTTP", "EncodingType", "JSON", "ReportingInterval", "1",
		"HTTP.URL", c.srv.URL, "NumberOfRetainedFailedReports", "2", "JSONEncoding.ReportFormat", "NameValuePair")
	e.add(t, p+"Parameter.", "Name", "n", "Reference", "Device.Test.Interface.1.Stats.BytesSent")
	e.set(t, p, "Enable", "true")
	for i := 1; i <= 6; i++ {
		c.wait(t, i, 4*time.Second)
		e.set(t, "Device.Test.Interface.1.Stats.", "BytesSent", []string{"", "101", "102", "103", "104", "105", "106"}[i])
	}
	got := c.wait(t, 6, time.Second)
	counts := []int{}
	for _, r := range got {
		counts = append(counts, len(reports(t, r.body)))
	}
	// Requests 1-4 fail: 1, 2, 3, 3 reports (bounded at 2 retained + the
	// current); request 5 delivers 3; request 6 has only its own.
	if want := []int{1, 2, 3, 3, 3, 1}; !slices.Equal(counts, want) {
		t.Errorf("reports per transfer %v, want %v", counts, want)
	}
	fifth := reports(t, got[4].body)
	var vals []any
	for _, r := range fifth {
		vals = append(vals, r["n"])
	}
	if !slices.Equal(vals, []any{102.0, 103.0, 104.0}) {
		t.Errorf("fifth transfer carried %v, want the two newest failed and the current", vals)
	}
}

// TestPush: a USPEventNotif profile raises Device.BulkData.Profile.{i}.Push!
// with the report in Data.
func TestPush(t *testing.T) {
	e := newEnv(t, nil)
	p := e.add(t, "Device.BulkData.Profile.", "Protocol", "USPEventNotif", "EncodingType", "JSON", "ReportingInterval", "1")
	e.add(t, p+"Parameter.", "Reference", "Device.DeviceInfo.UpTime")
	e.set(t, p, "Enable", "true")
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		e.mu.Lock()
		n := len(e.pushes)
		e.mu.Unlock()
		if n > 0 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.pushes) == 0 {
		t.Fatal("no Push! event")
	}
	path, data, _ := strings.Cut(e.pushes[0], " ")
	if path != p+"Push!" {
		t.Errorf("event %s", path)
	}
	if r := reports(t, []byte(data)); len(r) != 1 || r[0]["Device"] == nil {
		t.Errorf("Data %s", data)
	}
}

// TestDisabled: nothing is sent while Device.BulkData.Enable is false;
// ForceCollection() sends at once whatever Enable says.
func TestDisabled(t *testing.T) {
	e := newEnv(t, &bulkdata.Options{Disabled: true})
	c := newCollector(t, 0)
	p := e.add(t, "Device.BulkData.Profile.", "Protocol", "HTTP", "EncodingType", "CSV", "ReportingInterval", "1", "HTTP.URL", c.srv.URL, "Enable", "true")
	e.add(t, p+"Parameter.", "Reference", "Device.DeviceInfo.UpTime")
	time.Sleep(1500 * time.Millisecond)
	c.mu.Lock()
	n := len(c.got)
	c.mu.Unlock()
	if n != 0 {
		t.Fatalf("%d transfers with Device.BulkData.Enable false", n)
	}
	if _, err := e.eng.Operate(context.Background(), datamodel.Caller{}, p+"ForceCollection()", "", nil); err != nil {
		t.Fatal(err)
	}
	c.wait(t, 1, time.Second)
	if err := e.set(t, "Device.BulkData.", "Enable", "true"); err != nil {
		t.Fatal(err)
	}
	c.wait(t, 3, 3*time.Second)
}

// TestChecks: values the Service does not support are refused with 7012.
func TestChecks(t *testing.T) {
	e := newEnv(t, &bulkdata.Options{MinReportingInterval: 60})
	for _, kv := range [][]string{
		{"Protocol", "Streaming"}, {"EncodingType", "XML"}, {"ReportingInterval", "30"}, {"HTTP.Compression", "Deflate"}, {"HTTP.Method", "GET"},
	} {
		_, err := e.eng.Add(context.Background(), datamodel.Caller{}, false, []datamodel.CreateObject{{Path: "Device.BulkData.Profile.",
			Params: []datamodel.ParamSetting{{Param: kv[0], Value: kv[1], Required: true}}}})
		if usperr.Code(err) != usperr.CodeInvalidValue && !strings.Contains(err.Error(), "7012") {
			t.Errorf("%s=%s: %v, want 7012", kv[0], kv[1], err)
		}
	}
	p := e.add(t, "Device.BulkData.Profile.", "ReportingInterval", "60")
	if _, err := e.eng.Add(context.Background(), datamodel.Caller{}, false, []datamodel.CreateObject{{Path: p + "Parameter.",
		Params: []datamodel.ParamSetting{{Param: "Reference", Value: "Device..X", Required: true}}}}); err == nil {
		t.Error("a malformed Reference was accepted")
	}
	for i := 2; i <= bulkdata.MaxProfiles; i++ {
		e.add(t, "Device.BulkData.Profile.", "ReportingInterval", "60")
	}
	if _, err := e.eng.Add(context.Background(), datamodel.Caller{}, false, []datamodel.CreateObject{{Path: "Device.BulkData.Profile."}}); err == nil {
		t.Errorf("profile %d of MaxNumberOfProfiles %d created", bulkdata.MaxProfiles+1, bulkdata.MaxProfiles)
	}
	res := e.eng.Get(context.Background(), datamodel.Caller{}, []string{"Device.BulkData."}, 1)
	top := res[0].Objects[0].Params
	for k, v := range map[string]string{"MinReportingInterval": "60", "Protocols": "HTTP,USPEventNotif", "EncodingTypes": "CSV,JSON",
		"ProfileNumberOfEntries": strconv.Itoa(bulkdata.MaxProfiles), "ParameterWildCardSupported": "true", "Status": "Enabled"} {
		if top[k] != v {
			t.Errorf("Device.BulkData.%s = %q, want %q", k, top[k], v)
		}
	}
}

// TestPersistAcrossReboot: the failed reports of a profile with
// HTTP.PersistAcrossReboot are sent by the next run of the Service with
// its first transfer; without it they are lost with the run.
func TestPersistAcrossReboot(t *testing.T) {
	for _, persist := range []bool{true, false} {
		t.Run(strconv.FormatBool(persist), func(t *testing.T) {
			dir := t.TempDir()
			profile := func(e *env, url string) {
				p := e.add(t, "Device.BulkData.Profile.", "Protocol", "HTTP", "EncodingType", "JSON", "ReportingInterval", "1",
					"HTTP.URL", url, "NumberOfRetainedFailedReports", "5", "HTTP.PersistAcrossReboot", strconv.FormatBool(persist))
				e.add(t, p+"Parameter.", "Reference", "Device.DeviceInfo.UpTime")
				e.set(t, p, "Enable", "true")
			}
			down := newCollector(t, 1000)
			first := newEnvIn(t, &bulkdata.Options{Dir: dir}, func(e *env) { profile(e, down.srv.URL) })
			down.wait(t, 2, 4*time.Second)
			first.stop()
			up := newCollector(t, 0)
			newEnvIn(t, &bulkdata.Options{Dir: dir}, func(e *env) { profile(e, up.srv.URL) })
			n := len(reports(t, up.wait(t, 1, 3*time.Second)[0].body))
			if persist && n < 3 || !persist && n != 1 {
				t.Errorf("first transfer after the restart carried %d reports (persist %v)", n, persist)
			}
		})
	}
}

// denyTest is the Access of a Controller that may not read Device.Test.
type denyTest struct{}

func (denyTest) Perms(path string) datamodel.Perms {
	if strings.HasPrefix(path, "Device.Test.") {
		return 0
	}
	return datamodel.AllPerms
}

// TestCollectAsController: a profile collects with the permissions of the
// Controller that created it (TR-369 Annex A), so it reports nothing that
// Controller may not read.
func TestCollectAsController(t *testing.T) {
	var mu sync.Mutex
	var asked []string
	e := newEnvIn(t, nil, func(e *env) {
		e.svc.SetCaller(func(id string) datamodel.Caller {
			mu.Lock()
			defer mu.Unlock()
			asked = append(asked, id)
			return datamodel.Caller{EndpointID: id, Access: denyTest{}}
		})
	})
	e.add(t, "Device.Test.Interface.", "Name", "eth0")
	c := newCollector(t, 0)
	ctrl := datamodel.Caller{EndpointID: "proto::ctrl"}
	ctx := context.Background()
	res, err := e.eng.Add(ctx, ctrl, false, []datamodel.CreateObject{{Path: "Device.BulkData.Profile.", Params: []datamodel.ParamSetting{
		{Param: "Protocol", Value: "HTTP"}, {Param: "EncodingType", Value: "JSON"}, {Param: "ReportingInterval", Value: "1"},
		{Param: "HTTP.URL", Value: c.srv.URL}, {Param: "JSONEncoding.ReportFormat", Value: "NameValuePair"}}}})
	if err != nil {
		t.Fatal(err)
	}
	p := res[0].Path
	for _, ref := range []string{"Device.DeviceInfo.UpTime", "Device.Test.Interface.1.Name"} {
		if _, err := e.eng.Add(ctx, ctrl, false, []datamodel.CreateObject{{Path: p + "Parameter.", Params: []datamodel.ParamSetting{{Param: "Reference", Value: ref}}}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.eng.Set(ctx, ctrl, false, []datamodel.UpdateObject{{Path: p, Params: []datamodel.ParamSetting{{Param: "Enable", Value: "true"}}}}); err != nil {
		t.Fatal(err)
	}
	rep := reports(t, c.wait(t, 1, 3*time.Second)[0].body)[0]
	if _, ok := rep["Device.DeviceInfo.UpTime"]; !ok {
		t.Errorf("UpTime missing: %v", rep)
	}
	if _, ok := rep["Device.Test.Interface.1.Name"]; ok {
		t.Errorf("a parameter the Controller may not read was reported: %v", rep)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(asked) == 0 || asked[0] != "proto::ctrl" {
		t.Errorf("collected as %v", asked)
	}
}
