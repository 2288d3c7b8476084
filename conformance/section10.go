package conformance

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/uspkit/uspkit/telemetry"
	"github.com/uspkit/uspkit/wire"
)

// BulkDataSetup configures the HTTP(S) collector the cases of TP-469
// section 10 provide. The zero BulkDataSetup listens on 127.0.0.1 over
// HTTP only, with the plan's reporting interval.
type BulkDataSetup struct {
	// Host is the address the collectors listen on, one the Agent reaches;
	// "" means 127.0.0.1.
	Host string
	// TLS is the HTTPS collector's server configuration, with a
	// certificate the Agent trusts; nil skips the HTTPS cases (10.2, 10.4,
	// 10.6).
	TLS *tls.Config
	// Interval is the profiles' ReportingInterval in seconds; 0 means the
	// plan's max(60, Device.BulkData.MinReportingInterval). A shorter one
	// (at least the Agent's MinReportingInterval) shortens the cases.
	Interval uint32
	// MQTTSubscribe, if set, subscribes on the MQTT server of the Agent's
	// Device.MQTT.Client (10.13); nil skips 10.13.
	MQTTSubscribe MQTTSubscribeFunc
}

// bulkTable is the Bulk Data profile table.
const bulkTable = "Device.BulkData.Profile."

// section10 implements the Bulk Data cases over HTTP(S) and USP.
func section10() map[string]caseFunc {
	http := func(tls bool, enc string, uri bool) func(*T) {
		return func(t *T) { bulkHTTP(t, tls, enc, uri) }
	}
	return map[string]caseFunc{
		"10.1":  {run: http(false, "JSON", false)},
		"10.2":  {run: http(true, "JSON", false)},
		"10.3":  {run: http(false, "CSV", false)},
		"10.4":  {run: http(true, "CSV", false)},
		"10.5":  {run: http(false, "", true)},
		"10.6":  {run: http(true, "", true)},
		"10.7":  {run: bulkRetry, long: true, wait: 3 * time.Minute},
		"10.8":  {run: bulkWildcard},
		"10.9":  {run: bulkObjectPath},
		"10.10": {run: func(t *T) { bulkPush(t, "UpTime", "Device.DeviceInfo.UpTime", exactName("UpTime"), 1) }},
		"10.11": {run: bulkPushWildcard},
		"10.12": {run: func(t *T) {
			bulkPush(t, "Controller", "Device.LocalAgent.Controller.", func(n string) bool { return strings.HasPrefix(n, "Controller.") }, 1)
		}},
		"10.13": {run: bulkMQTT},
	}
}

func exactName(s string) func(string) bool { return func(n string) bool { return n == s } }

// bulk returns the case's setup, checks that the Agent supports the
// protocol and encoding (a Conditional Mandatory tag), and returns the
// reporting interval: skipped when the wait would exceed 20 seconds and
// long waits are off.
func (t *T) bulk(protocol, encoding string) (BulkDataSetup, uint32) {
	t.need(bulkTable)
	var s BulkDataSetup
	if t.r.o.BulkData != nil {
		s = *t.r.o.BulkData
	}
	r := t.getResp(t.Do(getReq("Device.BulkData.Protocols", "Device.BulkData.EncodingTypes", "Device.BulkData.MinReportingInterval")))
	v := flat(r)
	if !listHas(v["Device.BulkData.Protocols"], protocol) {
		t.Skipf("%q is not in Device.BulkData.Protocols (%q)", protocol, v["Device.BulkData.Protocols"])
	}
	if encoding != "" && !listHas(v["Device.BulkData.EncodingTypes"], encoding) {
		t.Skipf("%q is not in Device.BulkData.EncodingTypes (%q)", encoding, v["Device.BulkData.EncodingTypes"])
	}
	interval := s.Interval
	if interval == 0 {
		m, _ := strconv.ParseUint(v["Device.BulkData.MinReportingInterval"], 10, 32)
		interval = max(60, uint32(m))
	}
	if bulkWait(interval) > 20*time.Second && !t.r.o.Long {
		t.Skipf("waits %v for two reports at a %d s interval (run with long waits enabled, or a shorter bulk data interval)", bulkWait(interval), interval)
	}
	return s, interval
}

// bulkWait is the plan's wait for two reports: (ReportingInterval * 2) + 10 s.
func bulkWait(interval uint32) time.Duration {
	return time.Duration(interval)*2*time.Second + 10*time.Second
}

func listHas(list, item string) bool {
	for x := range strings.SplitSeq(list, ",") {
		if strings.TrimSpace(x) == item {
			return true
		}
	}
	return false
}

// collector is the runner's Bulk Data collector: it records every
// transfer and answers 200, or 503 while failing is set.
type collector struct {
	url     string
	srv     *http.Server
	failing atomic.Bool
	mu      sync.Mutex
	got     []transfer
	more    chan struct{}
}

// transfer is one request the collector received.
type transfer struct {
	query url.Values
	ctype string
	body  []byte
	at    time.Time
}

// collector starts an HTTP or HTTPS collector for the case.
func (t *T) collector(s BulkDataSetup, secure bool) *collector {
	host := s.Host
	if host == "" {
		host = "127.0.0.1"
	}
	if secure && s.TLS == nil {
		t.Skipf("needs an HTTPS collector certificate the agent trusts (usp conformance --bulkdata-cert)")
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatalf("collector: %v", err)
	}
	c := &collector{more: make(chan struct{}, 1)}
	scheme := "http"
	if secure {
		ln, scheme = tls.NewListener(ln, s.TLS), "https"
	}
	c.url = scheme + "://" + ln.Addr().String() + "/bulkdata"
	c.srv = &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(http.MaxBytesReader(w, r.Body, 8<<20))
		c.mu.Lock()
		c.got = append(c.got, transfer{query: r.URL.Query(), ctype: r.Header.Get("Content-Type"), body: body, at: time.Now()})
		c.mu.Unlock()
		if c.failing.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		select {
		case c.more <- struct{}{}:
		default:
		}
	})}
	go c.srv.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		c.srv.Shutdown(ctx)
	})
	return c
}

// wait returns the first n transfers, or fails the case after d.
func (c *collector) wait(t *T, n int, d time.Duration) []transfer {
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for {
		c.mu.Lock()
		if len(c.got) >= n {
			out := append([]transfer(nil), c.got[:n]...)
			c.mu.Unlock()
			return out
		}
		got := len(c.got)
		c.mu.Unlock()
		select {
		case <-c.more:
		case <-deadline.C:
			t.Fatalf("%d bulk data transfers in %v, want %d", got, d, n)
		case <-t.ctx.Done():
			t.Fatalf("case ended waiting for bulk data transfers")
		}
	}
}

// addProfile adds a profile (deleted when the case ends) with its
// parameters and returns its path.
func (t *T) addProfile(settings []kv, params ...[]kv) string {
	prof := t.created(t.addResp(t.Do(addReq(false, obj(bulkTable, settings...)))), 1)[0]
	t.Cleanup(func() { t.c.do(context.Background(), deleteReq(true, prof), t.r.o.ReplyTimeout) })
	for _, ps := range params {
		t.created(t.addResp(t.Do(addReq(false, obj(prof+"Parameter.", ps...)))), 1)
	}
	return prof
}

// enableBulk sets Device.BulkData.Enable and the profile's Enable in one
// Set, as the plan does.
func (t *T) enableBulk(prof string) {
	r := t.setResp(t.Do(setReq(false, obj("Device.BulkData.", preq("Enable", "true")), obj(prof, preq("Enable", "true")))))
	for _, u := range r.GetUpdatedObjResults() {
		t.Check(u.GetOperStatus().GetOperSuccess() != nil, "Set of Enable failed: %v", u)
	}
}

// reportNames parses a transfer or Push! Data and returns the parameter
// names of its reports; a report that does not parse fails the case.
func (t *T) reportNames(body []byte, ctype string) []string {
	reps, err := telemetry.Parse(body, ctype)
	if err != nil {
		t.Fatalf("the report is not well formed: %v: %.200q", err, body)
	}
	t.Check(len(reps) > 0, "no report in %.200q", body)
	var names []string
	for _, v := range reps[len(reps)-1].Values {
		names = append(names, v.Name)
	}
	return names
}

// checkIdentity checks that the request URI names the device: its OUI,
// Product Class and Serial Number, or its Endpoint ID [R-BULK.1].
func (t *T) checkIdentity(q url.Values) {
	if q.Get("oui") != "" && q.Has("pc") && q.Get("sn") != "" {
		return
	}
	for _, vs := range q {
		for _, v := range vs {
			if v == t.c.agentID {
				return
			}
		}
	}
	t.Fatalf("the request URI names neither oui, pc and sn nor the Endpoint ID: %v", q)
}

func bulkHTTP(t *T, secure bool, encoding string, uri bool) {
	enc := encoding
	if enc == "" {
		enc = "JSON"
	}
	s, interval := t.bulk("HTTP", encoding)
	col := t.collector(s, secure)
	prof := t.addProfile([]kv{preq("Protocol", "HTTP"), preq("EncodingType", enc), preq("ReportingInterval", strconv.FormatUint(uint64(interval), 10)),
		preq("HTTP.URL", col.url)}, []kv{preq("Name", "UpTime"), preq("Reference", "Device.DeviceInfo.UpTime")})
	if uri {
		t.created(t.addResp(t.Do(addReq(false, obj(prof+"HTTP.RequestURIParameter.", preq("Name", "UpTime"), preq("Reference", "Device.LocalAgent.UpTime"))))), 1)
	}
	t.enableBulk(prof)
	for _, tr := range col.wait(t, 2, bulkWait(interval)) {
		t.checkIdentity(tr.query)
		if uri {
			_, err := strconv.ParseUint(tr.query.Get("UpTime"), 10, 32)
			t.Check(err == nil, "the URI has no UpTime from the RequestURIParameter: %v", tr.query)
			continue
		}
		want := map[string]string{"JSON": "application/json", "CSV": "text/csv"}[enc]
		t.Check(strings.HasPrefix(tr.ctype, want) && strings.Contains(tr.ctype, "charset="), "Content-Type %q, want %s with a charset [R-BULK.7]", tr.ctype, want)
		names := t.reportNames(tr.body, tr.ctype)
		t.Check(len(names) == 1 && names[0] == "UpTime", "report parameters %v, want [UpTime]", names)
	}
}

// bootParams makes sure the runner's Controller has at least two
// BootParameters, adding (and later deleting) what is missing.
func (t *T) bootParams() {
	ctrl := t.controller()
	have := t.instances(ctrl + "BootParameter.")
	var objs []createObj
	for i := len(have); i < 2; i++ {
		objs = append(objs, obj(ctrl+"BootParameter.", preq("Enable", "true"), preq("ParameterName", fmt.Sprintf("Device.LocalAgent.%s", []string{"EndpointID", "SoftwareVersion"}[i]))))
	}
	if len(objs) > 0 {
		paths := t.created(t.addResp(t.Do(addReq(false, objs...))), len(objs))
		t.Cleanup(func() { t.c.do(context.Background(), deleteReq(true, paths...), t.r.o.ReplyTimeout) })
	}
}

var wildcardName = regexp.MustCompile(`^Enabled\.[1-9][0-9]*\.[1-9][0-9]*$`)

func bulkWildcard(t *T) {
	s, interval := t.bulk("HTTP", "")
	t.bootParams()
	col := t.collector(s, false)
	prof := t.addProfile([]kv{preq("Protocol", "HTTP"), preq("EncodingType", "JSON"), preq("ReportingInterval", strconv.FormatUint(uint64(interval), 10)),
		preq("HTTP.URL", col.url)}, []kv{preq("Name", "Enabled"), preq("Reference", "Device.LocalAgent.Controller.*.BootParameter.*.Enable")})
	t.enableBulk(prof)
	for _, tr := range col.wait(t, 2, bulkWait(interval)) {
		t.checkIdentity(tr.query)
		names := t.reportNames(tr.body, tr.ctype)
		n := 0
		for _, name := range names {
			t.Check(wildcardName.MatchString(name), "parameter %q does not match %s [R-BULK.9]", name, wildcardName)
			n++
		}
		t.Check(n >= 2, "%d wildcard parameters, want at least 2: %v", n, names)
	}
}

func bulkObjectPath(t *T) {
	s, interval := t.bulk("HTTP", "")
	ctrl := t.controller()
	col := t.collector(s, false)
	prof := t.addProfile([]kv{preq("Protocol", "HTTP"), preq("EncodingType", "JSON"), preq("ReportingInterval", strconv.FormatUint(uint64(interval), 10)),
		preq("HTTP.URL", col.url)}, []kv{preq("Name", "TestController"), preq("Reference", ctrl)})
	t.enableBulk(prof)
	// Every parameter of the Controller entry and its sub-objects, named
	// by the rest of its path [R-BULK.10].
	want := map[string]bool{}
	for path := range flat(t.getResp(t.Do(getReq(ctrl)))) {
		want["TestController."+strings.TrimPrefix(path, ctrl)] = true
	}
	for _, tr := range col.wait(t, 2, bulkWait(interval)) {
		t.checkIdentity(tr.query)
		got := map[string]bool{}
		for _, name := range t.reportNames(tr.body, tr.ctype) {
			t.Check(strings.HasPrefix(name, "TestController."), "parameter %q is not TestController.<parameter>", name)
			got[name] = true
		}
		for name := range want {
			// Values that change between the Get and the report (counters)
			// still have their names.
			t.Check(got[name], "the report lacks %s", name)
		}
	}
}

// bulkPush is 10.10 and 10.12: a USPEventNotif profile raises two Push!
// events whose Data is a well formed report with the expected names.
func bulkPush(t *T, name, ref string, ok func(string) bool, min int) {
	_, interval := t.bulk("USPEventNotif", "")
	prof := t.addProfile([]kv{preq("Protocol", "USPEventNotif"), preq("EncodingType", "JSON"), preq("ReportingInterval", strconv.FormatUint(uint64(interval), 10))},
		[]kv{preq("Name", name), preq("Reference", ref)})
	t.pushes(prof, interval, ok, min)
}

func bulkPushWildcard(t *T) {
	_, interval := t.bulk("USPEventNotif", "")
	t.bootParams()
	prof := t.addProfile([]kv{preq("Protocol", "USPEventNotif"), preq("EncodingType", "JSON"), preq("ReportingInterval", strconv.FormatUint(uint64(interval), 10))},
		[]kv{preq("Name", "Enabled"), preq("Reference", "Device.LocalAgent.Controller.*.BootParameter.*.Enable")})
	t.pushes(prof, interval, wildcardName.MatchString, 2)
}

// pushes subscribes to the profile's Push!, enables it and checks two
// events.
func (t *T) pushes(prof string, interval uint32, ok func(string) bool, min int) {
	t.addSubs(obj(subTable, preq("NotifType", "Event"), preq("ReferenceList", prof+"Push!"), preq("Enable", "true"), p("ID", "tp469-"+t.id)))
	t.enableBulk(prof)
	deadline := time.Now().Add(bulkWait(interval))
	for i := range 2 {
		m := t.Notify(time.Until(deadline), func(n *wire.Notify) bool {
			e := n.GetEvent()
			return e != nil && e.GetObjPath() == prof && e.GetEventName() == "Push!"
		})
		t.Check(m != nil, "%d Push! events of %s within %v, want 2", i, prof, bulkWait(interval))
		data := m.GetBody().GetRequest().GetNotify().GetEvent().GetParams()["Data"]
		names := t.reportNames([]byte(data), "")
		n := 0
		for _, name := range names {
			t.Check(ok(name), "Push! Data has parameter %q", name)
			n++
		}
		t.Check(n >= min, "Push! Data has %d parameters, want at least %d: %v", n, min, names)
	}
}

// bulkRetry is 10.7: with the collector down, the Agent retries at the
// plan's back-off (RetryMinimumWaitInterval 5 s, RetryIntervalMultiplier
// 2000) [R-BULK.2]: a retry within 13 s of the first attempt, another
// within 23 s; once the collector is back, a transfer within 43 s, and
// none after it until the next reporting interval [R-BULK.4].
func bulkRetry(t *T) {
	s, interval := t.bulk("HTTP", "")
	interval = max(interval, 60) // the plan's waits need a 60 s interval
	col := t.collector(s, false)
	col.failing.Store(true)
	prof := t.addProfile([]kv{preq("Protocol", "HTTP"), preq("EncodingType", "JSON"), preq("ReportingInterval", strconv.FormatUint(uint64(interval), 10)),
		preq("HTTP.URL", col.url), preq("HTTP.RetryEnable", "true"), preq("HTTP.RetryMinimumWaitInterval", "5"), preq("HTTP.RetryIntervalMultiplier", "2000")},
		[]kv{preq("Name", "UpTime"), preq("Reference", "Device.DeviceInfo.UpTime")})
	t.enableBulk(prof)
	first := col.wait(t, 1, time.Duration(interval)*time.Second+10*time.Second)[0]
	second := col.wait(t, 2, time.Until(first.at.Add(13*time.Second)))[1]
	third := col.wait(t, 3, time.Until(second.at.Add(23*time.Second)))[2]
	col.failing.Store(false)
	fourth := col.wait(t, 4, time.Until(third.at.Add(43*time.Second)))[3]
	for _, tr := range []transfer{first, second, third, fourth} {
		t.checkIdentity(tr.query)
	}
	t.Check(second.at.Sub(first.at) >= 4*time.Second, "first retry %v after the attempt, under RetryMinimumWaitInterval", second.at.Sub(first.at))
	// No retry after the accepted one [R-BULK.4]. The report of the next
	// interval is not a retry: only transfers that arrive a second or more
	// before that report is due count (the first attempt reached the
	// collector a little after its due time).
	nextDue := first.at.Add(time.Duration(interval)*time.Second - time.Second)
	if quiet := min(10*time.Second, time.Until(nextDue)); quiet > 0 {
		time.Sleep(quiet)
		col.mu.Lock()
		n := 0
		for _, tr := range col.got {
			if tr.at.Before(nextDue) {
				n++
			}
		}
		col.mu.Unlock()
		t.Check(n == 4, "%d transfers: the agent went on after the collector accepted one", n)
	}
}
