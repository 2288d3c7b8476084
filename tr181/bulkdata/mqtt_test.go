package bulkdata_test

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uspkit/uspkit/datamodel"
	"github.com/uspkit/uspkit/internal/testenv"
	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/mtp/mqtt"
	"github.com/uspkit/uspkit/tr181/bulkdata"
)

// mqttPub is an MQTTPublisher with one MQTT client of package mtp/mqtt,
// the Agent's own, as Device.MQTT.Client.1; it records what it was asked.
type mqttPub struct {
	c   *mqtt.Client
	mu  sync.Mutex
	got []string // client and topic of each publication
	msg []bulkdata.MQTTMessage
}

func (p *mqttPub) MQTTAvailable() bool { return true }

func (p *mqttPub) PublishMQTT(ctx context.Context, client string, m bulkdata.MQTTMessage) error {
	p.mu.Lock()
	p.got = append(p.got, client+" "+m.Topic)
	p.msg = append(p.msg, m)
	p.mu.Unlock()
	return p.c.Publish(ctx, mqtt.Message{Topic: m.Topic, Payload: m.Payload, QoS: mqtt.QoS(m.QoS + 1), Retain: m.Retain, ContentType: m.ContentType})
}

// serveMQTT connects an mtp/mqtt client to the broker at addr, with the
// given subscriptions; what arrives goes to got.
func serveMQTT(t *testing.T, addr, self string, subs []string, got chan<- []byte) *mqtt.Client {
	t.Helper()
	c := mqtt.NewClient(&mqtt.Options{URL: "tcp://" + addr, Version: mqtt.V5, EndpointID: self, Topic: "bulk/" + self, Subscriptions: subs, MinWait: time.Second})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.Serve(ctx, mtp.HandlerFunc(func(_ context.Context, in mtp.Inbound) {
			select {
			case got <- bytes.Clone(in.Record):
			default:
			}
		}))
	}()
	t.Cleanup(func() { cancel(); c.Close(); <-done })
	// Serve subscribes before the first Record can arrive; give it the
	// time to connect.
	deadline := time.Now().Add(10 * time.Second)
	for c.ClientID() == "" && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	return c
}

func datamodelCaller() datamodel.Caller { return datamodel.Caller{} }

// addErr adds an object at path with the settings kv and returns the
// error, if any.
func addErr(e *env, path string, kv ...string) error {
	var ps []datamodel.ParamSetting
	for i := 0; i < len(kv); i += 2 {
		ps = append(ps, datamodel.ParamSetting{Param: kv[i], Value: kv[i+1], Required: true})
	}
	_, err := e.eng.Add(context.Background(), datamodel.Caller{}, false, []datamodel.CreateObject{{Path: path, Params: ps}})
	return err
}

// TestMQTT: a profile with Protocol MQTT publishes its reports, encoded as
// its EncodingType says, on MQTT.PublishTopic through the client that
// MQTT.Reference names, asking for PublishQoS and PublishRetain with the
// report's media type; a subscriber on mosquitto receives them. MQTT is
// in Device.BulkData.Protocols with a publisher only (TR-181
// Device.BulkData.Profile.{i}.MQTT).
func TestMQTT(t *testing.T) {
	broker := testenv.Mosquitto(t)
	for _, c := range []struct {
		encoding string
		check    func(t *testing.T, body []byte)
	}{
		{"JSON", func(t *testing.T, body []byte) {
			reps := reports(t, body)
			if len(reps) == 0 || reps[len(reps)-1]["Sent"] != float64(100) {
				t.Errorf("JSON report %s, want Sent 100", body)
			}
		}},
		{"CSV", func(t *testing.T, body []byte) {
			lines := strings.Split(strings.TrimSpace(string(body)), "\n")
			if len(lines) < 2 || !strings.Contains(lines[0], "Sent") || !strings.Contains(lines[len(lines)-1], "100") {
				t.Errorf("CSV report %q, want a Sent column with 100", body)
			}
		}},
	} {
		t.Run(c.encoding, func(t *testing.T) {
			topic := "bulkdata/reports/" + strings.ToLower(c.encoding)
			reportsGot := make(chan []byte, 8)
			rawSubscribe(t, broker, topic, reportsGot)
			pub := &mqttPub{c: serveMQTT(t, broker, "os::012345-PUB"+c.encoding, nil, make(chan []byte, 1))}
			e := newEnvIn(t, nil, func(e *env) { e.svc.SetMQTT(pub) })
			e.add(t, "Device.Test.Interface.", "Name", "eth0")
			if err := e.set(t, "Device.Test.Interface.1.Stats.", "BytesSent", "100"); err != nil {
				t.Fatal(err)
			}
			res := e.eng.Get(context.Background(), datamodelCaller(), []string{"Device.BulkData.Protocols"}, 0)
			if got := res[0].Objects[0].Params["Protocols"]; got != "HTTP,MQTT,USPEventNotif" {
				t.Errorf("Protocols %q with a publisher", got)
			}
			prof := e.add(t, "Device.BulkData.Profile.", "Protocol", "MQTT", "EncodingType", c.encoding, "ReportingInterval", "1",
				"MQTT.Reference", "Device.MQTT.Client.1", "MQTT.PublishTopic", topic, "MQTT.PublishQoS", "2", "MQTT.PublishRetain", "true")
			e.add(t, prof+"Parameter.", "Name", "Sent", "Reference", "Device.Test.Interface.1.Stats.BytesSent")
			if err := e.set(t, prof, "Enable", "true"); err != nil {
				t.Fatal(err)
			}
			for i := range 2 {
				select {
				case body := <-reportsGot:
					c.check(t, body)
				case <-time.After(10 * time.Second):
					t.Fatalf("%d reports on %s within 10 s, want 2", i, topic)
				}
			}
			pub.mu.Lock()
			defer pub.mu.Unlock()
			if pub.got[0] != "Device.MQTT.Client.1 "+topic {
				t.Errorf("published through %q", pub.got[0])
			}
			m := pub.msg[0]
			want := map[string]string{"JSON": "application/json", "CSV": "text/csv"}[c.encoding]
			if m.QoS != 2 || !m.Retain || !strings.HasPrefix(m.ContentType, want) || !strings.Contains(m.ContentType, "charset=") {
				t.Errorf("QoS %d, Retain %v, ContentType %q: want 2, true, %s with a charset", m.QoS, m.Retain, m.ContentType, want)
			}
		})
	}
}

// TestMQTTChecks: without a publisher MQTT is not a supported Protocol;
// MQTT.Reference must name a Device.MQTT.Client row and PublishTopic be a
// Topic Name, QoS at most 2.
func TestMQTTChecks(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	res := e.eng.Get(ctx, datamodelCaller(), []string{"Device.BulkData.Protocols"}, 0)
	if got := res[0].Objects[0].Params["Protocols"]; got != "HTTP,USPEventNotif" {
		t.Errorf("Protocols %q without a publisher", got)
	}
	if err := addErr(e, "Device.BulkData.Profile.", "Protocol", "MQTT"); err == nil {
		t.Error("Protocol MQTT accepted without a publisher")
	}
	e2 := newEnvIn(t, nil, func(e *env) { e.svc.SetMQTT(&mqttPub{}) })
	for _, kv := range [][]string{
		{"MQTT.Reference", "Device.IP.Interface.1"},
		{"MQTT.Reference", "Device.MQTT.Client.x"},
		{"MQTT.PublishTopic", "a/+/b"},
		{"MQTT.PublishTopic", "a/#"},
		{"MQTT.PublishQoS", "3"},
	} {
		if err := addErr(e2, "Device.BulkData.Profile.", append([]string{"Protocol", "MQTT"}, kv...)...); err == nil {
			t.Errorf("%s=%q accepted", kv[0], kv[1])
		}
	}
	if err := addErr(e2, "Device.BulkData.Profile.", "Protocol", "MQTT", "MQTT.Reference", "Device.MQTT.Client.2."); err != nil {
		t.Errorf("a Device.MQTT.Client row refused: %v", err)
	}
}
