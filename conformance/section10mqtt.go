package conformance

import (
	"context"
	"sort"
	"strconv"
	"strings"
	"time"
)

// MQTTSubscribeFunc subscribes to topic on the MQTT server that the
// Agent's Device.MQTT.Client reaches and returns the payloads published
// on it, until stop is called.
type MQTTSubscribeFunc func(ctx context.Context, topic string) (payloads <-chan []byte, stop func(), err error)

// bulkMQTTTopic is the MQTT.PublishTopic of 10.13, as the plan sets it.
const bulkMQTTTopic = "mqtt-bulkdata"

// bulkMQTT is 10.13: a profile with Protocol MQTT, its MQTT.Reference the
// Agent's connected Device.MQTT.Client and MQTT.PublishTopic
// "mqtt-bulkdata", publishes two well formed reports on that topic within
// (ReportingInterval * 2) + 10 seconds, each with the one parameter
// UpTime.
func bulkMQTT(t *T) {
	s, interval := t.bulk("MQTT", "")
	if s.MQTTSubscribe == nil {
		t.Skipf("needs the runner on the MQTT server of the agent's Device.MQTT.Client (usp conformance --mtp mqtt)")
	}
	client := t.mqttClient()
	payloads, stop, err := s.MQTTSubscribe(t.ctx, bulkMQTTTopic)
	if err != nil {
		t.Fatalf("subscribing to %q: %v", bulkMQTTTopic, err)
	}
	defer stop()
	prof := t.addProfile([]kv{preq("Protocol", "MQTT"), preq("EncodingType", "JSON"), preq("ReportingInterval", strconv.FormatUint(uint64(interval), 10)),
		preq("MQTT.Reference", client), preq("MQTT.PublishTopic", bulkMQTTTopic)},
		[]kv{preq("Name", "UpTime"), preq("Reference", "Device.DeviceInfo.UpTime")})
	t.enableBulk(prof)
	deadline := time.NewTimer(bulkWait(interval))
	defer deadline.Stop()
	for i := range 2 {
		var body []byte
		select {
		case body = <-payloads:
		case <-deadline.C:
			t.Fatalf("%d bulk data reports published on %q within %v, want 2", i, bulkMQTTTopic, bulkWait(interval))
		case <-t.ctx.Done():
			t.Fatalf("case ended waiting for bulk data reports on %q", bulkMQTTTopic)
		}
		names := t.reportNames(body, "application/json")
		t.Check(len(names) == 1 && names[0] == "UpTime", "report parameters %v, want [UpTime]", names)
	}
}

// mqttClient returns the reference ("Device.MQTT.Client.1") of an enabled
// and connected Device.MQTT.Client row, the lowest instance first.
func (t *T) mqttClient() string {
	const table = "Device.MQTT.Client."
	t.need(table)
	v := flat(t.getResp(t.Do(getReq(table+"*.Enable", table+"*.Status"))))
	var rows []int
	for path, val := range v {
		rest, ok := strings.CutSuffix(strings.TrimPrefix(path, table), ".Status")
		n, err := strconv.Atoi(rest)
		if ok && err == nil && val == "Connected" && v[table+rest+".Enable"] == "true" {
			rows = append(rows, n)
		}
	}
	if len(rows) == 0 {
		t.Skipf("needs a connected Device.MQTT.Client entry in the agent's data model")
	}
	sort.Ints(rows)
	return table + strconv.Itoa(rows[0])
}
