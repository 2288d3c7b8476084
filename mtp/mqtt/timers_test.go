package mqtt_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/packets"

	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/mtp/mqtt"
)

// TestHandOffAfterQuickHandlers checks that the hand-over timer a quick
// Handler left running still hands the reading over for a slow Handler
// that follows it: "quick" calls HandOff and returns at once, "slow"
// calls HandOff and blocks, and "third", sent with them, must reach the
// Handler while "slow" is still in it. Every Record is acknowledged
// [R-MQTT.20].
func TestHandOffAfterQuickHandlers(t *testing.T) {
	s := newScript(t)
	o := &mqtt.Options{URL: s.url(), EndpointID: "proto::x", Topic: "usp/a", ConnectTimeout: 10 * time.Second, KeepAlive: -1}
	st := newStates()
	o.OnState = st.onState
	c := mqtt.NewClient(o)
	gate := make(chan struct{})
	got := make(chan string, 10)
	serve(t, c, mtp.HandlerFunc(func(ctx context.Context, in mtp.Inbound) {
		c.HandOff()
		got <- string(in.Record)
		if string(in.Record) == "slow" {
			select {
			case <-gate:
			case <-time.After(10 * time.Second):
			}
		}
	}))
	s.handshake(&packets.Connack{}, nil)
	st.wait(t, mtp.StateUp, 10*time.Second)
	var b bytes.Buffer
	recs := []string{"quick1", "quick2", "quick3", "slow", "third"}
	for i, rec := range recs {
		p := &packets.Publish{QoS: 1, PacketID: uint16(40 + i), Topic: "usp/a", Payload: []byte(rec), Properties: &packets.Properties{}}
		if _, err := p.WriteTo(&b); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.nc.Write(b.Bytes()); err != nil {
		t.Fatal(err)
	}
	for _, want := range recs {
		select {
		case r := <-got:
			if r != want {
				t.Fatalf("delivered %q, want %q", r, want)
			}
		case <-time.After(2 * time.Second):
			close(gate)
			t.Fatalf("%q not delivered while \"slow\" was in the Handler", want)
		}
	}
	close(gate)
	for want := uint16(40); want < 45; {
		if p, ok := s.read().Content.(*packets.Puback); ok {
			if p.PacketID != want {
				t.Fatalf("PUBACK %d, want %d", p.PacketID, want)
			}
			want++
		}
	}
}
