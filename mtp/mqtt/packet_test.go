package mqtt

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/packets"
	packets311 "github.com/eclipse/paho.mqtt.golang/packets"

	"github.com/uspkit/uspkit/mtp"
)

// readOne reads one packet from b with a packetReader: its type, flags
// and body.
func readOne(t testing.TB, b []byte) (typ, flags byte, body []byte) {
	t.Helper()
	pr := newPacketReader(bytes.NewReader(b))
	typ, flags, n, err := pr.header()
	if err != nil {
		t.Fatalf("header: %v", err)
	}
	body, err = pr.body(n)
	if err != nil {
		t.Fatalf("body: %v", err)
	}
	if _, err := pr.r.ReadByte(); err != io.EOF {
		t.Fatalf("bytes left after the packet")
	}
	return typ, flags, body
}

// TestPublishCodec checks the PUBLISH encoder and decoder against each
// other and against paho.golang's decoder (MQTT 5.0), for every QoS, with
// and without the properties a USP PUBLISH carries: the Topic Name
// [R-MQTT.18], the Response Topic [R-MQTT.22], [R-MQTT.23] and the Content
// Type [R-MQTT.27].
func TestPublishCodec(t *testing.T) {
	big := bytes.Repeat([]byte{0xa5}, 200_000) // a 3-byte Remaining Length
	tests := []struct {
		name string
		v5   bool
		p    publishOut
	}{
		{"v5 qos1 usp", true, publishOut{topic: "usp/controller/1", qos: 1, id: 7, responseTopic: "usp/agent/1", contentType: ContentType, payload: []byte{1, 2, 3}}},
		{"v5 qos0", true, publishOut{topic: "t", qos: 0, responseTopic: "r", contentType: ContentType, payload: []byte("x")}},
		{"v5 qos2 no properties", true, publishOut{topic: "a/b", qos: 2, id: 65535, payload: nil}},
		{"v5 large", true, publishOut{topic: "usp/c", qos: 1, id: 1, responseTopic: "usp/a", contentType: ContentType, payload: big}},
		{"v311 qos1", false, publishOut{topic: ReplyTopic("usp/c", "usp/a"), qos: 1, id: 300, payload: []byte("rec")}},
		{"v311 qos0 large", false, publishOut{topic: "usp/c", payload: big}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := appendPublish(nil, tc.v5, &tc.p)
			typ, flags, body := readOne(t, b)
			if typ != typePublish {
				t.Fatalf("type %d", typ)
			}
			got, err := parsePublish(tc.v5, flags, body)
			if err != nil {
				t.Fatal(err)
			}
			if string(got.topic) != tc.p.topic || got.qos != tc.p.qos || got.id != tc.p.id || !bytes.Equal(got.payload, tc.p.payload) ||
				string(got.responseTopic) != tc.p.responseTopic || string(got.contentType) != tc.p.contentType {
				t.Fatalf("decoded %+v", got)
			}
			if !tc.v5 {
				return
			}
			cp, err := packets.ReadPacket(bytes.NewReader(b))
			if err != nil {
				t.Fatalf("paho.golang cannot read it: %v", err)
			}
			pp := cp.Content.(*packets.Publish)
			if pp.Topic != tc.p.topic || pp.QoS != tc.p.qos || pp.PacketID != tc.p.id || !bytes.Equal(pp.Payload, tc.p.payload) ||
				pp.Properties.ResponseTopic != tc.p.responseTopic || pp.Properties.ContentType != tc.p.contentType {
				t.Fatalf("paho.golang read %+v", pp)
			}
		})
	}
}

// TestPublishFromPaho decodes PUBLISH packets written by paho.golang,
// with properties the client skips around the ones it reads.
func TestPublishFromPaho(t *testing.T) {
	one := uint32(1)
	p := &packets.Publish{QoS: 1, PacketID: 9, Topic: "usp/agent/x", Payload: []byte("record"),
		Properties: &packets.Properties{ResponseTopic: "usp/controller/y", ContentType: "application/vnd.bbf.usp.msg",
			MessageExpiry: &one, CorrelationData: []byte{1, 2}, User: []packets.User{{Key: "k", Value: "v"}}}}
	var buf bytes.Buffer
	if _, err := p.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	_, flags, body := readOne(t, buf.Bytes())
	got, err := parsePublish(true, flags, body)
	if err != nil {
		t.Fatal(err)
	}
	if string(got.topic) != p.Topic || got.id != 9 || string(got.payload) != "record" ||
		string(got.responseTopic) != "usp/controller/y" || string(got.contentType) != "application/vnd.bbf.usp.msg" {
		t.Fatalf("decoded %+v", got)
	}
}

// TestConnectCodec checks the CONNECT against paho.golang's decoder: the
// ClientId [R-MQTT.8], credentials [R-MQTT.7], Keep Alive [R-MQTT.14],
// Request Response Information [R-MQTT.12] and the "usp-endpoint-id" User
// Property [R-MQTT.13] on 5.0; the Will on 3.1.1.
func TestConnectCodec(t *testing.T) {
	c := connectOut{clientID: "cid", cleanStart: true, keepAlive: 42, username: "u", password: "p",
		sessionExpiry: 60, receiveMax: 64, maxPacket: 70000, endpointID: "os::012345-x"}
	cp, err := packets.ReadPacket(bytes.NewReader(appendConnect(nil, true, &c)))
	if err != nil {
		t.Fatal(err)
	}
	got := cp.Content.(*packets.Connect)
	pr := got.Properties
	if got.ProtocolVersion != 5 || got.ClientID != "cid" || !got.CleanStart || got.KeepAlive != 42 || got.Username != "u" ||
		string(got.Password) != "p" || *pr.SessionExpiryInterval != 60 || *pr.ReceiveMaximum != 64 || *pr.MaximumPacketSize != 70000 ||
		*pr.RequestResponseInfo != 1 || len(pr.User) != 1 || pr.User[0] != (packets.User{Key: userEndpointID, Value: "os::012345-x"}) {
		t.Fatalf("CONNECT %+v, properties %+v", got, pr)
	}
	c311 := connectOut{clientID: "os::x", keepAlive: 60, password: "alone", willTopic: "usp/c/reply-to=usp%2Fa", willPayload: []byte{0, 1}}
	cp311, err := packets311.ReadPacket(bytes.NewReader(appendConnect(nil, false, &c311)))
	if err != nil {
		t.Fatal(err)
	}
	got311 := cp311.(*packets311.ConnectPacket)
	if got311.ProtocolVersion != 4 || got311.CleanSession || got311.PasswordFlag || got311.UsernameFlag || !got311.WillFlag ||
		got311.WillQos != 1 || got311.WillRetain || got311.WillTopic != c311.willTopic || !bytes.Equal(got311.WillMessage, c311.willPayload) ||
		got311.ClientIdentifier != "os::x" || got311.Keepalive != 60 || got311.Validate() != packets311.Accepted {
		t.Fatalf("3.1.1 CONNECT %v", got311)
	}
	pub := appendPublish(nil, false, &publishOut{topic: "usp/c/reply-to=usp%2Fa", qos: 1, id: 8, payload: []byte("rec")})
	cp311, err = packets311.ReadPacket(bytes.NewReader(pub))
	if p, ok := cp311.(*packets311.PublishPacket); err != nil || !ok || p.TopicName != "usp/c/reply-to=usp%2Fa" || p.MessageID != 8 || p.Qos != 1 || string(p.Payload) != "rec" {
		t.Fatalf("3.1.1 PUBLISH %v, %v", cp311, err)
	}
}

// TestControlCodec checks the small packets against paho.golang's
// decoder, and the decoders of the server's packets against its
// encoder.
func TestControlCodec(t *testing.T) {
	for _, typ := range []byte{typePuback, typePubrec, typePubrel, typePubcomp} {
		cp, err := packets.ReadPacket(bytes.NewReader(appendAck(nil, typ, 513)))
		if err != nil || cp.Type != typ || cp.PacketID() != 513 {
			t.Errorf("ack type %d: %v, %v", typ, cp, err)
		}
	}
	cp, err := packets.ReadPacket(bytes.NewReader(appendSubscribe(nil, true, 3, []string{"a/#", "b"}, func(string) byte { return 1 })))
	if err != nil {
		t.Fatal(err)
	}
	sub := cp.Content.(*packets.Subscribe)
	if sub.PacketID != 3 || len(sub.Subscriptions) != 2 || sub.Subscriptions[0].Topic != "a/#" || sub.Subscriptions[1].QoS != 1 {
		t.Errorf("SUBSCRIBE %+v", sub)
	}
	for _, v5 := range []bool{true, false} {
		b := appendDisconnect(nil, v5, 0x82)
		if typ, _, body := readOne(t, b); typ != typeDisconnect || (v5 && (len(body) != 1 || body[0] != 0x82)) || (!v5 && len(body) != 0) {
			t.Errorf("DISCONNECT v5=%v: % x", v5, b)
		}
	}

	var buf bytes.Buffer
	maxp, recv, ka := uint32(1000), uint16(20), uint16(30)
	(&packets.Connack{ReasonCode: 0, SessionPresent: true, Properties: &packets.Properties{AssignedClientID: "as",
		ResponseInfo: "usp/r", MaximumPacketSize: &maxp, ReceiveMaximum: &recv, ServerKeepAlive: &ka,
		User: []packets.User{{Key: userSubscribeTopic, Value: "s/1"}, {Key: "x", Value: "y"}, {Key: userSubscribeTopic, Value: "s/2"}}}}).WriteTo(&buf)
	_, _, body := readOne(t, buf.Bytes())
	ack, err := parseConnack(true, body)
	if err != nil {
		t.Fatal(err)
	}
	g := ack.grant
	if !ack.sessionPresent || g.assignedID != "as" || g.responseInfo != "usp/r" || g.maxPacket != 1000 || ack.receiveMax != 20 ||
		ack.keepAlive != 30 || !slices.Equal(g.subscribeTopics, []string{"s/1", "s/2"}) {
		t.Errorf("CONNACK %+v", ack)
	}
	buf.Reset()
	(&packets.Suback{PacketID: 4, Reasons: []byte{1, 0x87}}).WriteTo(&buf)
	_, _, body = readOne(t, buf.Bytes())
	if sa, err := parseSuback(true, body); err != nil || sa.id != 4 || !bytes.Equal(sa.codes, []byte{1, 0x87}) {
		t.Errorf("SUBACK %+v, %v", sa, err)
	}
	buf.Reset()
	(&packets.Puback{PacketID: 5, ReasonCode: 0x97, Properties: &packets.Properties{ReasonString: "quota"}}).WriteTo(&buf)
	_, _, body = readOne(t, buf.Bytes())
	if a, err := parseAck(true, body); err != nil || a.id != 5 || a.reason != 0x97 {
		t.Errorf("PUBACK %+v, %v", a, err)
	}
	buf.Reset()
	(&packets.Disconnect{ReasonCode: 0x8b, Properties: &packets.Properties{ReasonString: "shutting down"}}).WriteTo(&buf)
	_, _, body = readOne(t, buf.Bytes())
	if d, err := parseDisconnect(body); err != nil || d.reason != 0x8b || d.reasonString != "shutting down" {
		t.Errorf("DISCONNECT %+v, %v", d, err)
	}
}

// TestMalformed checks that broken packets are errors, not panics or
// values read past their end.
func TestMalformed(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
	}{
		{"remaining length of 5 bytes", []byte{0x30, 0x80, 0x80, 0x80, 0x80, 0x01}},
		{"publish topic past the end", []byte{0x30, 0x03, 0x00, 0x05, 'a'}},
		{"publish qos 3", []byte{0x36, 0x03, 0x00, 0x01, 'a'}},
		{"publish id 0", []byte{0x32, 0x05, 0x00, 0x01, 'a', 0x00, 0x00}},
		{"property past the end", []byte{0x30, 0x06, 0x00, 0x01, 'a', 0x03, 0x08, 0x00}},
		{"unknown property", []byte{0x30, 0x06, 0x00, 0x01, 'a', 0x01, 0x7f, 'x'}},
		{"truncated body", []byte{0x30, 0x09, 0x00, 0x01}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pr := newPacketReader(bytes.NewReader(tc.in))
			_, flags, n, err := pr.header()
			if err == nil {
				var body []byte
				if body, err = pr.body(n); err == nil {
					_, err = parsePublish(true, flags, body)
				}
			}
			if err == nil {
				t.Fatal("no error")
			}
		})
	}
}

// scriptConn is a net.Conn whose reads come from a byte string and whose
// writes are kept.
type scriptConn struct {
	net.Conn
	r   io.Reader
	out bytes.Buffer
}

func (c *scriptConn) Read(b []byte) (int, error)  { return c.r.Read(b) }
func (c *scriptConn) Write(b []byte) (int, error) { return c.out.Write(b) }
func (c *scriptConn) Close() error                { return nil }

// readAll runs a connection's reader over in, as if a server had sent it
// after the CONNACK, and returns the Records it delivered and what the
// client wrote back (nil when it ended on a protocol error).
func readAll(v5 bool, in []byte) (recs []mtp.Inbound, out []byte, err error) {
	nc := &scriptConn{r: bytes.NewReader(in)}
	o := (&Options{Version: map[bool]Version{true: V5, false: V311}[v5], MaxRecord: 1 << 16}).withDefaults()
	l := newLink(&o, slog.New(slog.DiscardHandler), nc, mtp.Peer{}, func(r mtp.Inbound) { recs = append(recs, r) })
	c := &Client{o: o}
	s := newConn(c, l)
	s.recvMax = 10
	s.readLoop(s.turn.Load())
	s.w.stop()
	_ = s.w.flush(true)
	return recs, nc.out.Bytes(), l.err
}

// TestReaderQoS2 checks the receiving side of QoS 2 [R-MQTT.20]: PUBREC
// for the PUBLISH, one delivery for a duplicate sent before the PUBREL,
// PUBCOMP for the PUBREL; QoS 1 is acknowledged with PUBACK and QoS 0 not
// at all.
func TestReaderQoS2(t *testing.T) {
	pub := func(qos byte, id uint16, payload string) []byte {
		return appendPublish(nil, true, &publishOut{topic: "usp/a", qos: qos, id: id, responseTopic: "usp/c", contentType: ContentType, payload: []byte(payload)})
	}
	var in []byte
	in = append(in, pub(2, 10, "once")...)
	dup := pub(2, 10, "once")
	dup[0] |= 8 // DUP
	in = append(in, dup...)
	in = append(in, appendAck(nil, typePubrel, 10)...)
	in = append(in, pub(1, 11, "qos1")...)
	in = append(in, pub(0, 0, "qos0")...)
	recs, out, err := readAll(true, in)
	if !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		t.Logf("reader ended with %v", err)
	}
	var got []string
	for _, r := range recs {
		got = append(got, string(r.Record))
		if r.From.Address != "usp/c" {
			t.Errorf("reply address %q, want the Response Topic", r.From.Address)
		}
	}
	if want := []string{"once", "qos1", "qos0"}; !slices.Equal(got, want) {
		t.Errorf("delivered %q, want %q", got, want)
	}
	var want []byte
	want = appendAck(want, typePubrec, 10)
	want = appendAck(want, typePubrec, 10)
	want = appendAck(want, typePubcomp, 10)
	want = appendAck(want, typePuback, 11)
	if !bytes.Equal(out, want) {
		t.Errorf("client wrote % x, want % x", out, want)
	}
}

// TestReaderProtocolError checks that a packet a server must not send
// ends the connection with a DISCONNECT with reason code 0x82 (Protocol
// Error) on MQTT 5.0, and that an oversize PUBLISH is skipped and
// acknowledged with the connection kept.
func TestReaderProtocolError(t *testing.T) {
	_, out, err := readAll(true, []byte{typeSubscribe<<4 | 2, 0})
	if err == nil || !bytes.Equal(out, appendDisconnect(nil, true, 0x82)) {
		t.Errorf("after a SUBSCRIBE from the server: wrote % x, ended with %v", out, err)
	}
	big := appendPublish(nil, false, &publishOut{topic: "usp/a", qos: 1, id: 3, payload: make([]byte, 1<<16+publishHead+1<<16+1)})
	small := appendPublish(nil, false, &publishOut{topic: "usp/a/reply-to=usp%2Fc", qos: 1, id: 4, payload: []byte("ok")})
	recs, out, _ := readAll(false, append(big, small...))
	if len(recs) != 1 || string(recs[0].Record) != "ok" || recs[0].From.Address != "usp/c" {
		t.Errorf("delivered %v, want only the small Record from usp/c", recs)
	}
	if want := append(appendAck(nil, typePuback, 3), appendAck(nil, typePuback, 4)...); !bytes.Equal(out, want) {
		t.Errorf("client wrote % x, want % x", out, want)
	}
}

// TestWriterOnePacketPerWrite checks that a packet leaves in one write,
// that acknowledgements wait for the next packet (or ackDelay) and leave
// with it, that a large packet's buffer is not kept, and that a failed
// write is reported once, closes the connection and fails later packets.
func TestWriterOnePacketPerWrite(t *testing.T) {
	nc, peer := tcpPair(t)
	var failed []error
	w := newPacketWriter(nc, func(err error) { failed = append(failed, err) })
	read := func(n int) []byte {
		t.Helper()
		b := make([]byte, n)
		_ = peer.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.ReadFull(peer, b); err != nil {
			t.Fatal(err)
		}
		return b
	}
	b, _ := w.begin()
	w.sendAck(appendAck(b, typePuback, 1))
	_ = peer.SetReadDeadline(time.Now().Add(ackDelay / 4))
	if n, _ := peer.Read(make([]byte, 16)); n != 0 {
		t.Fatalf("an acknowledgement left at once (%d bytes)", n)
	}
	b, _ = w.begin()
	pub := appendPublish(nil, true, &publishOut{topic: "t", qos: 1, id: 2, payload: []byte("x")})
	w.send(append(b, pub...))
	if got, want := read(4+len(pub)), append(appendAck(nil, typePuback, 1), pub...); !bytes.Equal(got, want) {
		t.Fatalf("read % x, want % x", got, want)
	}
	b, _ = w.begin()
	w.sendAck(appendAck(b, typePuback, 3))
	if got := read(4); !bytes.Equal(got, appendAck(nil, typePuback, 3)) {
		t.Fatalf("after ackDelay read % x", got)
	}
	b, _ = w.begin()
	w.send(append(b, make([]byte, 2*keepBuf)...))
	read(2 * keepBuf)
	if err := w.flush(true); err != nil {
		t.Fatal(err)
	}
	w.mu.Lock()
	kept := cap(w.out) + cap(w.spare)
	w.mu.Unlock()
	if kept > keepBuf {
		t.Errorf("kept %d bytes of buffers", kept)
	}
	nc.Close()
	b, _ = w.begin()
	w.send(appendPingreq(b))
	if len(failed) != 1 {
		t.Fatalf("fail called %d times after a failed write, want once", len(failed))
	}
	if _, err := w.begin(); err == nil || !errors.Is(err, failed[0]) {
		t.Errorf("begin after a failed write = %v, want the first error %v", err, failed[0])
	}
}

// tcpPair returns both ends of a loopback TCP connection.
func tcpPair(t *testing.T) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server, err = ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

// FuzzReadPacket runs a connection's reader over any bytes a server could
// send after its CONNACK, on MQTT 5.0 and 3.1.1: no panic, no hang, and
// every Record delivered is the payload of a PUBLISH in the input. Seeds
// are in testdata/fuzz/FuzzReadPacket.
func FuzzReadPacket(f *testing.F) {
	f.Add(true, appendPublish(nil, true, &publishOut{topic: "usp/a", qos: 1, id: 1, responseTopic: "usp/c", contentType: ContentType, payload: []byte("rec")}))
	f.Add(false, appendPublish(nil, false, &publishOut{topic: "usp/a/reply-to=usp%2Fc", qos: 2, id: 1, payload: []byte("rec")}))
	f.Add(true, []byte{typePingresp << 4, 0, typeSuback << 4, 4, 0, 1, 0, 1})
	f.Fuzz(func(t *testing.T, v5 bool, in []byte) {
		recs, _, _ := readAll(v5, in)
		for _, r := range recs {
			if !bytes.Contains(in, r.Record) {
				t.Fatalf("delivered % x, not in the input", r.Record)
			}
		}
	})
}
