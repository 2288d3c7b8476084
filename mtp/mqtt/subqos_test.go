package mqtt_test

import (
	"testing"
	"time"

	"github.com/eclipse/paho.golang/packets"

	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/mtp/mqtt"
)

// TestSubscriptionQoS: each filter of the SUBSCRIBE carries its own QoS
// where SubscriptionQoS names one (the data model's
// MQTT.Client.{i}.Subscription.{i}.QoS), SubscribeQoS otherwise, and the
// reply-to filter SubscribeQoS.
func TestSubscriptionQoS(t *testing.T) {
	tests := []struct {
		name string
		sub  mqtt.QoS
		per  map[string]mqtt.QoS
		want map[string]byte
	}{
		{"Default", mqtt.QoSDefault, nil, map[string]byte{"a/#": 1, "b": 1, "usp/x": 1}},
		{"PerFilter", mqtt.QoSDefault, map[string]mqtt.QoS{"a/#": mqtt.QoS0, "b": mqtt.QoS2},
			map[string]byte{"a/#": 0, "b": 2, "usp/x": 1}},
		{"SubscribeQoS0", mqtt.QoS0, map[string]mqtt.QoS{"b": mqtt.QoS1}, map[string]byte{"a/#": 0, "b": 1, "usp/x": 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newScript(t)
			o := &mqtt.Options{URL: s.url(), EndpointID: "proto::x", Topic: "usp/x", MinWait: 20 * time.Millisecond,
				Subscriptions: []string{"a/#", "b"}, SubscribeQoS: tt.sub, SubscriptionQoS: tt.per}
			st := newStates()
			o.OnState = st.onState
			c := mqtt.NewClient(o)
			serve(t, c, newInbox())
			s.accept()
			s.expect(packets.CONNECT)
			s.write(&packets.Connack{})
			sub := s.expect(packets.SUBSCRIBE).Content.(*packets.Subscribe)
			got := map[string]byte{}
			codes := make([]byte, len(sub.Subscriptions))
			for i, so := range sub.Subscriptions {
				got[so.Topic] = so.QoS
				codes[i] = so.QoS
			}
			s.write(&packets.Suback{PacketID: sub.PacketID, Reasons: codes})
			if len(got) != len(tt.want) {
				t.Fatalf("SUBSCRIBE %v, want %v", got, tt.want)
			}
			for f, q := range tt.want {
				if g, ok := got[f]; !ok || g != q {
					t.Errorf("filter %q at QoS %d (present %v), want %d", f, g, ok, q)
				}
			}
			st.wait(t, mtp.StateUp, 10*time.Second)
		})
	}
}
