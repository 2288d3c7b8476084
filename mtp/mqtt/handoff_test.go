package mqtt_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/packets"

	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/mtp/mqtt"
)

// TestHandOff checks Client.HandOff: a Handler that calls it and then
// blocks does not hold back the next Record, which reaches the Handler
// while the first is still in it; a Handler that does not call it gets the
// Records one at a time, in order, the second only once the first
// returned. Every Record is acknowledged [R-MQTT.20] either way.
func TestHandOff(t *testing.T) {
	for _, handOff := range []bool{true, false} {
		t.Run(fmt.Sprint("HandOff=", handOff), func(t *testing.T) {
			s := newScript(t)
			o := &mqtt.Options{URL: s.url(), EndpointID: "proto::x", Topic: "usp/a", ConnectTimeout: 10 * time.Second, KeepAlive: -1}
			st := newStates()
			o.OnState = st.onState
			c := mqtt.NewClient(o)
			gate := make(chan struct{})
			got := make(chan string, 10)
			serve(t, c, mtp.HandlerFunc(func(ctx context.Context, in mtp.Inbound) {
				if handOff {
					c.HandOff()
				}
				got <- string(in.Record)
				if string(in.Record) == "first" {
					select {
					case <-gate:
					case <-time.After(10 * time.Second):
					}
				}
			}))
			s.handshake(&packets.Connack{}, nil)
			st.wait(t, mtp.StateUp, 10*time.Second)
			var b bytes.Buffer
			for i, rec := range []string{"first", "second"} {
				p := &packets.Publish{QoS: 1, PacketID: uint16(20 + i), Topic: "usp/a", Payload: []byte(rec), Properties: &packets.Properties{}}
				if _, err := p.WriteTo(&b); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := s.nc.Write(b.Bytes()); err != nil {
				t.Fatal(err)
			}
			if r := <-got; r != "first" {
				t.Fatalf("first Record delivered %q", r)
			}
			select {
			case r := <-got:
				if !handOff {
					t.Fatalf("%q delivered while the Handler of the first was running, without HandOff", r)
				}
				if r != "second" {
					t.Fatalf("second Record delivered %q", r)
				}
				close(gate)
			case <-time.After(300 * time.Millisecond):
				if handOff {
					t.Fatal("the second Record waited for the Handler of the first, which called HandOff")
				}
				close(gate)
				if r := <-got; r != "second" {
					t.Fatalf("second Record delivered %q", r)
				}
			}
			for want := uint16(20); want < 22; {
				if p, ok := s.read().Content.(*packets.Puback); ok {
					if p.PacketID != want {
						t.Fatalf("PUBACK %d, want %d", p.PacketID, want)
					}
					want++
				}
			}
			// The connection still works after the hand-over.
			s.write(&packets.Publish{QoS: 1, PacketID: 30, Topic: "usp/a", Payload: []byte("third"), Properties: &packets.Properties{}})
			select {
			case r := <-got:
				if r != "third" {
					t.Fatalf("third Record delivered %q", r)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("no third Record")
			}
		})
	}
}
