package conformance

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/packets"

	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/mtp/mqtt"
)

func packetBytes(t testing.TB, cp *packets.ControlPacket) []byte {
	t.Helper()
	var b bytes.Buffer
	if _, err := cp.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func connect5(t testing.TB) []byte {
	cp := packets.NewControlPacket(packets.CONNECT)
	c := cp.Content.(*packets.Connect)
	c.ClientID, c.KeepAlive, c.CleanStart = "tp469", 60, true
	c.Properties.User = []packets.User{{Key: "usp-endpoint-id", Value: "os::012345-X"}}
	return packetBytes(t, cp)
}

// TestReadMQTTPacket: the runner's packet reader takes MQTT 5.0 packets,
// tells another version's CONNECT apart and refuses malformed or
// oversized input.
func TestReadMQTTPacket(t *testing.T) {
	pub := (&packets.Publish{Topic: "usp/a", QoS: 1, PacketID: 7, Payload: []byte{1, 2, 3},
		Properties: &packets.Properties{ResponseTopic: "usp/c", ContentType: "usp.msg"}}).ToControlPacket()
	v311 := []byte{0x10, 0x10, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x02, 0, 60, 0, 4, 't', 'p', '4', '6'}
	for _, c := range []struct {
		name    string
		in      []byte
		typ     byte
		err     error // nil: no error; errAny: any error
		version byte
	}{
		{name: "CONNECT 5.0", in: connect5(t), typ: packets.CONNECT, version: 5},
		{name: "CONNECT 3.1.1", in: v311, typ: packets.CONNECT, err: errMQTTVersion, version: 4},
		{name: "PUBLISH", in: packetBytes(t, pub), typ: packets.PUBLISH},
		{name: "PINGREQ", in: []byte{0xc0, 0}, typ: packets.PINGREQ},
		{name: "remaining length of five bytes", in: []byte{0x30, 0xff, 0xff, 0xff, 0xff, 0x01}, err: errAny},
		{name: "over the limit", in: []byte{0x30, 0xff, 0x7f}, err: errAny},
		{name: "truncated", in: packetBytes(t, pub)[:6], err: errAny},
		{name: "unknown type", in: []byte{0x00, 0x00}, err: errAny},
		{name: "CONNECT without protocol name", in: []byte{0x10, 0x02, 0, 0}, err: errAny},
		{name: "empty", in: nil, err: errAny},
	} {
		t.Run(c.name, func(t *testing.T) {
			cp, err := readMQTTPacket(bufio.NewReader(bytes.NewReader(c.in)), 1024)
			switch {
			case c.err == errAny:
				if err == nil {
					t.Fatalf("no error, packet %v", cp)
				}
				return
			case c.err != nil:
				if !errors.Is(err, c.err) {
					t.Fatalf("error %v, want %v", err, c.err)
				}
			case err != nil:
				t.Fatal(err)
			}
			if cp.Type != c.typ {
				t.Fatalf("type %d, want %d", cp.Type, c.typ)
			}
			switch p := cp.Content.(type) {
			case *packets.Connect:
				if p.ProtocolVersion != c.version {
					t.Errorf("version %d, want %d", p.ProtocolVersion, c.version)
				}
			case *packets.Publish:
				if p.Topic != "usp/a" || p.QoS != 1 || p.PacketID != 7 || p.Properties.ResponseTopic != "usp/c" || !bytes.Equal(p.Payload, []byte{1, 2, 3}) {
					t.Errorf("PUBLISH %v", p)
				}
			}
		})
	}
}

var errAny = errors.New("any error")

func TestTopicMatch(t *testing.T) {
	for _, c := range []struct {
		filter, topic string
		want          bool
	}{
		{"a/b", "a/b", true},
		{"a/b", "a/c", false},
		{"a/#", "a/b/c", true},
		{"a/#", "a", true},
		{"#", "x/y", true},
		{"a/+/c", "a/b/c", true},
		{"a/+/c", "a/b/d", false},
		{"a/+", "a/b/c", false},
		{"a/b/c", "a/b", false},
	} {
		if got := topicMatch(c.filter, c.topic); got != c.want {
			t.Errorf("topicMatch(%q, %q) = %v, want %v", c.filter, c.topic, got, c.want)
		}
	}
}

// startMQTTClient serves an MQTT client of package mtp/mqtt, the Agent's
// own, against srv; records it receives go to got.
func startMQTTClient(t *testing.T, srv *mqttServer, o mqtt.Options, got chan<- mtp.Inbound) *mqtt.Client {
	t.Helper()
	o.URL = "tcp://" + srv.Addr().String()
	o.Version = mqtt.V5
	o.EndpointID = "os::012345-MQTTSRV"
	o.MinWait = time.Second
	c := mqtt.NewClient(&o)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = c.Serve(ctx, mtp.HandlerFunc(func(_ context.Context, in mtp.Inbound) {
			select {
			case got <- mtp.Inbound{Record: bytes.Clone(in.Record), From: in.From}:
			default:
			}
		}))
	}()
	t.Cleanup(func() { cancel(); c.Close(); <-done })
	return c
}

// TestMQTTServerShapesCONNACK: a client without ClientID or topic takes the
// Assigned Client Identifier and Response Information of the server's
// CONNACK, subscribes to the subscribe-topic, and records flow both ways.
func TestMQTTServerShapesCONNACK(t *testing.T) {
	ctx := context.Background()
	srv, err := listenMQTT(ctx, "127.0.0.1:0", nil, "usp/controller/test", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	srv.setShape(func(s *mqttShape) {
		*s = mqttShape{assignID: "assigned-1", responseInfo: "usp/agent/info", subscribeTopics: []string{"usp/agent/sub/#"}, keepAlive: 30}
	})
	fromRunner := make(chan mtp.Inbound, 4)
	c := startMQTTClient(t, srv, mqtt.Options{}, fromRunner)
	pk, ok := srv.waitPacket(ctx, 0, 10*time.Second, isType(packets.SUBSCRIBE, true))
	if !ok {
		t.Fatal("no SUBSCRIBE")
	}
	var filters []string
	for _, o := range pk.cp.Content.(*packets.Subscribe).Subscriptions {
		filters = append(filters, o.Topic)
	}
	if len(filters) < 2 || filters[0] != "usp/agent/sub/#" {
		t.Errorf("SUBSCRIBE %q, want the subscribe-topic and the Response Information", filters)
	}
	con, _ := srv.waitPacket(ctx, 0, time.Second, isType(packets.CONNECT, true))
	if id := con.cp.Content.(*packets.Connect).ClientID; id != "" {
		t.Errorf("CONNECT ClientID %q", id)
	}
	ack, _ := srv.waitPacket(ctx, 0, time.Second, isType(packets.CONNACK, false))
	props := ack.cp.Content.(*packets.Connack).Properties
	if props.AssignedClientID != "assigned-1" || props.ResponseInfo != "usp/agent/info" || props.ServerKeepAlive == nil || *props.ServerKeepAlive != 30 {
		t.Errorf("CONNACK properties %v", props)
	}
	if _, ok := srv.waitPacket(ctx, 0, 5*time.Second, isType(packets.SUBACK, false)); !ok {
		t.Fatal("no SUBACK")
	}
	for i := 0; i < 50 && c.Topic() == ""; i++ {
		time.Sleep(20 * time.Millisecond)
	}
	if c.ClientID() != "assigned-1" || c.Topic() != "usp/agent/info" {
		t.Errorf("client ID %q topic %q", c.ClientID(), c.Topic())
	}
	// Runner to client: the Response Topic is the runner's.
	if err := srv.Send(ctx, "usp/agent/info", []byte("rec-1")); err != nil {
		t.Fatal(err)
	}
	select {
	case in := <-fromRunner:
		if string(in.Record) != "rec-1" || in.From.Address != "usp/controller/test" {
			t.Errorf("client got %q from %q", in.Record, in.From.Address)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the client got nothing")
	}
	// Client to runner.
	toRunner := make(chan mtp.Inbound, 1)
	serveCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	go srv.Serve(serveCtx, mtp.HandlerFunc(func(_ context.Context, in mtp.Inbound) { toRunner <- in }))
	time.Sleep(50 * time.Millisecond)
	if err := c.Send(ctx, "usp/controller/test", []byte("rec-2")); err != nil {
		t.Fatal(err)
	}
	select {
	case in := <-toRunner:
		if string(in.Record) != "rec-2" || in.From.Address != "usp/agent/info" {
			t.Errorf("runner got %q from %q", in.Record, in.From.Address)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the runner got nothing")
	}
	if err := srv.Send(ctx, "usp/nobody", []byte("x")); err == nil {
		t.Error("Send to a topic no one subscribed to succeeded")
	}
}

// TestMQTTServerRefusals: a SUBACK refusing every filter makes the client
// DISCONNECT; a server that is down sees connection attempts and no
// packets.
func TestMQTTServerRefusals(t *testing.T) {
	ctx := context.Background()
	srv, err := listenMQTT(ctx, "127.0.0.1:0", nil, "usp/controller/test", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	srv.setShape(func(s *mqttShape) { s.refuseSubs = true })
	startMQTTClient(t, srv, mqtt.Options{Topic: "usp/agent/t"}, make(chan mtp.Inbound, 1))
	ack, ok := srv.waitPacket(ctx, 0, 10*time.Second, isType(packets.SUBACK, false))
	if !ok {
		t.Fatal("no SUBACK")
	}
	for _, r := range ack.cp.Content.(*packets.Suback).Reasons {
		if r < 0x80 {
			t.Errorf("SUBACK granted %d", r)
		}
	}
	if _, ok := srv.waitPacket(ctx, 0, 10*time.Second, isType(packets.DISCONNECT, true)); !ok {
		t.Error("the client did not DISCONNECT")
	}
	srv.setShape(func(s *mqttShape) { s.down = true })
	mark := srv.mark()
	since := time.Now()
	srv.cut()
	if got := srv.waitAccepts(ctx, since, 1, 10*time.Second); len(got) == 0 {
		t.Fatal("no connection attempt while down")
	}
	if _, ok := srv.waitPacket(ctx, mark, 500*time.Millisecond, isType(packets.CONNECT, true)); ok {
		t.Error("a CONNECT was read while the server is down")
	}
}

// FuzzMQTTPacket: whatever an Agent under test sends, the runner's MQTT
// packet reader returns packets or an error and never panics.
func FuzzMQTTPacket(f *testing.F) {
	f.Add(connect5(f))
	f.Add([]byte{0x10, 0x10, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x02, 0, 60, 0, 4, 't', 'p', '4', '6'})
	f.Add(packetBytes(f, (&packets.Publish{Topic: "t", QoS: 2, PacketID: 1, Payload: []byte{9},
		Properties: &packets.Properties{ResponseTopic: "r", User: []packets.User{{Key: "k", Value: "v"}}}}).ToControlPacket()))
	f.Add([]byte{0x82, 0x06, 0, 1, 0, 0, 1, 'a'}) // SUBSCRIBE without options
	f.Add([]byte{0xc0, 0, 0xe0, 0})               // PINGREQ, DISCONNECT
	f.Add([]byte{0x30, 0xff, 0xff, 0xff, 0x7f})   // largest remaining length
	f.Fuzz(func(t *testing.T, in []byte) {
		r := bufio.NewReader(bytes.NewReader(in))
		for range 64 {
			cp, err := readMQTTPacket(r, 1<<16)
			if err != nil {
				if errors.Is(err, errMQTTVersion) && cp == nil {
					t.Fatal("errMQTTVersion without the CONNECT")
				}
				return
			}
			_ = cp.String()
		}
	})
}
