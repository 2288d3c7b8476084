package mqtt_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/packets"

	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/mtp/mqtt"
)

// TestPublishQoS2 checks the sending side of QoS 2 [R-MQTT.20]: PUBLISH,
// PUBREC from the server, PUBREL, PUBCOMP from the server. Send returns
// once the PUBLISH is written, without waiting for the PUBREC.
func TestPublishQoS2(t *testing.T) {
	s := newScript(t)
	o := &mqtt.Options{URL: s.url(), EndpointID: "proto::x", Topic: "usp/a", PublishQoS: mqtt.QoS2, KeepAlive: -1}
	st := newStates()
	o.OnState = st.onState
	c := mqtt.NewClient(o)
	serve(t, c, newInbox())
	s.handshake(&packets.Connack{}, nil)
	st.wait(t, mtp.StateUp, 10*time.Second)
	if err := c.Send(context.Background(), "usp/b", []byte("exactly once")); err != nil {
		t.Fatalf("Send: %v", err)
	}
	pub := s.expect(packets.PUBLISH).Content.(*packets.Publish)
	if pub.QoS != 2 || pub.Duplicate || string(pub.Payload) != "exactly once" {
		t.Fatalf("PUBLISH %v", pub)
	}
	s.write(&packets.Pubrec{PacketID: pub.PacketID})
	if rel := s.expect(packets.PUBREL).Content.(*packets.Pubrel); rel.PacketID != pub.PacketID {
		t.Fatalf("PUBREL for %d, want %d", rel.PacketID, pub.PacketID)
	}
	s.write(&packets.Pubcomp{PacketID: pub.PacketID})
	// The identifier is free again: the next publication goes at once.
	if err := c.Send(context.Background(), "usp/b", []byte("next")); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if next := s.expect(packets.PUBLISH).Content.(*packets.Publish); string(next.Payload) != "next" {
		t.Fatalf("PUBLISH %v", next)
	}
}

// TestServerReceiveMaximum checks that the client keeps no more QoS 1
// PUBLISH packets unacknowledged than the CONNACK's Receive Maximum
// allows ([MQTT-4.9.0-2]) without blocking Send: the others wait in
// order, up to Options.QueueLen, then Send says mtp.ErrQueueFull. A
// refusing PUBACK (reason code 0x80 and above) is logged and frees its
// place.
func TestServerReceiveMaximum(t *testing.T) {
	s := newScript(t)
	logs := &logBuf{}
	o := &mqtt.Options{URL: s.url(), EndpointID: "proto::x", Topic: "usp/a", KeepAlive: -1, QueueLen: 2,
		Logger: slog.New(slog.NewTextHandler(logs, nil))}
	st := newStates()
	o.OnState = st.onState
	c := mqtt.NewClient(o)
	serve(t, c, newInbox())
	one := uint16(1)
	s.handshake(&packets.Connack{Properties: &packets.Properties{ReceiveMaximum: &one}}, nil)
	st.wait(t, mtp.StateUp, 10*time.Second)
	for i, want := range []error{nil, nil, nil, mtp.ErrQueueFull} {
		err := c.Send(context.Background(), "usp/b", []byte{'0' + byte(i)})
		if !errors.Is(err, want) {
			t.Fatalf("Send %d: %v, want %v", i, err, want)
		}
	}
	first := s.expect(packets.PUBLISH).Content.(*packets.Publish)
	_ = s.nc.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if p, err := packets.ReadPacket(s.nc); err == nil {
		t.Fatalf("second packet %v before the first PUBACK, with Receive Maximum 1", p)
	}
	s.write(&packets.Puback{PacketID: first.PacketID, ReasonCode: 0x97})
	second := s.expect(packets.PUBLISH).Content.(*packets.Publish)
	s.write(&packets.Puback{PacketID: second.PacketID})
	third := s.expect(packets.PUBLISH).Content.(*packets.Publish)
	if got := string(first.Payload) + string(second.Payload) + string(third.Payload); got != "012" {
		t.Errorf("payloads %q in that order, want \"012\"", got)
	}
	s.write(&packets.Puback{PacketID: third.PacketID})
	if !strings.Contains(logs.String(), "reason_code=151") {
		t.Errorf("no log of the refusal 0x97; log:\n%s", logs.String())
	}
}

// TestServerDisconnect checks that a DISCONNECT from the server ends the
// connection with its reason code and Reason String in the error, and
// that the client connects again [R-MQTT.10].
func TestServerDisconnect(t *testing.T) {
	s := newScript(t)
	o := &mqtt.Options{URL: s.url(), EndpointID: "proto::x", Topic: "usp/a", KeepAlive: -1, MinWait: 20 * time.Millisecond}
	st := newStates()
	o.OnState = st.onState
	serve(t, mqtt.NewClient(o), newInbox())
	s.handshake(&packets.Connack{}, nil)
	st.wait(t, mtp.StateUp, 10*time.Second)
	s.write(&packets.Disconnect{ReasonCode: 0x8b, Properties: &packets.Properties{ReasonString: "server shutting down"}})
	e := st.wait(t, mtp.StateDown, 10*time.Second)
	if e.Err == nil || !strings.Contains(e.Err.Error(), "0x8b") || !strings.Contains(e.Err.Error(), "server shutting down") {
		t.Errorf("down with %v, want the reason code and string", e.Err)
	}
	s.handshake(&packets.Connack{}, nil)
	st.wait(t, mtp.StateUp, 10*time.Second)
}
