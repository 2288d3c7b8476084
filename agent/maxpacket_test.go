package agent_test

import (
	"testing"

	"github.com/uspkit/uspkit/agent"
)

// TestMQTTMaximumPacketSize checks that Device.MQTT.Client.{i}.
// MaximumPacketSize reaches the Dialer, and that a change to it opens the
// client again (TR-181: it is told to the broker in the next CONNECT).
func TestMQTTMaximumPacketSize(t *testing.T) {
	d := &pipeDialer{dials: make(chan dialled, 16), fail: map[string]bool{}}
	e := start(t, nil, func(o *agent.Options) {
		o.Dialer = d
		o.Factory.MTPs = []agent.MTPConfig{{Alias: "cpe-mqtt", Protocol: "MQTT",
			Connection: map[string]string{"BrokerAddress": "broker-a.example", "BrokerPort": "1883", "ProtocolVersion": "5.0", "EnableEncryption": "false"},
			Params:     map[string]string{"MQTT.ResponseTopicConfigured": "usp/agent"}}}
	})
	first := d.next(t)
	if got := first.conn.MQTT.MaxPacketSize; got != 0 {
		t.Fatalf("MaxPacketSize %d at first, want 0 (no limit of the data model's)", got)
	}
	eventually(t, e, "Device.MQTT.Client.1.MaximumPacketSize", "0")
	setOK(t, e, "Device.MQTT.Client.1.", "MaximumPacketSize", "70000")
	closed(t, first)
	if got := d.next(t).conn.MQTT.MaxPacketSize; got != 70000 {
		t.Fatalf("MaxPacketSize %d after the Set, want 70000", got)
	}
}
