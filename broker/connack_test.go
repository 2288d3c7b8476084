package broker_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/uspkit/uspkit/broker"
)

// TestConnackSubscribeTopic: a successful MQTT 5 CONNACK names the
// client's own topic filter in "subscribe-topic" user properties
// [R-MQTT.44], [R-MQTT.15], and, when asked, the exact topic as Response
// Information [R-MQTT.12], [R-MQTT.21].
func TestConnackSubscribeTopic(t *testing.T) {
	b, _ := start(t, uspOptions())
	tests := []struct {
		name, user, pass string
		respInfo         bool
		wantSub          []string
		wantResp         string
	}{
		{name: "agent", user: "agent1", pass: "pw1", wantSub: []string{"usp/agent/agent1/#"}},
		{name: "agent asking for response info", user: "agent1", pass: "pw1", respInfo: true,
			wantSub: []string{"usp/agent/agent1/#"}, wantResp: "usp/agent/agent1"},
		{name: "controller", user: "ctrl", pass: "pwc", respInfo: true,
			wantSub: []string{"usp/controller/ctrl/#"}, wantResp: "usp/controller/ctrl"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := connect5(t, dial5{addr: b.Addrs().TCP, id: tt.name, user: tt.user, pass: tt.pass, respInfo: tt.respInfo})
			if err != nil {
				t.Fatal(err)
			}
			p := c.Connack.Properties
			if diff := cmp.Diff(tt.wantSub, p.User.GetAll("subscribe-topic")); diff != "" {
				t.Errorf("subscribe-topic (-want +got):\n%s", diff)
			}
			if p.ResponseInfo != tt.wantResp {
				t.Errorf("Response Information %q, want %q", p.ResponseInfo, tt.wantResp)
			}
			if p.MaximumPacketSize == nil || *p.MaximumPacketSize != broker.DefaultMaxPacketSize {
				t.Errorf("Maximum Packet Size %v, want %d", p.MaximumPacketSize, broker.DefaultMaxPacketSize)
			}
			// The announced filter is one the client may subscribe to.
			for _, f := range p.User.GetAll("subscribe-topic") {
				if err := c.subscribe(t, f); err != nil {
					t.Errorf("subscribe to announced %q: %v", f, err)
				}
			}
		})
	}
}

// TestConnackNoPolicy: without USPPolicy or Account lists there is
// nothing to announce.
func TestConnackNoPolicy(t *testing.T) {
	b, _ := start(t, broker.Options{Users: users})
	c, err := connect5(t, dial5{addr: b.Addrs().TCP, id: "c", user: "agent1", pass: "pw1"})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Connack.Properties.User.GetAll("subscribe-topic"); got != nil {
		t.Errorf("subscribe-topic %q, want none", got)
	}
}
