package mqtt_test

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/packets"

	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/mtp/mqtt"
)

// logBuf is an io.Writer for a test's logger, safe for concurrent use.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestPubackNeverComes checks a QoS 1 publication whose PUBACK does not
// come: Send has returned, the connection ends after Options.WriteTimeout
// and, the server having kept no session, the Record goes again as a new
// PUBLISH on the next connection [R-MQTT.20].
func TestPubackNeverComes(t *testing.T) {
	s := newScript(t)
	o := &mqtt.Options{URL: s.url(), EndpointID: "proto::x", Topic: "usp/a", KeepAlive: -1,
		WriteTimeout: 300 * time.Millisecond, MinWait: 20 * time.Millisecond}
	st := newStates()
	o.OnState = st.onState
	c := mqtt.NewClient(o)
	serve(t, c, newInbox())
	s.handshake(&packets.Connack{}, nil)
	st.wait(t, mtp.StateUp, 10*time.Second)
	start := time.Now()
	if err := c.Send(context.Background(), "usp/b", []byte("lost ack")); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if d := time.Since(start); d > 200*time.Millisecond {
		t.Errorf("Send took %v: it waited for the PUBACK", d)
	}
	first := s.expect(packets.PUBLISH).Content.(*packets.Publish)
	if e := st.wait(t, mtp.StateDown, 10*time.Second); e.Err == nil {
		t.Error("connection down without an error")
	}
	if d := time.Since(start); d < 250*time.Millisecond {
		t.Errorf("connection ended after %v, before the WriteTimeout", d)
	}
	s.handshake(&packets.Connack{}, nil)
	st.wait(t, mtp.StateUp, 10*time.Second)
	again := s.expect(packets.PUBLISH).Content.(*packets.Publish)
	if string(again.Payload) != "lost ack" || again.Duplicate {
		t.Fatalf("PUBLISH %q dup=%v after a clean start, want the Record as a new PUBLISH", again.Payload, again.Duplicate)
	}
	_ = first
	s.write(&packets.Puback{PacketID: again.PacketID})
}

// TestReconnectInFlight checks publications in flight when the
// connection breaks: with Options.KeepSession and a CONNACK saying
// Session Present, the unacknowledged PUBLISH packets are sent again
// first, in order, with DUP and their Packet Identifiers, and a QoS 2 one
// whose PUBREC came as PUBREL [MQTT-4.4.0-1]; without a session they go
// as new PUBLISH packets.
func TestReconnectInFlight(t *testing.T) {
	for _, qos := range []mqtt.QoS{mqtt.QoS1, mqtt.QoS2} {
		t.Run(map[mqtt.QoS]string{mqtt.QoS1: "qos1", mqtt.QoS2: "qos2"}[qos], func(t *testing.T) {
			s := newScript(t)
			o := &mqtt.Options{URL: s.url(), EndpointID: "proto::x", Topic: "usp/a", KeepAlive: -1, PublishQoS: qos,
				ClientID: "keep", KeepSession: true, SessionExpiry: time.Minute, MinWait: 20 * time.Millisecond}
			st := newStates()
			o.OnState = st.onState
			c := mqtt.NewClient(o)
			serve(t, c, newInbox())
			s.handshake(&packets.Connack{}, nil)
			st.wait(t, mtp.StateUp, 10*time.Second)
			var ids []uint16
			for _, r := range []string{"a", "b", "c"} {
				if err := c.Send(context.Background(), "usp/b", []byte(r)); err != nil {
					t.Fatalf("Send: %v", err)
				}
				p := s.expect(packets.PUBLISH).Content.(*packets.Publish)
				ids = append(ids, p.PacketID)
			}
			if qos == mqtt.QoS2 {
				s.write(&packets.Pubrec{PacketID: ids[0]})
				s.expect(packets.PUBREL)
			} else {
				s.write(&packets.Puback{PacketID: ids[0]})
			}
			// "b" and "c" are in flight (and, at QoS 2, "a" is released).
			s.nc.Close()
			st.wait(t, mtp.StateDown, 10*time.Second)

			s.handshake(&packets.Connack{SessionPresent: true}, nil)
			if qos == mqtt.QoS2 {
				if rel := s.expect(packets.PUBREL).Content.(*packets.Pubrel); rel.PacketID != ids[0] {
					t.Fatalf("PUBREL for %d, want %d", rel.PacketID, ids[0])
				}
			}
			for i, want := range []string{"b", "c"} {
				p := s.expect(packets.PUBLISH).Content.(*packets.Publish)
				if string(p.Payload) != want || !p.Duplicate || p.PacketID != ids[i+1] {
					t.Fatalf("PUBLISH %q dup=%v id %d, want %q again with DUP and id %d", p.Payload, p.Duplicate, p.PacketID, want, ids[i+1])
				}
			}
			// Not acknowledged this time either; the next server keeps no
			// session: new PUBLISH packets.
			st.wait(t, mtp.StateUp, 10*time.Second)
			s.nc.Close()
			st.wait(t, mtp.StateDown, 10*time.Second)
			s.handshake(&packets.Connack{}, nil)
			var got []string
			for range 2 {
				p := s.expect(packets.PUBLISH).Content.(*packets.Publish)
				if p.Duplicate {
					t.Errorf("PUBLISH %q with DUP after a clean start", p.Payload)
				}
				got = append(got, string(p.Payload))
			}
			if got[0] != "b" || got[1] != "c" {
				t.Errorf("sent again %q, want b, c", got)
			}
		})
	}
}

// TestAnswerThenCloseFromHandler checks a Handler, called from the connection's
// reader, that answers and then closes the Client: nothing waits for the
// reader, the answer and the DISCONNECT [R-MQTT.35] go out, and Serve
// returns.
func TestAnswerThenCloseFromHandler(t *testing.T) {
	s := newScript(t)
	o := &mqtt.Options{URL: s.url(), EndpointID: "proto::x", Topic: "usp/a", KeepAlive: -1}
	st := newStates()
	o.OnState = st.onState
	c := mqtt.NewClient(o)
	served := make(chan error, 1)
	go func() {
		served <- c.Serve(context.Background(), mtp.HandlerFunc(func(ctx context.Context, in mtp.Inbound) {
			if err := c.Send(ctx, in.From.Address, []byte("answer")); err != nil {
				t.Errorf("Send from the Handler: %v", err)
			}
			c.Close()
		}))
	}()
	s.handshake(&packets.Connack{}, nil)
	st.wait(t, mtp.StateUp, 10*time.Second)
	s.write(&packets.Publish{QoS: 1, PacketID: 7, Topic: "usp/a", Payload: []byte("request"),
		Properties: &packets.Properties{ResponseTopic: "usp/c"}})
	var got []string
	for len(got) < 3 {
		cp := s.read()
		got = append(got, cp.PacketType())
		if cp.Type == packets.PUBLISH {
			if p := cp.Content.(*packets.Publish); p.Topic != "usp/c" || string(p.Payload) != "answer" {
				t.Errorf("PUBLISH %q to %q", p.Payload, p.Topic)
			}
		}
		if cp.Type == packets.DISCONNECT {
			break
		}
	}
	if len(got) != 3 || got[0] != "PUBACK" || got[1] != "PUBLISH" || got[2] != "DISCONNECT" {
		t.Errorf("the client sent %v, want PUBACK, PUBLISH, DISCONNECT", got)
	}
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after a Handler's Close")
	}
}
