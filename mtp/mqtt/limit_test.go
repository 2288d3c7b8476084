package mqtt_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/packets"

	"github.com/uspkit/uspkit/broker"
	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/mtp/mqtt"
)

// TestSendLimitFromServer checks that an MQTT 5.0 server's Maximum Packet
// Size, not Options.MaxRecord, is the send limit: a Record over MaxRecord
// that the server takes is sent, and MaxRecord reports what is left of
// the server's limit after the PUBLISH's Topic and properties.
func TestSendLimitFromServer(t *testing.T) {
	s := newScript(t)
	o := &mqtt.Options{URL: s.url(), EndpointID: "proto::x", Topic: "usp/a", MaxRecord: 100}
	st := newStates()
	o.OnState = st.onState
	c := mqtt.NewClient(o)
	if got := c.MaxRecord(); got != 100 {
		t.Fatalf("MaxRecord before a CONNACK = %d, want Options.MaxRecord 100", got)
	}
	serve(t, c, newInbox())
	limit := uint32(1000)
	s.handshake(&packets.Connack{Properties: &packets.Properties{MaximumPacketSize: &limit}}, nil)
	st.wait(t, mtp.StateUp, 10*time.Second)
	max := c.MaxRecord()
	if max <= 900 || max >= 1000 {
		t.Fatalf("MaxRecord = %d, want a little under the server's 1000", max)
	}
	if err := c.Send(context.Background(), "usp/b", make([]byte, 1000)); !errors.Is(err, mtp.ErrTooLarge) {
		t.Fatalf("Send of the server's limit = %v, want ErrTooLarge", err)
	}
	if err := c.Send(context.Background(), "usp/a", make([]byte, max)); err != nil {
		t.Fatalf("Send of MaxRecord() bytes, over Options.MaxRecord, under the server's limit = %v", err)
	}
	pub := s.expect(packets.PUBLISH).Content.(*packets.Publish)
	if len(pub.Payload) != max {
		t.Fatalf("PUBLISH of %d bytes, want %d", len(pub.Payload), max)
	}
	s.write(&packets.Puback{PacketID: pub.PacketID})
}

// TestDefaultMaxRecord checks the default limit: 5 MiB, the size the
// reference Agent carries.
func TestDefaultMaxRecord(t *testing.T) {
	if mqtt.DefaultMaxRecord != 5<<20 {
		t.Fatalf("DefaultMaxRecord = %d, want 5 MiB", mqtt.DefaultMaxRecord)
	}
	c := mqtt.NewClient(&mqtt.Options{EndpointID: "proto::x", Topic: "usp/a"})
	if got := c.MaxRecord(); got != 5<<20 {
		t.Fatalf("MaxRecord = %d, want 5 MiB", got)
	}
}

// TestConnectMaximumPacketSize checks the Maximum Packet Size of the
// CONNECT: Options.MaxPacketSize (the data model's
// MQTT.Client.{i}.MaximumPacketSize) when set, else room for a Record of
// Options.MaxRecord.
func TestConnectMaximumPacketSize(t *testing.T) {
	tests := []struct {
		name      string
		maxRecord int
		maxPacket uint32
		want      func(uint32) bool
	}{
		{"DataModel", 0, 70000, func(v uint32) bool { return v == 70000 }},
		{"DataModelOverMaxRecord", 1 << 20, 64 << 20, func(v uint32) bool { return v > 1<<20 && v < 1<<20+256<<10 }},
		{"FromMaxRecord", 1 << 20, 0, func(v uint32) bool { return v > 1<<20 && v < 1<<20+256<<10 }},
		{"Default", 0, 0, func(v uint32) bool { return v > mqtt.DefaultMaxRecord }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newScript(t)
			o := &mqtt.Options{URL: s.url(), EndpointID: "proto::x", Topic: "usp/a", MaxRecord: tc.maxRecord, MaxPacketSize: tc.maxPacket}
			st := newStates()
			o.OnState = st.onState
			serve(t, mqtt.NewClient(o), newInbox())
			cp, _ := s.handshake(&packets.Connack{}, nil)
			st.wait(t, mtp.StateUp, 10*time.Second)
			if cp.Properties == nil || cp.Properties.MaximumPacketSize == nil || !tc.want(*cp.Properties.MaximumPacketSize) {
				t.Fatalf("CONNECT Maximum Packet Size %v", cp.Properties.MaximumPacketSize)
			}
		})
	}
}

// TestEmbeddedBrokerTakesDefaultRecord checks that the embedded broker's
// default Maximum Packet Size and the client's default record limit
// agree: a Record of mqtt.DefaultMaxRecord goes from one client to the
// other through it, over MQTT 5.0 (where the CONNACK's limit is the send
// limit) and 3.1.1.
func TestEmbeddedBrokerTakesDefaultRecord(t *testing.T) {
	brk, err := broker.New(&broker.Options{Addr: "127.0.0.1:0", AllowAnonymous: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := brk.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { brk.Close() })
	for _, v := range []mqtt.Version{mqtt.V5, mqtt.V311} {
		t.Run(v.String(), func(t *testing.T) {
			id := randID()
			client := func(topic string, ib inbox) *mqtt.Client {
				st := newStates()
				c := mqtt.NewClient(&mqtt.Options{URL: "tcp://" + brk.Addrs().TCP, Version: v, EndpointID: "proto::" + topic[len(topic)-1:] + id,
					Topic: topic, OnState: st.onState})
				serve(t, c, ib)
				st.wait(t, mtp.StateUp, 10*time.Second)
				return c
			}
			a := client("usp/big/"+id+"/a", newInbox())
			ib := newInbox()
			client("usp/big/"+id+"/b", ib)
			if max := a.MaxRecord(); max < mqtt.DefaultMaxRecord {
				t.Fatalf("MaxRecord %d through the embedded broker, under the default %d", max, mqtt.DefaultMaxRecord)
			}
			rec := make([]byte, mqtt.DefaultMaxRecord)
			rec[len(rec)-1] = 7
			if err := a.Send(context.Background(), "usp/big/"+id+"/b", rec); err != nil {
				t.Fatal(err)
			}
			if in := ib.next(t, 20*time.Second); len(in.Record) != len(rec) || in.Record[len(rec)-1] != 7 {
				t.Fatalf("received %d bytes, want %d", len(in.Record), len(rec))
			}
		})
	}
}
