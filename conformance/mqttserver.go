package conformance

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/eclipse/paho.golang/packets"

	"github.com/uspkit/uspkit/mtp"
)

// mqttServer is the runner's own MQTT 5.0 server for the cases of section
// 11: the Agent connects to it as to a broker, and the runner sees every
// packet both ways and shapes its answers (CONNACK properties, SUBACK
// reason codes, PINGRESP, refused connections). It is also the runner's
// transport to the Agent: Send publishes a Record on a Topic the Agent
// subscribed to, and Serve hands over the Records the Agent publishes.
//
// It serves MQTT 5.0 only: a CONNECT of another version is recorded and
// answered with CONNACK 0x84 (Unsupported Protocol Version).
type mqttServer struct {
	ln  net.Listener
	log *slog.Logger
	// replyTopic is the Response Topic of the runner's PUBLISHes.
	replyTopic string

	mu          sync.Mutex
	shape       mqttShape
	contentType string
	conns       map[int]*mqttConn
	nconn       int
	accepts     []time.Time
	handshakes  []uint16 // TLS versions of the completed handshakes
	packets     []mqttPacket
	changed     chan struct{} // closed and replaced at each event
	h           mtp.Handler
	served      chan struct{} // closed when Serve has set h
	closed      bool
	done        chan struct{} // closed by Close
	wg          sync.WaitGroup
}

// mqttShape is how the server answers.
type mqttShape struct {
	// assignID is the Assigned Client Identifier of the CONNACK when the
	// CONNECT's ClientID is empty.
	assignID string
	// responseInfo is the CONNACK's Response Information, sent when the
	// CONNECT asks for it.
	responseInfo string
	// subscribeTopics are the CONNACK's "subscribe-topic" User
	// Properties.
	subscribeTopics []string
	// keepAlive, if not 0, is the CONNACK's Server Keep Alive in seconds.
	keepAlive uint16
	// grant, by topic filter, is the QoS granted in the SUBACK instead of
	// the one asked for.
	grant map[string]byte
	// refuseSubs answers every SUBSCRIBE with reason code 0x87 (Not
	// authorized) for each filter.
	refuseSubs bool
	// noPingResp leaves PINGREQs unanswered.
	noPingResp bool
	// down closes every new TCP connection at once, as a server that
	// is not there.
	down bool
}

// mqttPacket is one packet the server read or wrote.
type mqttPacket struct {
	at   time.Time
	conn int  // the connection, numbered from 1 in accept order
	in   bool // from the Agent
	cp   *packets.ControlPacket
}

// mqttConn is one client connection.
type mqttConn struct {
	id   int
	nc   net.Conn
	wmu  sync.Mutex
	subs []mqttSub // granted subscriptions
	pid  uint16
	keep time.Duration // the keep alive in force; 0 means none
}

// mqttSub is one granted subscription.
type mqttSub struct {
	filter string
	qos    byte
}

// mqttMaxPacket is the largest packet the server reads.
const mqttMaxPacket = 8 << 20

// listenMQTT starts a server on addr ("127.0.0.1:0"), with TLS when tc is
// not nil. replyTopic is the Response Topic of the runner's PUBLISHes.
func listenMQTT(ctx context.Context, addr string, tc *tls.Config, replyTopic string, log *slog.Logger) (*mqttServer, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("conformance: mqtt server: %w", err)
	}
	if tc != nil {
		ln = tls.NewListener(ln, tc)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &mqttServer{ln: ln, log: log, replyTopic: replyTopic, contentType: "usp.msg", conns: map[int]*mqttConn{},
		changed: make(chan struct{}), done: make(chan struct{}), served: make(chan struct{})}
	s.wg.Go(s.accept)
	return s, nil
}

// Addr is where the server listens.
func (s *mqttServer) Addr() *net.TCPAddr { return s.ln.Addr().(*net.TCPAddr) }

// setShape changes how the server answers from now on.
func (s *mqttServer) setShape(f func(*mqttShape)) {
	s.mu.Lock()
	f(&s.shape)
	s.mu.Unlock()
}

// setContentType sets the Content Type of the runner's PUBLISHes.
func (s *mqttServer) setContentType(ct string) {
	s.mu.Lock()
	s.contentType = ct
	s.mu.Unlock()
}

func (s *mqttServer) accept() {
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.accepts = append(s.accepts, time.Now())
		s.signalLocked()
		if s.closed || s.shape.down {
			s.mu.Unlock()
			nc.Close()
			continue
		}
		s.nconn++
		c := &mqttConn{id: s.nconn, nc: nc}
		s.conns[c.id] = c
		s.mu.Unlock()
		s.wg.Go(func() { s.serveConn(c) })
	}
}

// signalLocked wakes the waiters; s.mu is held.
func (s *mqttServer) signalLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

func (s *mqttServer) record(c *mqttConn, in bool, cp *packets.ControlPacket) {
	s.mu.Lock()
	s.packets = append(s.packets, mqttPacket{at: time.Now(), conn: c.id, in: in, cp: cp})
	s.signalLocked()
	s.mu.Unlock()
}

// write sends one packet on c and records it.
func (s *mqttServer) write(c *mqttConn, cp *packets.ControlPacket) error {
	var b bytes.Buffer
	if _, err := cp.WriteTo(&b); err != nil {
		return err
	}
	c.wmu.Lock()
	_ = c.nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
	_, err := c.nc.Write(b.Bytes())
	c.wmu.Unlock()
	if err != nil {
		return err
	}
	s.record(c, false, cp)
	return nil
}

// errMQTTVersion is returned by readMQTTPacket for a CONNECT of another
// version than 5.0.
var errMQTTVersion = errors.New("not MQTT 5.0")

// readMQTTPacket reads one MQTT 5.0 control packet of at most max bytes.
// Bad input is an error, never a panic.
func readMQTTPacket(r *bufio.Reader, max int) (cp *packets.ControlPacket, err error) {
	first, err := r.ReadByte()
	if err != nil {
		return nil, err
	}
	var n, mult int = 0, 1
	var hdr = []byte{first}
	for i := 0; ; i++ {
		if i == 4 {
			return nil, errors.New("mqtt: malformed remaining length")
		}
		b, err := r.ReadByte()
		if err != nil {
			return nil, err
		}
		hdr = append(hdr, b)
		n += int(b&0x7f) * mult
		mult *= 128
		if b&0x80 == 0 {
			break
		}
	}
	if n > max {
		return nil, fmt.Errorf("mqtt: packet of %d bytes over the limit of %d", n, max)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return nil, err
	}
	if first>>4 == packets.CONNECT {
		// Protocol Name (2-byte length and "MQTT"), then the version.
		if len(body) < 7 || string(body[2:6]) != "MQTT" {
			return nil, errors.New("mqtt: CONNECT without protocol name MQTT")
		}
		if body[6] != 5 {
			return &packets.ControlPacket{FixedHeader: packets.FixedHeader{Type: packets.CONNECT},
				Content: &packets.Connect{ProtocolName: "MQTT", ProtocolVersion: body[6], Properties: &packets.Properties{}}}, errMQTTVersion
		}
	}
	defer func() {
		if v := recover(); v != nil {
			cp, err = nil, fmt.Errorf("mqtt: malformed packet: %v", v)
		}
	}()
	cp, err = packets.ReadPacket(io.MultiReader(bytes.NewReader(hdr), bytes.NewReader(body)))
	if err != nil {
		return nil, fmt.Errorf("mqtt: %w", err)
	}
	return cp, nil
}

func (s *mqttServer) serveConn(c *mqttConn) {
	if !s.handshake(c.nc) {
		c.nc.Close()
		s.mu.Lock()
		delete(s.conns, c.id)
		s.signalLocked()
		s.mu.Unlock()
		return
	}
	defer func() {
		c.nc.Close()
		s.mu.Lock()
		delete(s.conns, c.id)
		s.signalLocked()
		s.mu.Unlock()
	}()
	r := bufio.NewReader(c.nc)
	_ = c.nc.SetReadDeadline(time.Now().Add(20 * time.Second))
	for {
		cp, err := readMQTTPacket(r, mqttMaxPacket)
		if errors.Is(err, errMQTTVersion) {
			s.record(c, true, cp)
			ack := packets.NewControlPacket(packets.CONNACK)
			ack.Content.(*packets.Connack).ReasonCode = packets.ConnackUnsupportedProtocolVersion
			_ = s.write(c, ack)
			return
		}
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				s.log.Warn("mqtt server: connection ended", "conn", c.id, "err", err)
			}
			return
		}
		s.record(c, true, cp)
		if !s.answer(c, cp) {
			return
		}
		// A client silent for one and a half keep alive periods is gone
		// (MQTT 5.0 3.1.2.10).
		if c.keep > 0 {
			_ = c.nc.SetReadDeadline(time.Now().Add(c.keep * 3 / 2))
		} else {
			_ = c.nc.SetReadDeadline(time.Time{})
		}
	}
}

// answer reacts to one packet from the client; false ends the connection.
func (s *mqttServer) answer(c *mqttConn, cp *packets.ControlPacket) bool {
	s.mu.Lock()
	shape := s.shape
	s.mu.Unlock()
	switch p := cp.Content.(type) {
	case *packets.Connect:
		ack := packets.NewControlPacket(packets.CONNACK)
		a := ack.Content.(*packets.Connack)
		keep := p.KeepAlive
		if p.ClientID == "" && shape.assignID != "" {
			a.Properties.AssignedClientID = shape.assignID
		}
		if p.Properties != nil && p.Properties.RequestResponseInfo != nil && *p.Properties.RequestResponseInfo == 1 {
			a.Properties.ResponseInfo = shape.responseInfo
		}
		for _, topic := range shape.subscribeTopics {
			a.Properties.User = append(a.Properties.User, packets.User{Key: "subscribe-topic", Value: topic})
		}
		if shape.keepAlive != 0 {
			keep = shape.keepAlive
			a.Properties.ServerKeepAlive = &keep
		}
		c.keep = time.Duration(keep) * time.Second
		return s.write(c, ack) == nil
	case *packets.Subscribe:
		ack := packets.NewControlPacket(packets.SUBACK)
		a := ack.Content.(*packets.Suback)
		a.PacketID = p.PacketID
		for _, o := range p.Subscriptions {
			if shape.refuseSubs {
				a.Reasons = append(a.Reasons, packets.SubackNotauthorized)
				continue
			}
			q := min(o.QoS, 2)
			if g, ok := shape.grant[o.Topic]; ok {
				q = g
			}
			a.Reasons = append(a.Reasons, q)
			s.mu.Lock()
			c.subs = slices.DeleteFunc(c.subs, func(x mqttSub) bool { return x.filter == o.Topic })
			c.subs = append(c.subs, mqttSub{filter: o.Topic, qos: q})
			s.mu.Unlock()
		}
		return s.write(c, ack) == nil
	case *packets.Unsubscribe:
		ack := packets.NewControlPacket(packets.UNSUBACK)
		a := ack.Content.(*packets.Unsuback)
		a.PacketID = p.PacketID
		s.mu.Lock()
		for _, topic := range p.Topics {
			a.Reasons = append(a.Reasons, 0)
			c.subs = slices.DeleteFunc(c.subs, func(x mqttSub) bool { return x.filter == topic })
		}
		s.mu.Unlock()
		return s.write(c, ack) == nil
	case *packets.Publish:
		switch p.QoS {
		case 1:
			ack := packets.NewControlPacket(packets.PUBACK)
			ack.Content.(*packets.Puback).PacketID = p.PacketID
			if s.write(c, ack) != nil {
				return false
			}
		case 2:
			ack := packets.NewControlPacket(packets.PUBREC)
			ack.Content.(*packets.Pubrec).PacketID = p.PacketID
			if s.write(c, ack) != nil {
				return false
			}
		}
		if h := s.handler(); h != nil {
			from := ""
			if p.Properties != nil {
				from = p.Properties.ResponseTopic
			}
			h.HandleRecord(context.Background(), mtp.Inbound{Record: bytes.Clone(p.Payload), From: mtp.Peer{Address: from}})
		}
		return true
	case *packets.Pubrel:
		ack := packets.NewControlPacket(packets.PUBCOMP)
		ack.Content.(*packets.Pubcomp).PacketID = p.PacketID
		return s.write(c, ack) == nil
	case *packets.Pubrec:
		rel := packets.NewControlPacket(packets.PUBREL)
		rel.Content.(*packets.Pubrel).PacketID = p.PacketID
		return s.write(c, rel) == nil
	case *packets.Pingreq:
		if shape.noPingResp {
			return true
		}
		return s.write(c, packets.NewControlPacket(packets.PINGRESP)) == nil
	case *packets.Disconnect:
		return false
	}
	return true
}

// Serve hands the Records the Agent publishes to h until ctx ends or the
// server closes.
func (s *mqttServer) Serve(ctx context.Context, h mtp.Handler) error {
	s.mu.Lock()
	if s.h == nil {
		close(s.served)
	}
	s.h = h
	s.mu.Unlock()
	select {
	case <-ctx.Done():
	case <-s.done:
	}
	return nil
}

// Send publishes rec on topic addr to each connection subscribed to a
// filter that matches it, at QoS 1 or the lower QoS granted.
func (s *mqttServer) Send(ctx context.Context, addr string, rec []byte) error {
	s.mu.Lock()
	var to []*mqttConn
	var qos []byte
	for _, c := range s.conns {
		for _, f := range c.subs {
			if topicMatch(f.filter, addr) {
				to, qos = append(to, c), append(qos, min(f.qos, 1))
				break
			}
		}
	}
	ct := s.contentType
	s.mu.Unlock()
	if len(to) == 0 {
		return fmt.Errorf("conformance: mqtt server: no client subscribed to %q", addr)
	}
	for i, c := range to {
		var id uint16
		if qos[i] > 0 {
			s.mu.Lock()
			c.pid++
			if c.pid == 0 {
				c.pid = 1
			}
			id = c.pid
			s.mu.Unlock()
		}
		pub := &packets.Publish{Topic: addr, QoS: qos[i], PacketID: id, Payload: rec,
			Properties: &packets.Properties{ResponseTopic: s.replyTopic, ContentType: ct}}
		if err := s.write(c, pub.ToControlPacket()); err != nil {
			return fmt.Errorf("conformance: mqtt server: %w", err)
		}
	}
	return nil
}

// disconnect sends each connection a DISCONNECT with the reason code,
// then closes it.
func (s *mqttServer) disconnect(reason byte) {
	for _, c := range s.connList() {
		d := packets.NewControlPacket(packets.DISCONNECT)
		d.Content.(*packets.Disconnect).ReasonCode = reason
		_ = s.write(c, d)
		c.nc.Close()
	}
}

// cut closes every connection without a word, as a lost network would.
func (s *mqttServer) cut() {
	for _, c := range s.connList() {
		c.nc.Close()
	}
}

func (s *mqttServer) connList() []*mqttConn {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*mqttConn, 0, len(s.conns))
	for _, c := range s.conns {
		out = append(out, c)
	}
	return out
}

// Close stops the server and closes every connection.
func (s *mqttServer) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.done)
	s.mu.Unlock()
	err := s.ln.Close()
	s.cut()
	s.wg.Wait()
	return err
}

// mark is the number of packets recorded so far, for waitPacket.
func (s *mqttServer) mark() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.packets)
}

// waitPacket returns the first packet recorded at index from or later
// that match accepts, waiting up to d.
func (s *mqttServer) waitPacket(ctx context.Context, from int, d time.Duration, match func(mqttPacket) bool) (mqttPacket, bool) {
	return waitRecorded(ctx, &s.mu, &s.packets, &s.changed, from, d, match)
}

// waitAccepts waits up to d for n connections accepted after t.
func (s *mqttServer) waitAccepts(ctx context.Context, t time.Time, n int, d time.Duration) []time.Time {
	return waitTimes(ctx, &s.mu, &s.accepts, &s.changed, t, n, d)
}

// isType matches the packets of one type, from the Agent when in.
func isType(typ byte, in bool) func(mqttPacket) bool {
	return func(p mqttPacket) bool { return p.in == in && p.cp != nil && p.cp.Type == typ }
}

// topicMatch reports whether an MQTT topic filter matches a topic name.
func topicMatch(filter, topic string) bool {
	fs, ts := strings.Split(filter, "/"), strings.Split(topic, "/")
	for i, f := range fs {
		switch {
		case f == "#":
			return true
		case i >= len(ts):
			return false
		case f != "+" && f != ts[i]:
			return false
		}
	}
	return len(fs) == len(ts)
}

// handler waits for Serve to give the handler of inbound Records; nil
// once the server is closed.
func (s *mqttServer) handler() mtp.Handler {
	select {
	case <-s.served:
	case <-s.done:
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.h
}
