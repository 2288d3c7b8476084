package broker_test

import (
	"context"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/uspkit/uspkit/broker"
)

// TestGrantedQoS: a client whose session ends with its connection is
// granted QoS 0 and gets its messages at QoS 0; a client that keeps its
// session, or any client with KeepQoS, gets the QoS 1 it asks for
// [R-MQTT.46].
func TestGrantedQoS(t *testing.T) {
	tests := []struct {
		name    string
		keepQoS bool
		expiry  uint32
		want    byte
	}{
		{name: "session ends with the connection", want: 0},
		{name: "session kept", expiry: 60, want: 1},
		{name: "KeepQoS", keepQoS: true, want: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, _ := start(t, broker.Options{Users: users, KeepQoS: tt.keepQoS})
			sub, err := connect5(t, dial5{addr: b.Addrs().TCP, id: "sub", user: "agent1", pass: "pw1", expiry: tt.expiry})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), wait)
			defer cancel()
			sa, err := sub.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "usp/agent/x", QoS: 1}}})
			if err != nil {
				t.Fatal(err)
			}
			if len(sa.Reasons) != 1 || sa.Reasons[0] != tt.want {
				t.Errorf("SUBACK reasons %v, want granted QoS %d", sa.Reasons, tt.want)
			}
			pub, err := connect5(t, dial5{addr: b.Addrs().TCP, id: "pub", user: "ctrl", pass: "pwc"})
			if err != nil {
				t.Fatal(err)
			}
			if err := pub.publish(t, "usp/agent/x", []byte("record"), 1); err != nil {
				t.Fatal(err)
			}
			select {
			case m := <-sub.msgs:
				if m.QoS != tt.want {
					t.Errorf("delivered at QoS %d, want %d", m.QoS, tt.want)
				}
			case <-time.After(wait):
				t.Fatal("no message")
			}
		})
	}
}
