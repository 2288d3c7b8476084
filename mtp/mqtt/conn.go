package mqtt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/uspkit/uspkit/mtp"
)

// conn is one MQTT 5.0 or 3.1.1 connection, spoken with the client's own
// packet codec (packet.go). One goroutine reads: it answers what needs an
// answer (PUBACK, PUBREC, PUBREL, PUBCOMP), completes the publications
// and the subscription waiting for their acknowledgement, and hands each
// received Record to the Handler itself. Publishers write their own
// packets (packetWriter).
type conn struct {
	l       *link
	v5      bool
	qos     byte          // of every PUBLISH sent
	timeout time.Duration // for an acknowledgement
	r       *packetReader
	w       *packetWriter

	maxPacket uint32 // the server's Maximum Packet Size; 0: none
	recvMax   int    // the server's Receive Maximum: publications in flight at most
	ackTimer  *time.Timer
	sessionOK bool   // the CONNACK's Session Present with Options.KeepSession
	replyTail string // MQTT 3.1.1: what ReplyTopic appends to a destination
	maxQoS    byte   // the CONNACK's Maximum QoS (2 if none): Publish stays under it
	noRetain  bool   // the CONNACK said Retain Available = 0: Publish clears RETAIN

	mu       sync.Mutex         // guards the fields below
	inflight map[uint16]*waiter // the SUBSCRIBE waiting for its SUBACK
	pubs     map[uint16]*outPub // QoS 1 and 2 publications waiting for their acknowledgement
	backlog  []*outPub          // publications waiting for a place under recvMax, in order
	freeOut  []*outPub          // unused
	seq      uint64             // publications sent
	ackArmed bool               // ackTimer is set
	ended    bool               // takeOver was called
	nextID   uint16

	rx2     map[uint16]bool // QoS 2 PUBLISH received, waiting for PUBREL; reader only
	holding bool            // the reader holds the writer (packetWriter.hold); reader only

	// The last Topic Name and Response Topic received, kept as strings so
	// that the same ones (the usual case) are not allocated again.
	lastTopic, lastResponse string
	lastReplyTo             string // the "reply to" Topic in lastTopic (MQTT 3.1.1)
	lastReplyOK             bool

	keepAlive              time.Duration
	pingSent               atomic.Bool
	inHandler              atomic.Int32               // goroutines in the Handler
	turn                   atomic.Pointer[readerTurn] // the reader's; see handOff
	handOffTimer           *time.Timer
	handOffArmed           atomic.Bool // handOffTimer is set, or firing
	epoch                  time.Time   // the origin of now
	readerDone, pingerDone chan struct{}
	closeOnce              sync.Once
	started, pingerStarted bool
}

// waiter is a subscription waiting for its acknowledgement.
type waiter struct {
	ch chan ackIn // buffered: the reader never waits
}

func newConn(c *Client, l *link) *conn {
	s := &conn{l: l, v5: c.o.Version != V311, qos: c.o.PublishQoS.level(), timeout: c.o.WriteTimeout,
		inflight: map[uint16]*waiter{}, pubs: map[uint16]*outPub{}, rx2: map[uint16]bool{},
		readerDone: make(chan struct{}), pingerDone: make(chan struct{}), epoch: time.Now()}
	s.ackTimer = time.AfterFunc(time.Hour, s.checkAcks)
	s.ackTimer.Stop()
	s.handOffTimer = time.AfterFunc(time.Hour, s.handOverReading)
	s.handOffTimer.Stop()
	s.turn.Store(&readerTurn{})
	s.r = newPacketReader(l.nc)
	s.w = newPacketWriter(l.nc, l.writeFailed)
	return s
}

// connect says CONNECT on l's network connection, reads the CONNACK,
// makes the plan and subscribes. On MQTT 5.0 the Client's ClientID
// becomes the one the server assigns, if any [R-MQTT.9].
func (c *Client) connect(ctx context.Context, l *link) (*conn, error) {
	s := newConn(c, l)
	// Until the reader runs, ctx ends the CONNECT by closing the
	// connection under it.
	stop := context.AfterFunc(ctx, func() { l.nc.Close() })
	ack, err := s.handshake(c)
	if !stop() || (err != nil && ctx.Err() != nil) {
		err = fmt.Errorf("mqtt: CONNECT: %w", ctx.Err())
	}
	if err != nil {
		l.stopping()
		l.nc.Close()
		l.finish(err)
		s.w.stop()
		return nil, err
	}
	s.started = true
	go s.readLoop(s.turn.Load())
	if s.v5 {
		g := ack.grant
		if g.assignedID != "" {
			c.mu.Lock()
			c.clientID = g.assignedID // kept for every later connection [R-MQTT.11]
			c.mu.Unlock()
		}
		s.maxPacket = g.maxPacket
		c.mu.Lock()
		c.srvMax = g.maxPacket // the send limit from now on
		c.mu.Unlock()
	}
	s.sessionOK = ack.sessionPresent && c.o.KeepSession
	s.maxQoS, s.noRetain = ack.maxQoS, ack.noRetain
	if s.qos > s.maxQoS {
		// Records too go at the server's Maximum QoS when it is lower
		// (TR-181 Device.LocalAgent.MTP.{i}.MQTT.PublishQoS).
		c.log.Info("mqtt: publishing at the server's Maximum QoS", "publish_qos", s.qos, "maximum_qos", s.maxQoS)
		s.qos = s.maxQoS
	}
	if ack.keepAlive >= 0 {
		s.keepAlive = time.Duration(ack.keepAlive) * time.Second // the server's wins [MQTT-3.1.2-21]
	}
	if s.keepAlive > 0 {
		s.pingerStarted = true
		go s.pinger()
	}
	l.plan, err = makePlan(&c.o, ack.grant)
	s.replyTail = ReplyTopic("", l.plan.replyTo)
	if len(l.plan.ignored) > 0 {
		c.log.Warn("mqtt: ignoring unusable CONNACK topics", "topics", l.plan.ignored)
	}
	if err == nil {
		err = s.subscribe(ctx)
	}
	if err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

// handshake sends the CONNECT [R-MQTT.6] and reads the CONNACK.
func (s *conn) handshake(c *Client) (connackIn, error) {
	c.mu.Lock()
	id := c.clientID
	c.mu.Unlock()
	o := &c.o
	cp := connectOut{clientID: id, cleanStart: !o.KeepSession, keepAlive: keepAlive(o.KeepAlive), // [R-MQTT.8], [R-MQTT.14]
		username: o.Username, password: o.Password} // [R-MQTT.7]
	s.keepAlive = time.Duration(cp.keepAlive) * time.Second
	if s.v5 {
		cp.maxPacket = uint32(min(o.MaxRecord+3*(maxTopicLen+1), maxRemaining))
		if o.MaxPacketSize > 0 {
			cp.maxPacket = min(o.MaxPacketSize, cp.maxPacket) // no more than is accepted
		}
		cp.receiveMax = o.ReceiveMaximum
		cp.sessionExpiry = uint32(o.SessionExpiry / time.Second)
		cp.endpointID = o.EndpointID
	} else if w := o.Will; w != nil && w.Topic != "" {
		cp.willTopic, cp.willPayload = c.will311Topic(), w.Record
	}
	b, err := s.w.begin()
	if err != nil {
		return connackIn{}, fmt.Errorf("mqtt: CONNECT: %w", err)
	}
	s.w.send(appendConnect(b, s.v5, &cp))
	if err := s.w.flush(true); err != nil {
		return connackIn{}, fmt.Errorf("mqtt: CONNECT: %w", err)
	}
	typ, _, n, err := s.r.header()
	if err == nil && (typ != typeConnack || n > 1<<16) {
		err = fmt.Errorf("%w: packet type %d before CONNACK", errMalformed, typ)
	}
	var body []byte
	if err == nil {
		body, err = s.r.body(n)
	}
	if err != nil {
		return connackIn{}, fmt.Errorf("mqtt: CONNACK: %w", err)
	}
	ack, err := parseConnack(s.v5, body)
	if err != nil {
		return ack, err
	}
	if ack.code != 0 {
		return ack, fmt.Errorf("mqtt: CONNACK reason code 0x%02x %s: %w", ack.code, ack.reasonString, errRefused)
	}
	q := int(ack.receiveMax)
	if q == 0 {
		q = 65535
	}
	s.recvMax = q
	return ack, nil
}

// errRefused marks a CONNACK that refused the connection.
var errRefused = errors.New("connection refused")

// subscribe sends the SUBSCRIBE of the plan. At least one filter must be
// granted [R-MQTT.17].
func (s *conn) subscribe(ctx context.Context) error {
	w := s.waiter()
	id := s.register(w)
	b, err := s.w.begin()
	if err != nil {
		s.unregister(id, w)
		return fmt.Errorf("mqtt: SUBSCRIBE: %w", s.l.lost())
	}
	s.w.send(appendSubscribe(b, s.v5, id, s.l.plan.filters, s.l.o.filterQoS))
	select {
	case a := <-w.ch:
		return grantedSome(s.l, s.l.plan.filters, a.codes)
	case <-ctx.Done():
		s.unregister(id, w)
		return fmt.Errorf("mqtt: SUBSCRIBE: %w", ctx.Err())
	case <-s.l.done:
		s.unregister(id, w)
		return fmt.Errorf("mqtt: SUBSCRIBE: %w", s.l.lost())
	}
}

// grantedSome logs refused subscriptions and fails when none was granted
// [R-MQTT.17]: reason codes from 0x80 mean failure in both versions.
func grantedSome(l *link, filters []string, codes []byte) error {
	ok := 0
	for i, code := range codes {
		if code < 0x80 {
			ok++
		} else if i < len(filters) {
			l.log.Warn("mqtt: subscription refused", "filter", filters[i], "reason_code", code)
		}
	}
	if ok == 0 {
		return fmt.Errorf("mqtt: the server granted none of the subscriptions %q [R-MQTT.17]", filters)
	}
	return nil
}

// keepAlive converts Options.KeepAlive to CONNECT's whole seconds.
func keepAlive(d time.Duration) uint16 {
	if d <= 0 {
		return 0
	}
	return uint16(max(d/time.Second, 1))
}

func (s *conn) link() *link { return s.l }

// waiter returns a waiter for one acknowledgement.
func (s *conn) waiter() *waiter { return &waiter{ch: make(chan ackIn, 1)} }

// register gives w a free packet identifier.
func (s *conn) register(w *waiter) uint16 {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := s.freeID()
	s.inflight[id] = w
	return id
}

// unregister stops waiting for the acknowledgement of id. The identifier
// stays in use until the acknowledgement arrives, so that it is not given
// to another packet while the server still counts it.
func (s *conn) unregister(id uint16, w *waiter) {
	s.mu.Lock()
	if s.inflight[id] == w {
		s.inflight[id] = nil
		s.mu.Unlock()
		return
	}
	s.mu.Unlock()
	<-w.ch // the reader took it and is sending
}

// acked hands a to the waiter of its packet identifier; with done, the
// identifier is free again.
func (s *conn) acked(a ackIn, done bool) *waiter {
	if s.pubAcked(a, done) {
		return nil
	}
	s.mu.Lock()
	w, ok := s.inflight[a.id]
	if done && ok {
		delete(s.inflight, a.id)
	}
	s.mu.Unlock()
	if w != nil && done {
		w.ch <- a
	}
	return w
}

// publish sends rec in a PUBLISH [R-MQTT.18] to dest with our "reply to"
// Topic [R-MQTT.22]: on MQTT 5.0 in the Response Topic property
// [R-MQTT.23], with "usp.msg" as Content Type [R-MQTT.27]; on MQTT 3.1.1
// after "/reply-to=" in the Topic Name [R-MQTT.24]. At QoS 1 and 2 it
// returns once the publication is taken (publishQoS), without waiting
// for its acknowledgement; tries is how many connections were already
// lost under it, and fromQueue exempts it from the backlog's bound.
func (s *conn) publish(ctx context.Context, dest string, rec []byte, tries int, fromQueue, retain bool) error {
	if s.v5 {
		if n := packetSize5(dest, s.l.plan.replyTo, ContentType, s.qos, len(rec)); s.maxPacket > 0 && n > int(s.maxPacket) {
			return fmt.Errorf("mqtt: PUBLISH of %d bytes over the server's Maximum Packet Size %d: %w", n, s.maxPacket, mtp.ErrTooLarge)
		}
	} else if n := len(dest) + len(s.replyTail); n > maxTopicLen {
		return fmt.Errorf("mqtt: topic name of %d bytes is too long", n)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("mqtt: publish to %q: %w", dest, err)
	}
	if s.qos > 0 {
		return s.publishQoS(dest, rec, tries, fromQueue, retain)
	}
	p := publishOut{topic: dest, payload: rec, retain: retain && !s.noRetain}
	if s.v5 {
		p.responseTopic, p.contentType = s.l.plan.replyTo, ContentType
	} else {
		p.topic = dest + s.replyTail
	}
	b, err := s.w.begin()
	if err != nil {
		return s.l.lost()
	}
	s.w.send(appendPublish(b, s.v5, &p))
	return nil
}

// packetSize5 returns the size on the wire of an MQTT 5.0 PUBLISH to
// topic, with Response Topic and Content Type properties, at QoS qos,
// carrying n bytes.
func packetSize5(topic, responseTopic, contentType string, qos byte, n int) int {
	props := stringProp(len(responseTopic)) + stringProp(len(contentType))
	rem := 2 + len(topic) + varintLen(props) + props + n
	if qos > 0 {
		rem += 2
	}
	return 1 + varintLen(rem) + rem
}

// varintLen is the size of n as an MQTT Variable Byte Integer.
func varintLen(n int) int {
	switch {
	case n < 128:
		return 1
	case n < 16384:
		return 2
	case n < 2097152:
		return 3
	}
	return 4
}

// readLoop reads packets until the connection ends, or until it hands the
// reading over to another goroutine (handOff).
func (s *conn) readLoop(t *readerTurn) {
	for {
		if s.holding && s.r.buffered() == 0 {
			// Every packet that came in the last read is handled:
			// what they caused leaves in one write.
			s.holding = false
			s.w.release()
		}
		typ, flags, n, err := s.r.header()
		if err == nil {
			err = s.packet(t, typ, flags, n)
		}
		if err == errHandedOver {
			return // another goroutine reads now
		}
		if err != nil {
			defer close(s.readerDone)
			select {
			case <-s.l.stop: // we are closing it
				s.l.finish(nil)
			default:
				if errors.Is(err, errMalformed) || errors.Is(err, errProtocol) {
					s.l.log.Warn("mqtt: protocol error from the server; disconnecting", "err", err)
					s.bye(0x82) // Protocol Error
				}
				s.l.finish(fmt.Errorf("mqtt: connection: %w", err))
			}
			s.l.nc.Close()
			return
		}
	}
}

// errProtocol marks a packet the server must not send.
var errProtocol = errors.New("mqtt: protocol error")

// packet reads and handles the body of one packet.
func (s *conn) packet(t *readerTurn, typ, flags byte, n int) error {
	if typ == typePublish {
		return s.readPublish(t, flags, n)
	}
	if n > 1<<16 {
		return fmt.Errorf("%w: packet type %d of %d bytes", errProtocol, typ, n)
	}
	body, err := s.r.body(n)
	if err != nil {
		return err
	}
	switch typ {
	case typePuback, typePubcomp:
		a, err := parseAck(s.v5, body)
		if err != nil {
			return err
		}
		s.acked(a, true)
	case typePubrec:
		a, err := parseAck(s.v5, body)
		if err != nil {
			return err
		}
		if a.reason >= 0x80 {
			s.acked(a, true)
			return nil
		}
		s.acked(a, false)
		b, err := s.w.begin()
		if err != nil {
			return err
		}
		s.w.send(appendAck(b, typePubrel, a.id))
	case typePubrel:
		a, err := parseAck(s.v5, body)
		if err != nil {
			return err
		}
		delete(s.rx2, a.id)
		b, err := s.w.begin()
		if err != nil {
			return err
		}
		s.w.send(appendAck(b, typePubcomp, a.id))
	case typeSuback:
		a, err := parseSuback(s.v5, body)
		if err != nil {
			return err
		}
		a.codes = bytes.Clone(a.codes)
		s.acked(a, true)
	case typePingresp:
		s.pingSent.Store(false)
	case typeDisconnect:
		if !s.v5 {
			return fmt.Errorf("%w: DISCONNECT from an MQTT 3.1.1 server", errProtocol)
		}
		d, err := parseDisconnect(body)
		if err != nil {
			return err
		}
		return fmt.Errorf("mqtt: server sent DISCONNECT with reason code 0x%02x %s", d.reason, d.reasonString)
	default:
		return fmt.Errorf("%w: unexpected packet type %d", errProtocol, typ)
	}
	return nil
}

// readPublish reads a PUBLISH of n bytes, acknowledges it [R-MQTT.20]
// and hands its Record to the Handler; errHandedOver when the Handler
// handed the reading over to another goroutine (handOff).
func (s *conn) readPublish(t *readerTurn, flags byte, n int) error {
	limit := s.l.o.MaxRecord + publishHead + 1<<16 // room for the Topic and properties
	if n > limit {
		return s.dropPublish(flags, n)
	}
	// The Record is the Handler's to keep (mtp.Transport): each PUBLISH
	// is read into a buffer of its own, of its size.
	buf, err := s.r.into(nil, n)
	if err != nil {
		return err
	}
	p, err := parsePublish(s.v5, flags, buf)
	if err != nil {
		return err
	}
	deliver := true
	if p.qos == 2 {
		deliver = !s.rx2[p.id] // a duplicate before PUBREL is not delivered again
		s.rx2[p.id] = true
	}
	// The acknowledgement first: it leaves with the answer the Handler's
	// Record usually brings, or after ackDelay [R-MQTT.20].
	if err := s.ack(p.qos, p.id); err != nil {
		return err
	}
	if deliver {
		r := received{topic: s.topic(p.topic), payload: p.payload, contentType: p.contentType}
		if len(p.responseTopic) > 0 {
			if string(p.responseTopic) != s.lastResponse {
				s.lastResponse = string(p.responseTopic)
			}
			r.responseTopic = s.lastResponse
		}
		r.replyTo, r.replyOK = s.lastReplyTo, s.lastReplyOK
		if !s.holding && s.r.buffered() > 0 {
			// More packets came with this one: the answers the Handler
			// sends wait for them (readLoop releases).
			s.holding = true
			s.w.hold()
		}
		s.inHandler.Add(1)
		t.queued.Store(s.r.buffered() > 0)
		t.state.Store(turnInHandler)
		s.l.accept(r)
		s.inHandler.Add(-1)
		if !t.state.CompareAndSwap(turnInHandler, turnReading) && !t.state.CompareAndSwap(turnMayHandOver, turnReading) {
			return errHandedOver
		}
		// A hand-over timer the Handler set is left to fire: see handOff.
	}
	return nil
}

// topic returns name as a string, the one of the previous PUBLISH when
// it is the same.
func (s *conn) topic(name []byte) string {
	if string(name) != s.lastTopic {
		s.lastTopic = string(name)
		_, s.lastReplyTo, s.lastReplyOK = ParseReplyTopic(s.lastTopic)
	}
	return s.lastTopic
}

// ack acknowledges a received PUBLISH of QoS 1 (PUBACK) or 2 (PUBREC).
func (s *conn) ack(qos byte, id uint16) error {
	if qos == 0 {
		return nil
	}
	b, err := s.w.begin()
	if err != nil {
		return err
	}
	if qos == 1 {
		s.w.sendAck(appendAck(b, typePuback, id))
	} else {
		s.w.send(appendAck(b, typePubrec, id))
	}
	return nil
}

// dropPublish reads past a PUBLISH over the record limit and
// acknowledges it; the connection stays up.
func (s *conn) dropPublish(flags byte, n int) error {
	head, err := s.r.into(nil, min(n, publishHead))
	if err != nil {
		return err
	}
	topic, id, err := parsePublishHead(flags, head)
	if err != nil {
		return err
	}
	if err := s.r.skip(n - len(head)); err != nil {
		return err
	}
	s.l.log.Warn("mqtt: dropping oversize record", "topic", string(topic), "size", n, "max", s.l.o.MaxRecord)
	qos := flags >> 1 & 3
	if qos == 2 {
		s.rx2[id] = true
	}
	return s.ack(qos, id)
}

// pinger sends PINGREQ when nothing else was sent for half the Keep
// Alive [R-MQTT.14] and ends the connection when a PINGRESP does not
// come back within the Keep Alive.
func (s *conn) pinger() {
	defer close(s.pingerDone)
	t := time.NewTicker(s.keepAlive / 2)
	defer t.Stop()
	last := s.w.writes.Load()
	missed := 0
	for {
		select {
		case <-s.l.done:
			return
		case <-t.C:
		}
		if s.pingSent.Load() {
			if missed++; missed >= 2 {
				s.l.finish(errors.New("mqtt: connection: no PINGRESP within the Keep Alive"))
				s.l.nc.Close()
				return
			}
			continue
		}
		missed = 0
		if now := s.w.writes.Load(); now != last {
			last = now
			continue
		}
		b, err := s.w.begin()
		if err != nil {
			return
		}
		s.pingSent.Store(true)
		s.w.send(appendPingreq(b))
		last = s.w.writes.Load()
	}
}

// bye says DISCONNECT with reason (MQTT 5.0) and waits, up to
// byeTimeout, for it to be written.
func (s *conn) bye(reason byte) {
	t := time.AfterFunc(byeTimeout, func() { s.l.nc.Close() })
	defer t.Stop()
	b, err := s.w.begin()
	if err != nil {
		return
	}
	s.w.send(appendDisconnect(b, s.v5, reason))
	_ = s.w.flush(true)
}

func (s *conn) close() {
	s.closeOnce.Do(func() {
		s.l.stopping()
		select {
		case <-s.l.done:
		default:
			// A DISCONNECT stuck behind a stalled write gives up when the
			// connection closes. (Not a write deadline: a WebSocket's is
			// not safe to set while another goroutine writes.)
			s.bye(0) // [R-MQTT.35]
		}
		s.l.nc.Close()
		s.l.finish(nil)
		s.w.stop()
		s.handOffTimer.Stop()
		if s.inHandler.Load() == 0 { // not from a Handler: the reader would wait for us
			s.waitReader()
		}
	})
}

// waitReader waits for the reader and the pinger to end; the connection
// is closed or closing.
func (s *conn) waitReader() {
	if s.started {
		<-s.readerDone
	}
	if s.pingerStarted {
		<-s.pingerDone
	}
}
