package mqtt_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/packets"

	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/mtp/mqtt"
)

// TestPublishQoS2 checks the sending side of QoS 2 [R-MQTT.20]: PUBLISH,
// PUBREC from the server, PUBREL, PUBCOMP from the server, and only then
// does Send return.
func TestPublishQoS2(t *testing.T) {
	s := newScript(t)
	o := &mqtt.Options{URL: s.url(), EndpointID: "proto::x", Topic: "usp/a", PublishQoS: mqtt.QoS2, KeepAlive: -1}
	st := newStates()
	o.OnState = st.onState
	c := mqtt.NewClient(o)
	serve(t, c, newInbox())
	s.handshake(&packets.Connack{}, nil)
	st.wait(t, mtp.StateUp, 10*time.Second)
	sent := make(chan error, 1)
	go func() { sent <- c.Send(context.Background(), "usp/b", []byte("exactly once")) }()
	pub := s.expect(packets.PUBLISH).Content.(*packets.Publish)
	if pub.QoS != 2 || string(pub.Payload) != "exactly once" {
		t.Fatalf("PUBLISH %v", pub)
	}
	s.write(&packets.Pubrec{PacketID: pub.PacketID})
	if rel := s.expect(packets.PUBREL).Content.(*packets.Pubrel); rel.PacketID != pub.PacketID {
		t.Fatalf("PUBREL for %d, want %d", rel.PacketID, pub.PacketID)
	}
	select {
	case err := <-sent:
		t.Fatalf("Send returned %v before PUBCOMP", err)
	case <-time.After(100 * time.Millisecond):
	}
	s.write(&packets.Pubcomp{PacketID: pub.PacketID})
	if err := <-sent; err != nil {
		t.Fatalf("Send: %v", err)
	}
}

// TestServerReceiveMaximum checks that the client keeps no more QoS 1
// PUBLISH packets unacknowledged than the CONNACK's Receive Maximum
// allows, and that a refusing PUBACK (reason code 0x80 and above) is
// Send's error.
func TestServerReceiveMaximum(t *testing.T) {
	s := newScript(t)
	o := &mqtt.Options{URL: s.url(), EndpointID: "proto::x", Topic: "usp/a", KeepAlive: -1}
	st := newStates()
	o.OnState = st.onState
	c := mqtt.NewClient(o)
	serve(t, c, newInbox())
	one := uint16(1)
	s.handshake(&packets.Connack{Properties: &packets.Properties{ReceiveMaximum: &one}}, nil)
	st.wait(t, mtp.StateUp, 10*time.Second)
	sent := make(chan error, 2)
	for range 2 {
		go func() { sent <- c.Send(context.Background(), "usp/b", []byte("r")) }()
	}
	first := s.expect(packets.PUBLISH).Content.(*packets.Publish)
	_ = s.nc.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if p, err := packets.ReadPacket(s.nc); err == nil {
		t.Fatalf("second packet %v before the first PUBACK, with Receive Maximum 1", p)
	}
	s.write(&packets.Puback{PacketID: first.PacketID, ReasonCode: 0x97})
	second := s.expect(packets.PUBLISH).Content.(*packets.Publish)
	s.write(&packets.Puback{PacketID: second.PacketID})
	var refused, ok int
	for range 2 {
		if err := <-sent; err == nil {
			ok++
		} else if strings.Contains(err.Error(), "0x97") {
			refused++
		} else {
			t.Errorf("Send: %v", err)
		}
	}
	if refused != 1 || ok != 1 {
		t.Errorf("%d refused and %d sent, want one of each", refused, ok)
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
