package cli_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/uspkit/uspkit/internal/testenv"
	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/mtp/mqtt"
	"github.com/uspkit/uspkit/schema"
	"github.com/uspkit/uspkit/tr181/bulkdata"
)

// bulkREST reads the Controller's REST API of a `usp up` data directory.
type bulkREST struct {
	t     *testing.T
	api   string
	token string
}

func (r bulkREST) get(path string) []byte {
	r.t.Helper()
	req, _ := http.NewRequest("GET", r.api+path, nil)
	req.Header.Set("Authorization", "Bearer "+r.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		r.t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
	}
	return b
}

// params lists the parameters stored for agent.
func (r bulkREST) params(agent string) []string {
	r.t.Helper()
	var v struct{ Params []string }
	json.Unmarshal(r.get("/api/v1/agents/"+url.PathEscape(agent)+"/telemetry"), &v)
	return v.Params
}

// waitParam waits until agent has values of param.
func (r bulkREST) waitParam(agent, param string) {
	r.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !slices.Contains(r.params(agent), param) {
		if time.Now().After(deadline) {
			r.t.Fatalf("no %s of %s stored: %v", param, agent, r.params(agent))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// metric returns the value of a /metrics line.
func (r bulkREST) metric(name string) string {
	r.t.Helper()
	for _, l := range strings.Split(string(r.get("/metrics")), "\n") {
		if v, ok := strings.CutPrefix(l, name+" "); ok {
			return v
		}
	}
	return ""
}

// TestBulkDataMQTTEmbedded: under `usp up`, an Agent's Bulk Data profile
// with Protocol MQTT publishes its report to usp/bulkdata/<EndpointID>/…
// on the embedded broker, and the Controller stores it as it stores an
// HTTP report (REST API, /metrics). The broker refuses a report an Agent
// publishes under another Agent's Endpoint ID, and a malformed report is
// counted as rejected and stores nothing.
func TestBulkDataMQTTEmbedded(t *testing.T) {
	bin := buildUSP(t)
	data := t.TempDir()
	lines, _ := upProcess(t, bin, data)
	tok, err := os.ReadFile(strings.Fields(lines["token"])[0])
	if err != nil {
		t.Fatal(err)
	}
	rest := bulkREST{t: t, api: lines["api"], token: strings.TrimSpace(string(tok))}
	agentA := strings.Fields(lines["agent"])[0]
	usp := func(args ...string) string {
		t.Helper()
		out, errs, code := uspRun(t, bin, data, args...)
		if code != 0 {
			t.Fatalf("usp %v: exit %d: %s%s", args, code, out, errs)
		}
		return out
	}

	// A real Agent (the one of usp up) publishes a JSON report over MQTT.
	usp("add", "Device.BulkData.Profile.", "Enable=true", "Protocol=MQTT", "EncodingType=JSON", "ReportingInterval=3600",
		"MQTT.Reference=Device.MQTT.Client.1", "MQTT.PublishTopic=usp/bulkdata/"+agentA+"/report")
	usp("add", "Device.BulkData.Profile.1.Parameter.", "Reference=Device.DeviceInfo.UpTime")
	usp("operate", "Device.BulkData.Profile.1.ForceCollection()")
	rest.waitParam(agentA, "Device.DeviceInfo.UpTime")
	if got := rest.metric("usp_bulkdata_reports_total"); got == "" || got == "0" {
		t.Errorf("usp_bulkdata_reports_total %q after an MQTT report", got)
	}

	// Agent B, with an account of its own, publishes a CSV report made by
	// tr181/bulkdata under its own Endpoint ID, a forged one under A's,
	// and a malformed one.
	const agentB = "os::012345-MQTTBULK2"
	creds := fields(usp("agents", "add", agentB))
	_, cb, err := mqttLogin(t, lines["mqtt"], "bulk-b", agentB, creds["password"], nil)
	if err != nil {
		t.Fatal(err)
	}
	report := func(name string) []byte {
		return bulkdata.EncodeCSV(nil, []bulkdata.Report{{Time: time.Now(), Values: []bulkdata.Value{{Name: name, Value: "42"}}}},
			bulkdata.CSVOptions{FieldSeparator: ",", RowSeparator: "\r\n", ReportFormat: bulkdata.FormatParameterPerRow, Timestamp: bulkdata.TimestampUnix})
	}
	publish := func(topic string, body []byte, ct string) byte {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		r, err := cb.Publish(ctx, &paho.Publish{Topic: topic, QoS: 1, Payload: body, Properties: &paho.PublishProperties{ContentType: ct}})
		if r == nil {
			t.Fatalf("publish to %s: %v", topic, err)
		}
		return r.ReasonCode
	}
	if rc := publish("usp/bulkdata/"+agentA+"/report", report("Forged.Value"), "text/csv; charset=UTF-8; header=present"); rc < 0x80 {
		t.Errorf("report under another Agent's Endpoint ID accepted by the broker: reason %#x", rc)
	}
	rejected := rest.metric("usp_bulkdata_rejected_total")
	if rc := publish("usp/bulkdata/"+agentB+"/report", []byte(`{"Report": [`), "application/json"); rc >= 0x80 {
		t.Errorf("malformed report refused by the broker: %#x", rc)
	}
	if rc := publish("usp/bulkdata/"+agentB+"/report", report("Device.DeviceInfo.UpTime"), "text/csv; charset=UTF-8; header=present"); rc >= 0x80 {
		t.Errorf("own report refused by the broker: %#x", rc)
	}
	rest.waitParam(agentB, "Device.DeviceInfo.UpTime")
	if got := rest.params(agentB); len(got) != 1 {
		t.Errorf("params of %s: %v, want only its report's", agentB, got)
	}
	if slices.Contains(rest.params(agentA), "Forged.Value") {
		t.Errorf("forged report stored for %s", agentA)
	}
	if got := rest.metric("usp_bulkdata_rejected_total"); got == rejected {
		t.Errorf("usp_bulkdata_rejected_total still %s after a malformed report", got)
	}
}

// TestBulkDataMQTTMosquitto: `usp controller` with an MQTT MTP on
// mosquitto takes the reports published to its telemetry.mqtt_topic
// there, the Agent named by the filter's "+" level; JSON (Content Type)
// and CSV without a Content Type (as an MQTT 3.1.1 publisher sends it)
// are stored, a topic whose level is no Endpoint ID stores nothing.
func TestBulkDataMQTTMosquitto(t *testing.T) {
	bin := buildUSP(t)
	brk := testenv.Mosquitto(t)
	data := t.TempDir()
	p := startControllerProc(t, bin, data, fmt.Sprintf("mtps:\n  - protocol: MQTT\n    url: tcp://%s\n    topic: usp/controller/bulk\n"+
		"telemetry:\n  mqtt_topic: site/+/bulk/#\n", brk))
	rest := bulkREST{t: t, api: p.api, token: p.token}
	const agent = "os::012345-MOSQBULK1"
	// Two publishers with the project's MQTT client: MQTT 5.0 (with
	// Content Type) and MQTT 3.1.1 (none).
	v5, v311 := bulkPublisher(t, brk, mqtt.V5, "os::012345-PUB5"), bulkPublisher(t, brk, mqtt.V311, "os::012345-PUB311")
	at := time.Unix(1_700_000_000, 0)
	jsonReport := bulkdata.EncodeJSON(nil, []bulkdata.Report{{Time: at, Values: []bulkdata.Value{
		{Name: "Device.DeviceInfo.UpTime", Value: "1234", Type: schema.BaseUnsignedInt}}}},
		bulkdata.JSONOptions{ReportFormat: bulkdata.FormatObjectHierarchy, Timestamp: bulkdata.TimestampUnix})
	csvReport := bulkdata.EncodeCSV(nil, []bulkdata.Report{{Time: at, Values: []bulkdata.Value{{Name: "Device.Ethernet.Interface.1.Stats.BytesSent", Value: "99"}}}},
		bulkdata.CSVOptions{FieldSeparator: ",", RowSeparator: "\r\n", ReportFormat: bulkdata.FormatParameterPerRow, Timestamp: bulkdata.TimestampUnix})
	publish := func(topic string, body []byte, ct string, retain bool) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c := v5
		if ct == "" {
			c = v311
		}
		if err := c.Publish(ctx, mqtt.Message{Topic: topic, QoS: mqtt.QoS1, Retain: retain, Payload: body, ContentType: ct}); err != nil {
			t.Fatalf("publish to %s: %v", topic, err)
		}
	}
	// Retained, so that it reaches the Controller whenever it subscribes.
	publish("site/"+agent+"/bulk/r", jsonReport, "application/json; charset=UTF-8", true)
	rest.waitParam(agent, "Device.DeviceInfo.UpTime")
	publish("site/not-an-endpoint-id/bulk/r", csvReport, "", false)
	publish("site/"+agent+"/bulk", csvReport, "", false)
	rest.waitParam(agent, "Device.Ethernet.Interface.1.Stats.BytesSent")
	if got := rest.params("not-an-endpoint-id"); len(got) != 0 {
		t.Errorf("report of an unmappable topic stored: %v", got)
	}
	var q struct{ Points []struct{ V float64 } }
	json.Unmarshal(rest.get("/api/v1/agents/"+url.PathEscape(agent)+"/telemetry?param=Device.DeviceInfo.UpTime&from=1699999999&to=1700000001"), &q)
	if len(q.Points) != 1 || q.Points[0].V != 1234 {
		t.Errorf("UpTime points %+v, want one 1234 at the report's time", q.Points)
	}
	publish("site/"+agent+"/bulk/r", nil, "application/json", true) // clear the retained report
}

// bulkPublisher connects the project's MQTT client, of version v, to the
// anonymous broker at addr and waits until it is up.
func bulkPublisher(t *testing.T, addr string, v mqtt.Version, id string) *mqtt.Client {
	t.Helper()
	up := make(chan struct{}, 1)
	c := mqtt.NewClient(&mqtt.Options{URL: "tcp://" + addr, Version: v, EndpointID: id, Topic: "usp/agent/" + id,
		OnState: func(_ context.Context, _ mtp.Peer, s mtp.State, _ error) {
			if s == mtp.StateUp {
				select {
				case up <- struct{}{}:
				default:
				}
			}
		}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.Serve(ctx, mtp.HandlerFunc(func(context.Context, mtp.Inbound) {})); close(done) }()
	t.Cleanup(func() { c.Close(); cancel(); <-done })
	select {
	case <-up:
	case <-time.After(10 * time.Second):
		t.Fatalf("MQTT %v publisher not connected", v)
	}
	return c
}

// TestBulkDataMQTTShared: two Controllers whose MQTT MTPs share a
// subscription group on mosquitto take each report once between them.
func TestBulkDataMQTTShared(t *testing.T) {
	bin := buildUSP(t)
	brk := testenv.Mosquitto(t)
	var rests []bulkREST
	for i := range 2 {
		p := startControllerProc(t, bin, t.TempDir(), fmt.Sprintf("mtps:\n  - protocol: MQTT\n    url: tcp://%s\n    topic: usp/controller/shared\n"+
			"    shared_group: ctl\n    reply_topic: usp/controller/shared-%d\n", brk, i))
		rests = append(rests, bulkREST{t: t, api: p.api, token: p.token})
	}
	const agent, n = "os::012345-SHARED1", 20
	pub := bulkPublisher(t, brk, mqtt.V5, "os::012345-PUBSH")
	// The Controllers subscribe after "ready": publish until one stores.
	deadline := time.Now().Add(15 * time.Second)
	for len(rests[0].params(agent))+len(rests[1].params(agent)) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no report stored")
		}
		pub.Publish(context.Background(), mqtt.Message{Topic: "usp/bulkdata/" + agent, QoS: mqtt.QoS1, ContentType: "application/json",
			Payload: []byte(`{"Report":[{"CollectionTime":1700000000,"Probe":1}]}`)})
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(time.Second) // probes still on their way
	for i := range n {
		if err := pub.Publish(context.Background(), mqtt.Message{Topic: "usp/bulkdata/" + agent, QoS: mqtt.QoS1, ContentType: "application/json",
			Payload: fmt.Appendf(nil, `{"Report":[{"CollectionTime":1700000000,"P%02d":%d}]}`, i, i)}); err != nil {
			t.Fatal(err)
		}
	}
	deadline = time.Now().Add(15 * time.Second)
	for {
		seen := map[string]int{}
		for _, r := range rests {
			for _, p := range r.params(agent) {
				seen[p]++
			}
		}
		delete(seen, "Probe")
		if len(seen) == n {
			for p, k := range seen {
				if k != 1 {
					t.Errorf("%s stored by %d Controllers", p, k)
				}
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d reports stored: %v", len(seen), n, seen)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
