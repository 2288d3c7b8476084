//go:build !usp_nobulk

package cli

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/uspkit/uspkit/internal/testenv"
	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/mtp/mqtt"
	"github.com/uspkit/uspkit/tr181/bulkdata"
)

// TestBulkDataMQTTPublish: the Agent's MQTT clients publish a Bulk Data
// report at the profile's PublishQoS, retained as PublishRetain says
// (TR-181 Device.BulkData.Profile.{i}.MQTT): mosquitto_sub, subscribing
// at QoS 2 after the publication, receives it with the RETAIN flag at
// that QoS, or nothing when it was not retained. MQTT 5.0 and 3.1.1
// clients alike publish on the topic as it is.
func TestBulkDataMQTTPublish(t *testing.T) {
	broker := testenv.Mosquitto(t)
	sub := testenv.LookPath(t, "mosquitto_sub", "mosquitto-clients")
	host, port, _ := net.SplitHostPort(broker)
	for _, v := range []mqtt.Version{mqtt.V5, mqtt.V311} {
		t.Run(v.String(), func(t *testing.T) { bulkDataMQTTPublish(t, broker, host, port, sub, v) })
	}
}

func bulkDataMQTTPublish(t *testing.T, broker, host, port, sub string, v mqtt.Version) {
	c := mqtt.NewClient(&mqtt.Options{URL: "tcp://" + broker, Version: v, EndpointID: "os::012345-BDMQTT", Topic: "usp/agent/bdmqtt"})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = c.Serve(ctx, mtp.HandlerFunc(func(context.Context, mtp.Inbound) {}))
	}()
	defer func() { cancel(); c.Close(); <-done }()
	var r mqttClients
	r.add("Device.MQTT.Client.1.", c, v == mqtt.V311)
	if !r.MQTTAvailable() {
		t.Error("MQTT not available with an MQTT client")
	}
	for _, tc := range []struct {
		qos    byte
		retain bool
	}{{0, true}, {1, true}, {2, true}, {2, false}} {
		name := fmt.Sprintf("qos%d-retain-%v", tc.qos, tc.retain)
		t.Run(name, func(t *testing.T) {
			topic := "bulkdata/cli/" + v.String() + "/" + name
			m := bulkdata.MQTTMessage{Topic: topic, Payload: []byte(name), QoS: tc.qos, Retain: tc.retain, ContentType: "text/csv; charset=UTF-8"}
			var err error
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
				if err = r.PublishMQTT(ctx, "Device.MQTT.Client.1", m); err == nil || time.Now().After(deadline) {
					break // the client may not be connected yet
				}
			}
			if err != nil {
				t.Fatal(err)
			}
			wait := "1"
			if tc.retain {
				wait = "5"
			}
			sctx, scancel := context.WithTimeout(ctx, 10*time.Second)
			defer scancel()
			out, _ := exec.CommandContext(sctx, sub, "-h", host, "-p", port, "-V", "5", "-q", "2", "-t", topic, "-C", "1", "-W", wait, "-F", "%r %q %p").Output()
			got, want := strings.TrimSpace(string(out)), ""
			if tc.retain {
				want = fmt.Sprintf("1 %d %s", tc.qos, name)
			}
			if got != want {
				t.Errorf("late subscriber got %q, want %q", got, want)
			}
			if tc.retain {
				_ = r.PublishMQTT(ctx, "Device.MQTT.Client.1", bulkdata.MQTTMessage{Topic: topic, QoS: 1, Retain: true}) // clears it
			}
		})
	}
}
