package mqtt_test

import (
	"context"
	"errors"
	"io"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/packets"

	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/mtp/mqtt"
)

// mosquitto sends neither Response Information nor "subscribe-topic"
// User Properties in its CONNACK, nor refuses a subscription: these tests
// script an MQTT 5.0 server with the packet codec of paho.golang, one
// packet at a time, on a loopback listener.

// script is the server side of the scripted tests.
type script struct {
	t  *testing.T
	ln net.Listener
	nc net.Conn
}

func newScript(t *testing.T) *script {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &script{t: t, ln: ln}
	t.Cleanup(func() {
		ln.Close()
		if s.nc != nil {
			s.nc.Close()
		}
	})
	return s
}

func (s *script) url() string { return "tcp://" + s.ln.Addr().String() }

// accept takes the next connection, closing the previous one.
func (s *script) accept() {
	s.t.Helper()
	if s.nc != nil {
		s.nc.Close()
	}
	_ = s.ln.(*net.TCPListener).SetDeadline(time.Now().Add(10 * time.Second))
	nc, err := s.ln.Accept()
	if err != nil {
		s.t.Fatalf("accept: %v", err)
	}
	s.nc = nc
}

// read returns the next packet from the client but PINGREQ, which it
// answers.
func (s *script) read() *packets.ControlPacket {
	s.t.Helper()
	for {
		_ = s.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
		cp, err := packets.ReadPacket(s.nc)
		if err != nil {
			s.t.Fatalf("read packet: %v", err)
		}
		if cp.Type != packets.PINGREQ {
			return cp
		}
		s.write(packets.NewControlPacket(packets.PINGRESP))
	}
}

// expect reads the next packet and checks its type.
func (s *script) expect(typ byte) *packets.ControlPacket {
	s.t.Helper()
	cp := s.read()
	if cp.Type != typ {
		s.t.Fatalf("received %s, want %s", cp.PacketType(), (&packets.ControlPacket{FixedHeader: packets.FixedHeader{Type: typ}}).PacketType())
	}
	return cp
}

func (s *script) write(p io.WriterTo) {
	s.t.Helper()
	if _, err := p.WriteTo(s.nc); err != nil {
		s.t.Fatalf("write: %v", err)
	}
}

// handshake reads CONNECT, answers ack, reads SUBSCRIBE and answers with
// codes (all granted at QoS 1 when nil). It returns the CONNECT and the
// subscribed filters.
func (s *script) handshake(ack *packets.Connack, codes []byte) (*packets.Connect, []string) {
	s.t.Helper()
	s.accept()
	cp := s.expect(packets.CONNECT).Content.(*packets.Connect)
	s.write(ack)
	sub := s.expect(packets.SUBSCRIBE).Content.(*packets.Subscribe)
	var filters []string
	for _, o := range sub.Subscriptions {
		filters = append(filters, o.Topic)
		if codes == nil || len(codes) < len(sub.Subscriptions) {
			codes = append(codes, 1)
		}
	}
	s.write(&packets.Suback{PacketID: sub.PacketID, Reasons: codes[:len(sub.Subscriptions)]})
	return cp, filters
}

func user(kv ...string) []packets.User {
	var u []packets.User
	for i := 0; i+1 < len(kv); i += 2 {
		u = append(u, packets.User{Key: kv[i], Value: kv[i+1]})
	}
	return u
}

// TestConnackGrant follows one client over three connections to a
// scripted server:
//
//  1. CONNECT has an empty ClientId [R-MQTT.8], the credentials
//     [R-MQTT.7], the Keep Alive [R-MQTT.14], Request Response
//     Information 1 [R-MQTT.12] and the "usp-endpoint-id" User Property
//     [R-MQTT.13]. The CONNACK assigns a ClientId [R-MQTT.9], gives
//     Response Information and "subscribe-topic" User Properties: the
//     SUBSCRIBE has the configured filters, every valid "subscribe-topic"
//     and the Response Information, not the configured Topic
//     [R-MQTT.15]; the Response Information becomes the "reply to" Topic
//     of PUBLISH packets [R-MQTT.21], [R-MQTT.23].
//  2. After the server drops the connection, CONNECT reuses the assigned
//     ClientId [R-MQTT.11]. The server refuses every subscription: the
//     client publishes nothing and disconnects [R-MQTT.17].
//  3. CONNECT again; a CONNACK without Response Information: the
//     configured Topic is subscribed and is the "reply to" Topic; one
//     refused subscription of three does not stop the client, which
//     publishes what was queued. Close says DISCONNECT [R-MQTT.35].
func TestConnackGrant(t *testing.T) {
	s := newScript(t)
	o := &mqtt.Options{
		URL: s.url(), EndpointID: "os::00256D-0123456789", Topic: "usp/agent/configured",
		Subscriptions: []string{"usp/extra/#"}, Username: "agent", Password: "secret",
		KeepAlive: 42 * time.Second, MinWait: 20 * time.Millisecond, ConnectTimeout: 10 * time.Second,
	}
	st, lg, ib := newStates(), &logs{}, newInbox()
	o.OnState, o.Logger = st.onState, slogOf(lg)
	c := mqtt.NewClient(o)
	serve(t, c, ib)

	// 1.
	cp, filters := s.handshake(&packets.Connack{Properties: &packets.Properties{
		AssignedClientID: "assigned-1",
		ResponseInfo:     "usp/agent/from-server",
		User: user("subscribe-topic", "usp/sub/a/#", "other", "x",
			"subscribe-topic", "usp/bad/#/x", "subscribe-topic", "usp/sub/b"),
	}}, nil)
	if cp.ProtocolVersion != 5 || cp.ClientID != "" || !cp.CleanStart || cp.KeepAlive != 42 ||
		!cp.UsernameFlag || cp.Username != "agent" || !cp.PasswordFlag || string(cp.Password) != "secret" {
		t.Errorf("CONNECT %v", cp)
	}
	if p := cp.Properties; p == nil || p.RequestResponseInfo == nil || *p.RequestResponseInfo != 1 ||
		!slices.Equal(p.User, user("usp-endpoint-id", o.EndpointID)) {
		t.Errorf("CONNECT properties %v, want Request Response Information 1 and usp-endpoint-id %q", cp.Properties, o.EndpointID)
	}
	if want := []string{"usp/extra/#", "usp/sub/a/#", "usp/sub/b", "usp/agent/from-server"}; !slices.Equal(filters, want) {
		t.Errorf("SUBSCRIBE %q, want %q", filters, want)
	}
	st.wait(t, mtp.StateUp, 10*time.Second)
	if c.Topic() != "usp/agent/from-server" || c.ClientID() != "assigned-1" {
		t.Errorf("Topic() %q ClientID() %q, want the CONNACK's", c.Topic(), c.ClientID())
	}
	sent := make(chan error, 1)
	go func() { sent <- c.Send(context.Background(), "usp/controller", []byte("notify")) }()
	pub := s.expect(packets.PUBLISH).Content.(*packets.Publish)
	if pub.Topic != "usp/controller" || string(pub.Payload) != "notify" || pub.QoS != 1 ||
		pub.Properties.ResponseTopic != "usp/agent/from-server" || pub.Properties.ContentType != mqtt.ContentType {
		t.Errorf("PUBLISH %v", pub)
	}
	s.write(&packets.Puback{PacketID: pub.PacketID})
	if err := <-sent; err != nil {
		t.Fatalf("Send: %v", err)
	}
	s.write(&packets.Publish{QoS: 1, PacketID: 7, Topic: "usp/agent/from-server", Payload: []byte("get"),
		Properties: &packets.Properties{ResponseTopic: "usp/controller/1", ContentType: "usp.msg"}})
	if in := ib.next(t, 10*time.Second); string(in.Record) != "get" || in.From.Address != "usp/controller/1" {
		t.Errorf("received %q from %q", in.Record, in.From.Address)
	}
	if ack := s.expect(packets.PUBACK).Content.(*packets.Puback); ack.PacketID != 7 {
		t.Errorf("PUBACK for %d, want 7", ack.PacketID)
	}

	// 2.
	s.nc.Close()
	st.wait(t, mtp.StateDown, 10*time.Second)
	if err := c.Send(context.Background(), "usp/controller", []byte("queued")); err != nil {
		t.Fatal(err)
	}
	cp, filters = s.handshake(&packets.Connack{}, []byte{0x87, 0x87})
	if cp.ClientID != "assigned-1" {
		t.Errorf("second CONNECT with ClientId %q, want the assigned one", cp.ClientID)
	}
	if want := []string{"usp/extra/#", "usp/agent/configured"}; !slices.Equal(filters, want) {
		t.Errorf("SUBSCRIBE %q, want %q", filters, want)
	}
	if p := s.read(); p.Type != packets.DISCONNECT {
		t.Fatalf("after refused subscriptions: %s, want DISCONNECT", p.PacketType())
	}

	// 3.
	cp, _ = s.handshake(&packets.Connack{Properties: &packets.Properties{
		User: user("subscribe-topic", "usp/only")}}, []byte{0x87, 1, 1})
	if cp.ClientID != "assigned-1" {
		t.Errorf("third CONNECT with ClientId %q, want the assigned one", cp.ClientID)
	}
	st.wait(t, mtp.StateUp, 10*time.Second)
	pub = s.expect(packets.PUBLISH).Content.(*packets.Publish)
	if string(pub.Payload) != "queued" || pub.Properties.ResponseTopic != "usp/agent/configured" {
		t.Errorf("PUBLISH %v, want the queued record with the configured topic", pub)
	}
	s.write(&packets.Puback{PacketID: pub.PacketID})
	if c.Topic() != "usp/agent/configured" {
		t.Errorf("Topic() %q, want the configured one", c.Topic())
	}
	c.Close()
	if p := s.read(); p.Type != packets.DISCONNECT {
		t.Fatalf("on Close: %s, want DISCONNECT", p.PacketType())
	}
	if len(lg.find("mqtt: subscription refused")) != 3 {
		t.Errorf("refused subscriptions logged:\n%s", lg)
	}
}

// TestConnackSubscribeTopic checks that a client with no Topic answers on
// the CONNACK's first "subscribe-topic" that is not a filter with
// wildcards, and that with none it disconnects and considers the MTP
// disabled [R-MQTT.16].
func TestConnackSubscribeTopic(t *testing.T) {
	s := newScript(t)
	o := &mqtt.Options{URL: s.url(), EndpointID: "proto::x", MinWait: 20 * time.Millisecond}
	st := newStates()
	o.OnState = st.onState
	c := mqtt.NewClient(o)
	serve(t, c, newInbox())
	_, filters := s.handshake(&packets.Connack{Properties: &packets.Properties{
		User: user("subscribe-topic", "usp/agents/+/x", "subscribe-topic", "usp/agents/mine")}}, nil)
	if want := []string{"usp/agents/+/x", "usp/agents/mine"}; !slices.Equal(filters, want) {
		t.Errorf("SUBSCRIBE %q, want %q", filters, want)
	}
	st.wait(t, mtp.StateUp, 10*time.Second)
	if c.Topic() != "usp/agents/mine" {
		t.Errorf("Topic() = %q, want usp/agents/mine", c.Topic())
	}

	c2 := mqtt.NewClient(o)
	done := make(chan error, 1)
	go func() { done <- c2.Serve(context.Background(), newInbox()) }()
	s.accept()
	s.expect(packets.CONNECT)
	s.write(&packets.Connack{Properties: &packets.Properties{User: user("subscribe-topic", "usp/agents/#")}})
	if p := s.read(); p.Type != packets.DISCONNECT {
		t.Fatalf("without a reply-to topic: %s, want DISCONNECT", p.PacketType())
	}
	select {
	case err := <-done:
		if !errors.Is(err, mqtt.ErrNoTopic) {
			t.Fatalf("Serve = %v, want ErrNoTopic", err)
		}
	case <-time.After(10 * time.Second):
		c2.Close()
		t.Fatal("Serve did not return")
	}
}

// TestServerMaximumPacketSize checks that a Record the server's Maximum
// Packet Size cannot take is refused with mtp.ErrTooLarge rather than
// sent, which would make the server disconnect.
func TestServerMaximumPacketSize(t *testing.T) {
	s := newScript(t)
	o := &mqtt.Options{URL: s.url(), EndpointID: "proto::x", Topic: "usp/a"}
	st := newStates()
	o.OnState = st.onState
	c := mqtt.NewClient(o)
	serve(t, c, newInbox())
	limit := uint32(200)
	s.handshake(&packets.Connack{Properties: &packets.Properties{MaximumPacketSize: &limit}}, nil)
	st.wait(t, mtp.StateUp, 10*time.Second)
	if err := c.Send(context.Background(), "usp/b", make([]byte, 300)); !errors.Is(err, mtp.ErrTooLarge) {
		t.Fatalf("Send over the server's limit = %v, want ErrTooLarge", err)
	}
	go func() { _ = c.Send(context.Background(), "usp/b", make([]byte, 100)) }()
	pub := s.expect(packets.PUBLISH).Content.(*packets.Publish)
	s.write(&packets.Puback{PacketID: pub.PacketID})
}
