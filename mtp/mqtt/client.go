package mqtt

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"

	"github.com/uspkit/uspkit/mtp"
)

// Client is a USP endpoint's MQTT connection: an mtp.Transport that
// connects to one MQTT server, subscribes to its own Topic and sends
// Records to other endpoints' Topics. It reconnects by itself with the
// retry algorithm of TR-369 and queues Records while disconnected.
//
// A Client is safe for concurrent use. Lock order: c.mu is never held
// while publishing, connecting or closing a connection.
type Client struct {
	o   Options
	b   broker
	log *slog.Logger

	mu        sync.Mutex // guards the fields below
	closed    bool
	serving   bool
	cur       session   // where Send publishes; nil while disconnected
	queue     []pending // Records waiting for a connection, in order
	carried   []*outPub // publications the last connection left unacknowledged, in order
	topic     string    // the "reply to" Topic of the last connection
	clientID  string    // the ClientId to connect with [R-MQTT.11]
	srvMax    uint32    // the last CONNACK's Maximum Packet Size; 0 if none
	cancel    context.CancelFunc
	closeDone chan struct{} // closed when Close has finished
}

// pending is a queued Record.
type pending struct {
	topic string
	rec   []byte
	tries int // publications cut short by a lost connection
	// retain is the RETAIN flag asked for (mtp.WithRetain).
	retain bool
}

// maxTries is how many connections may break under the same Record
// before it is dropped, so that a Record the server cannot take (one it
// answers by disconnecting) does not stop the queue forever.
const maxTries = 3

// upKey marks the ctx of a StateUp call; its value is an upValue.
type upKey struct{}

type upValue struct {
	c *Client
	s session
}

// NewClient returns a Client for o; nil o means zero Options, which
// Serve rejects. The Client connects when Serve is called.
func NewClient(o *Options) *Client {
	c := &Client{o: o.withDefaults(), closeDone: make(chan struct{})}
	c.log = c.o.Logger
	c.b, _ = brokerOf(c.o.URL, c.o.TLS)
	c.topic = c.o.Topic
	c.clientID = c.o.ClientID
	if c.clientID == "" && c.o.Version == V311 {
		c.clientID = c.o.EndpointID // [R-MQTT.8]
	}
	return c
}

// Topic returns the "reply to" Topic in use: the one of the current or
// last connection (on MQTT 5.0 the CONNACK may set it [R-MQTT.21]), or
// Options.Topic before the first one. The layer above puts it in the
// MQTTConnectRecord it sends from the StateUp call.
func (c *Client) Topic() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.topic
}

// ClientID returns the ClientId the Client connects with: Options.ClientID,
// or the one the MQTT 5.0 server assigned, which the layer above should
// save as its configured ClientId [R-MQTT.9]. Empty on MQTT 5.0 before
// the first CONNACK when none is configured.
func (c *Client) ClientID() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.clientID
}

// Serve connects, subscribes and calls h for each Record that arrives,
// reconnecting after failures with the back-off of Options.MinWait and
// Multiplier [R-MQTT.10], [R-MQTT.33], until ctx is done or Close is
// called; either closes the Client. It returns nil then, an error at
// once for bad Options or a second call, or ErrNoTopic (and closes the
// Client) when there is no "reply to" Topic [R-MQTT.16].
func (c *Client) Serve(ctx context.Context, h mtp.Handler) error {
	if err := c.o.check(); err != nil {
		return err
	}
	c.mu.Lock()
	if c.serving {
		c.mu.Unlock()
		return errors.New("mqtt: Serve called twice")
	}
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.serving = true
	// Cancellation of ctx goes through Close, which says DISCONNECT.
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	c.cancel = cancel
	c.mu.Unlock()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()

	retry := mtp.Retry{MinWait: c.o.MinWait, Multiplier: c.o.Multiplier, MaxWait: c.o.MaxWait}
	log := c.log.With("url", c.b.url.Redacted())
	err := mtp.Redial(sctx, &retry, func(ctx context.Context) (bool, error) { return c.session(ctx, h) },
		&mtp.RedialOptions{Logger: log, Level: slog.LevelWarn, Msg: "mqtt: not connected; retrying",
			Fatal: func(err error) bool { return errors.Is(err, ErrNoTopic) }})
	if err != nil {
		log.Error("mqtt: no reply-to topic; MTP disabled", "err", err)
		c.Close()
	}
	<-c.closeDone
	return err
}

// session runs one connection from dial to its end: the StateUp call,
// the flush of the queue, then the wait for the end. Received Records go
// to h from the connection's reader, one at a time and in order: h must
// not wait for long (Send does not wait for the reader). up reports whether the CONNACK
// accepted the connection.
func (c *Client) session(ctx context.Context, h mtp.Handler) (up bool, err error) {
	cctx, cancel := context.WithTimeout(ctx, c.o.ConnectTimeout)
	defer cancel()
	nc, certs, err := dial(cctx, c.b, c.o.TLS, c.o.ConnectTimeout)
	if err != nil {
		return false, err
	}
	l := newLink(&c.o, c.log, nc, mtp.Peer{Address: c.o.URL, Certs: certs}, func(in mtp.Inbound) { c.deliver(ctx, in, h) })
	s, err := c.connect(cctx, l)
	if err != nil {
		l.finish(err)
		nc.Close()
		return false, err
	}
	c.mu.Lock()
	c.topic = l.plan.replyTo
	prev := c.carried
	c.carried = nil
	c.mu.Unlock()
	if s.sessionOK && s.maxQoS > 0 {
		s.resend(prev) // [MQTT-4.4.0-1]
	} else if len(prev) > 0 {
		c.requeueOut(prev)
	}
	c.log.Info("mqtt: connected", "url", c.b.url.Redacted(), "version", c.o.Version,
		"client_id", c.ClientID(), "topic", l.plan.replyTo, "subscriptions", l.plan.filters)
	c.state(context.WithValue(ctx, upKey{}, upValue{c, s}), l.peer, mtp.StateUp, nil)
	err = c.flush(ctx, s)
	if err == nil {
		select {
		case <-l.done:
			err = l.err
		case <-ctx.Done():
		}
	}
	c.mu.Lock()
	if c.cur == s {
		c.cur = nil
	}
	closed := c.closed
	c.mu.Unlock()
	s.close()
	s.waitReader() // also when a Handler's Close did not wait for it
	left := s.takeOver()
	c.mu.Lock()
	if !c.closed && len(left) > 0 {
		c.carried = append(left, c.carried...)
	}
	c.mu.Unlock()
	if closed || ctx.Err() != nil {
		err = nil
	} else if err == nil {
		err = errLink
	}
	c.state(ctx, l.peer, mtp.StateDown, err)
	return true, err
}

// flush publishes the queued Records on s, then makes s the connection
// Send publishes on. Records queued meanwhile go first, in order.
func (c *Client) flush(ctx context.Context, s session) error {
	for {
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return mtp.ErrClosed
		}
		q := c.queue
		c.queue = nil
		if len(q) == 0 {
			c.cur = s
			c.mu.Unlock()
			return nil
		}
		c.mu.Unlock()
		for i := range q {
			err := s.publish(ctx, q[i].topic, q[i].rec, q[i].tries, true, q[i].retain)
			if err == nil {
				continue
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if !errors.Is(err, errLink) {
				c.log.Warn("mqtt: dropping queued record", "topic", q[i].topic, "size", len(q[i].rec), "err", err)
				continue
			}
			c.requeue(q[i:])
			return fmt.Errorf("mqtt: publish queued record: %w", err)
		}
	}
}

// requeue puts back q, which a lost connection interrupted at q[0], in
// front of the queue.
func (c *Client) requeue(q []pending) {
	if q[0].tries++; q[0].tries >= maxTries {
		c.log.Warn("mqtt: dropping record after repeated connection losses", "topic", q[0].topic,
			"size", len(q[0].rec), "tries", q[0].tries)
		q = q[1:]
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.closed {
		c.queue = append(q, c.queue...)
	}
}

// requeueOut puts the publications a connection left unacknowledged, in
// order, in front of the queue as new ones (the server kept no session):
// they may arrive twice. A QoS 2 one whose PUBREC came is not sent again. One under which maxTries connections broke is
// dropped.
func (c *Client) requeueOut(prev []*outPub) {
	q := make([]pending, 0, len(prev))
	for _, o := range prev {
		if o.rel {
			continue // the server has it: its PUBREC came
		}
		if o.msg != nil {
			c.log.Warn("mqtt: dropping unacknowledged message after a connection loss", "topic", o.topic, "size", len(o.rec))
			continue // a Publish message is not a Record: it is not queued
		}
		if o.id != 0 { // sent: the connection broke under it
			o.tries++
		}
		if o.tries >= maxTries {
			c.log.Warn("mqtt: dropping record after repeated connection losses", "topic", o.topic,
				"size", len(o.rec), "tries", o.tries)
			continue
		}
		q = append(q, pending{topic: o.topic, rec: o.rec, tries: o.tries, retain: o.retain})
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.closed {
		c.queue = append(q, c.queue...)
	}
}

// deliver calls h; a panic in h is logged, not spread.
func (c *Client) deliver(ctx context.Context, in mtp.Inbound, h mtp.Handler) {
	defer func() {
		if v := recover(); v != nil {
			c.log.Error("mqtt: handler panic", "panic", v, "stack", string(debug.Stack()))
		}
	}()
	h.HandleRecord(ctx, in)
}

// Send publishes rec to the Topic addr [R-MQTT.18] with this endpoint's
// "reply to" Topic [R-MQTT.22]. At QoS 1 and 2 it does not wait for the
// server's acknowledgement: it keeps a copy of rec until the PUBACK (or
// PUBCOMP) comes and returns once the PUBLISH is queued for writing, or
// queued behind the publications the server's Receive Maximum holds back
// (up to Options.QueueLen of them, then mtp.ErrQueueFull). While
// disconnected it queues a copy of rec and returns nil; mtp.ErrQueueFull
// when the queue is full. A publication still unacknowledged when its
// connection is lost is sent again on the next one: with DUP and its
// Packet Identifier when the server kept the session [MQTT-4.4.0-1],
// else as a new PUBLISH, so it may arrive twice (QoS 1 is "at least
// once"). A refusal in the acknowledgement (reason code 0x80 or more) is
// logged; an acknowledgement missing after Options.WriteTimeout ends the
// connection. A ctx from mtp.WithRetain(ctx, true) sets the PUBLISH's
// RETAIN flag, unless the MQTT 5.0 server said Retain Available = 0.
func (c *Client) Send(ctx context.Context, addr string, rec []byte) error {
	if err := c.fits(rec); err != nil {
		return err
	}
	if addr == "" {
		return fmt.Errorf("mqtt: empty topic: %w", mtp.ErrNoPeer)
	}
	if !validTopicName(addr) {
		return fmt.Errorf("mqtt: %q is not a topic name: %w", addr, mtp.ErrNoPeer)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	up, _ := ctx.Value(upKey{}).(upValue)
	retain := mtp.Retain(ctx)
	for first := true; ; first = false {
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return fmt.Errorf("mqtt: send: %w", mtp.ErrClosed)
		}
		s := c.cur
		if first && up.c == c {
			s = up.s // from within StateUp: ahead of the queue
		}
		if s == nil {
			defer c.mu.Unlock()
			return c.enqueueLocked(addr, rec, retain)
		}
		c.mu.Unlock()
		err := s.publish(ctx, addr, rec, 0, false, retain)
		if !errors.Is(err, errLink) {
			return err
		}
		// The connection broke under us: try the next one, or queue.
		c.log.Debug("mqtt: publish cut short; retrying", "topic", addr, "err", err)
		c.mu.Lock()
		if c.cur == s {
			c.cur = nil
		}
		c.mu.Unlock()
	}
}

// fits checks rec against the send limit: the Maximum Packet Size of the
// last MQTT 5.0 CONNACK that gave one (publish then checks the whole
// PUBLISH against it), else Options.MaxRecord.
func (c *Client) fits(rec []byte) error {
	c.mu.Lock()
	srv := c.srvMax
	c.mu.Unlock()
	if srv > 0 && len(rec) >= int(srv) {
		return fmt.Errorf("mqtt: record of %d bytes over the server's Maximum Packet Size %d: %w", len(rec), srv, mtp.ErrTooLarge)
	}
	if srv == 0 && len(rec) > c.o.MaxRecord {
		return fmt.Errorf("mqtt: record of %d bytes over %d: %w", len(rec), c.o.MaxRecord, mtp.ErrTooLarge)
	}
	return nil
}

// MaxRecord returns the largest Record Send takes now: a little under the
// server's Maximum Packet Size when the last MQTT 5.0 CONNACK gave one
// (the PUBLISH's Topic and properties take the rest), else
// Options.MaxRecord.
func (c *Client) MaxRecord() int {
	c.mu.Lock()
	srv, topic := c.srvMax, c.topic
	c.mu.Unlock()
	if srv == 0 {
		return c.o.MaxRecord
	}
	// The overhead with a payload of the whole limit, so that the Remaining
	// Length's own size is not underestimated.
	n := int(srv)
	return max(2*n-packetSize5(topic, topic, ContentType, 1, n), 0)
}

// enqueueLocked queues a copy of rec; c.mu is held.
func (c *Client) enqueueLocked(topic string, rec []byte, retain bool) error {
	if len(c.queue) >= c.o.QueueLen {
		return fmt.Errorf("mqtt: %d records queued: %w", len(c.queue), mtp.ErrQueueFull)
	}
	c.queue = append(c.queue, pending{topic: topic, rec: append([]byte(nil), rec...), retain: retain})
	return nil
}

// Close says DISCONNECT [R-MQTT.35], closes the connection, stops Serve
// and discards the queued Records. It is safe to call more than once and
// from a Handler.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	s := c.cur
	c.cur = nil
	c.queue = nil
	c.carried = nil
	cancel := c.cancel
	c.mu.Unlock()
	if s != nil {
		s.close()
	}
	if cancel != nil {
		cancel()
	}
	close(c.closeDone)
	return nil
}

// state reports a state change to the log and to Options.OnState.
func (c *Client) state(ctx context.Context, p mtp.Peer, s mtp.State, err error) {
	c.log.Debug("mqtt: state", "url", c.b.url.Redacted(), "state", s, "err", err)
	if c.o.OnState != nil {
		c.o.OnState(ctx, p, s, err)
	}
}
