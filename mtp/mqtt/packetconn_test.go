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

// TestV5PacketPerWrite checks that an MQTT 5.0 client sends each PUBLISH
// in one write, not in the three to five pieces the protocol library
// writes it in (each a system call and a TCP segment of its own, which
// made MQTT 5.0 half as fast as 3.1.1 under load): each of a run of
// PUBLISH packets, sent one at a time, arrives whole in one read on
// loopback.
func TestV5PacketPerWrite(t *testing.T) {
	s := newScript(t)
	o := &mqtt.Options{URL: s.url(), EndpointID: "proto::x", Topic: "usp/a", ConnectTimeout: 10 * time.Second, KeepAlive: -1}
	st := newStates()
	o.OnState = st.onState
	c := mqtt.NewClient(o)
	serve(t, c, newInbox())
	s.handshake(&packets.Connack{}, nil)
	st.wait(t, mtp.StateUp, 10*time.Second)
	buf := make([]byte, 64<<10)
	for i := range 100 {
		rec := fmt.Appendf(nil, "record %d", i)
		sent := make(chan error, 1)
		go func() { sent <- c.Send(context.Background(), "usp/b", rec) }()
		_ = s.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
		n, err := s.nc.Read(buf)
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		if want := wholePacket(buf[:n]); n != want {
			t.Fatalf("PUBLISH %d: first read has %d bytes, want the whole packet of %d", i, n, want)
		}
		cp, err := packets.ReadPacket(bytes.NewReader(buf[:n]))
		if err != nil || cp.Type != packets.PUBLISH {
			t.Fatalf("read %v, %v; want a PUBLISH", cp, err)
		}
		s.write(&packets.Puback{PacketID: cp.PacketID()})
		if err := <-sent; err != nil {
			t.Fatalf("Send: %v", err)
		}
	}
}

// wholePacket returns the length of the MQTT packet that b starts with
// (its fixed header and Remaining Length), or -1 when b is too short to
// tell.
func wholePacket(b []byte) int {
	n, shift := 0, 0
	for i := 1; i < len(b) && i <= 4; i++ {
		n |= int(b[i]&0x7f) << shift
		if b[i] < 0x80 {
			return 1 + i + n
		}
		shift += 7
	}
	return -1
}

// TestReceiveMaximum checks that the CONNECT carries Options.ReceiveMaximum
// when set, and no Receive Maximum by default.
func TestReceiveMaximum(t *testing.T) {
	for _, want := range []uint16{0, 64} {
		t.Run(fmt.Sprint(want), func(t *testing.T) {
			s := newScript(t)
			o := &mqtt.Options{URL: s.url(), EndpointID: "proto::x", Topic: "usp/a", ReceiveMaximum: want}
			c := mqtt.NewClient(o)
			serve(t, c, newInbox())
			cp, _ := s.handshake(&packets.Connack{}, nil)
			got := cp.Properties.ReceiveMaximum
			switch {
			case want == 0 && got != nil:
				t.Errorf("CONNECT Receive Maximum %d, want none", *got)
			case want != 0 && (got == nil || *got != want):
				t.Errorf("CONNECT Receive Maximum %v, want %d", got, want)
			}
		})
	}
}
