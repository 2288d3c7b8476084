package bulkdata_test

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/uspkit/uspkit/internal/testenv"
)

// rawSubscribe subscribes to topic at QoS 2 with a plain MQTT 5.0 client
// (the Agent's own client takes USP Records only); the payloads go to got.
func rawSubscribe(t *testing.T, addr, topic string, got chan<- []byte) {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c := paho.NewClient(paho.ClientConfig{Conn: nc, OnPublishReceived: []func(paho.PublishReceived) (bool, error){
		func(p paho.PublishReceived) (bool, error) {
			select {
			case got <- append([]byte(nil), p.Packet.Payload...):
			default:
			}
			return true, nil
		}}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.Connect(ctx, &paho.Connect{ClientID: "bulkdata-sub-" + strings.ReplaceAll(topic, "/", "-"), CleanStart: true, KeepAlive: 30}); err != nil {
		nc.Close()
		t.Fatalf("subscriber connect: %v", err)
	}
	t.Cleanup(func() { _ = c.Disconnect(&paho.Disconnect{}) })
	if _, err := c.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: topic, QoS: 2}}}); err != nil {
		t.Fatalf("subscribe: %v", err)
	}
}

// lateSubscribe subscribes with mosquitto_sub (at QoS 2, MQTT 5.0) to
// topic on the broker at addr after the reports were published, and
// returns the first message's RETAIN flag, QoS and payload as
// "retain qos payload", or "" when none came within wait.
func lateSubscribe(t *testing.T, addr, topic string, wait time.Duration) string {
	t.Helper()
	bin := testenv.LookPath(t, "mosquitto_sub", "mosquitto-clients")
	host, port, _ := net.SplitHostPort(addr)
	ctx, cancel := context.WithTimeout(context.Background(), wait+5*time.Second)
	defer cancel()
	out, _ := exec.CommandContext(ctx, bin, "-h", host, "-p", port, "-V", "5", "-q", "2", "-t", topic,
		"-C", "1", "-W", fmt.Sprint(int(wait/time.Second)), "-F", "%r %q %p").Output() // exits 27 on timeout
	return strings.TrimSpace(string(out))
}

// TestMQTTQoSRetain: a report is published at the profile's
// MQTT.PublishQoS with the RETAIN flag as MQTT.PublishRetain says (TR-181
// Device.BulkData.Profile.{i}.MQTT): a subscriber that comes after the
// reports, mosquitto_sub, receives the last one marked retained at that
// QoS when PublishRetain is true, and nothing when it is false.
func TestMQTTQoSRetain(t *testing.T) {
	broker := testenv.Mosquitto(t)
	for _, c := range []struct {
		qos    string
		retain bool
	}{
		{"0", false}, {"0", true}, {"1", false}, {"1", true}, {"2", false}, {"2", true},
	} {
		name := fmt.Sprintf("qos%s-retain-%v", c.qos, c.retain)
		t.Run(name, func(t *testing.T) {
			topic := "bulkdata/retain/" + name
			got := make(chan []byte, 8)
			rawSubscribe(t, broker, topic, got)
			pub := &mqttPub{c: serveMQTT(t, broker, "os::012345-PUB"+name, nil, make(chan []byte, 1))}
			e := newEnvIn(t, nil, func(e *env) { e.svc.SetMQTT(pub) })
			e.add(t, "Device.Test.Interface.", "Name", "eth0")
			prof := e.add(t, "Device.BulkData.Profile.", "Protocol", "MQTT", "EncodingType", "JSON", "ReportingInterval", "1",
				"MQTT.Reference", "Device.MQTT.Client.1", "MQTT.PublishTopic", topic, "MQTT.PublishQoS", c.qos,
				"MQTT.PublishRetain", fmt.Sprint(c.retain))
			e.add(t, prof+"Parameter.", "Name", "Name", "Reference", "Device.Test.Interface.1.Name")
			if err := e.set(t, prof, "Enable", "true"); err != nil {
				t.Fatal(err)
			}
			select {
			case <-got:
			case <-time.After(10 * time.Second):
				t.Fatalf("no report on %s within 10 s", topic)
			}
			if err := e.set(t, prof, "Enable", "false"); err != nil {
				t.Fatal(err)
			}
			wait := time.Second
			if c.retain {
				wait = 5 * time.Second
			}
			line := lateSubscribe(t, broker, topic, wait)
			switch {
			case c.retain && !strings.HasPrefix(line, "1 "+c.qos+" ") || c.retain && !strings.Contains(line, "eth0"):
				t.Errorf("late subscriber got %q, want a retained report at QoS %s (\"1 %s {...eth0...}\")", line, c.qos, c.qos)
			case !c.retain && line != "":
				t.Errorf("late subscriber got %q of reports published without RETAIN", line)
			}
			if c.retain { // the next run starts without it
				cmd := exec.Command(testenv.LookPath(t, "mosquitto_pub", "mosquitto-clients"), "-h", strings.Split(broker, ":")[0],
					"-p", strings.Split(broker, ":")[1], "-t", topic, "-r", "-n")
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Logf("clearing the retained report: %v %s", err, out)
				}
			}
		})
	}
}
