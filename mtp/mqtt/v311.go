package mqtt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	mqtt311 "github.com/eclipse/paho.mqtt.golang"
)

// conn311 is an MQTT 3.1.1 connection over the paho.mqtt.golang client,
// used for this one connection with its own reconnection turned off.
type conn311 struct {
	l         *link
	cli       mqtt311.Client
	qos       byte
	timeout   time.Duration
	closeOnce sync.Once
}

// connect311 says CONNECT on l's network connection, waits for the
// CONNACK and subscribes as the plan says.
func (c *Client) connect311(ctx context.Context, l *link) (*conn311, error) {
	s := &conn311{l: l, qos: c.o.PublishQoS.level(), timeout: c.o.WriteTimeout}
	var used atomic.Bool
	c.mu.Lock()
	id := c.clientID
	c.mu.Unlock()
	opts := mqtt311.NewClientOptions().
		AddBroker("tcp://" + c.b.addr).
		SetProtocolVersion(4). // 3.1.1, no fallback to 3.1
		SetClientID(id).       // [R-MQTT.8]
		SetUsername(c.o.Username).
		SetPassword(c.o.Password). // [R-MQTT.7]
		SetCleanSession(!c.o.KeepSession).
		SetKeepAlive(time.Duration(keepAlive(c.o.KeepAlive)) * time.Second). // [R-MQTT.14]
		SetAutoReconnect(false).
		SetConnectRetry(false).
		SetResumeSubs(false).
		SetOrderMatters(true).
		SetConnectTimeout(c.o.ConnectTimeout).
		SetWriteTimeout(c.o.WriteTimeout).
		SetDefaultPublishHandler(func(_ mqtt311.Client, m mqtt311.Message) { s.received(m) }).
		SetConnectionLostHandler(func(_ mqtt311.Client, err error) {
			l.finish(fmt.Errorf("mqtt: connection: %w", err))
		}).
		SetCustomOpenConnectionFn(func(*url.URL, mqtt311.ClientOptions) (net.Conn, error) {
			if used.Swap(true) {
				return nil, errors.New("mqtt: connection already used")
			}
			return l.nc, nil
		})
	if w := c.o.Will; w != nil && w.Topic != "" {
		opts.SetBinaryWill(c.will311Topic(), w.Record, 1, false)
	}
	s.cli = mqtt311.NewClient(opts)
	if err := s.wait(ctx, s.cli.Connect()); err != nil {
		return nil, fmt.Errorf("mqtt: CONNECT: %w", err)
	}
	var err error
	l.plan, err = makePlan(&c.o, grant{})
	if err == nil {
		err = s.subscribe(ctx)
	}
	if err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

// wait waits for tok. When ctx ends first it closes the network
// connection, which ends a CONNECT waiting for its CONNACK, then has the
// library disconnect, which stops its goroutines and completes its other
// tokens (it takes a connection closed under it for a deliberate close
// and does neither by itself), and waits for tok.
func (s *conn311) wait(ctx context.Context, tok mqtt311.Token) error {
	select {
	case <-tok.Done():
		return tok.Error()
	case <-ctx.Done():
	}
	s.l.stopping()
	s.l.nc.Close()
	s.cli.Disconnect(0)
	<-tok.Done()
	return ctx.Err()
}

// subscribe sends the SUBSCRIBE of the plan; at least one filter must be
// granted [R-MQTT.17].
func (s *conn311) subscribe(ctx context.Context) error {
	filters := make(map[string]byte, len(s.l.plan.filters))
	for _, f := range s.l.plan.filters {
		filters[f] = s.l.o.SubscribeQoS.level()
	}
	if !s.l.enter() {
		return fmt.Errorf("mqtt: SUBSCRIBE: %w", s.l.lost())
	}
	tok := s.cli.SubscribeMultiple(filters, nil)
	s.l.leave()
	if err := s.wait(ctx, tok); err != nil {
		return fmt.Errorf("mqtt: SUBSCRIBE: %w", err)
	}
	res := tok.(*mqtt311.SubscribeToken).Result()
	codes := make([]byte, len(s.l.plan.filters))
	for i, f := range s.l.plan.filters {
		codes[i] = res[f]
	}
	return grantedSome(s.l, s.l.plan.filters, codes)
}

func (s *conn311) link() *link { return s.l }

// publish sends rec in a PUBLISH [R-MQTT.18] whose Topic Name is dest
// followed by our "reply to" Topic after "/reply-to=" [R-MQTT.22],
// [R-MQTT.24].
func (s *conn311) publish(ctx context.Context, dest string, rec []byte) error {
	name := ReplyTopic(dest, s.l.plan.replyTo)
	if len(name) > maxTopicLen {
		return fmt.Errorf("mqtt: topic name of %d bytes is too long", len(name))
	}
	if !s.l.enter() {
		return s.l.lost()
	}
	// The library writes the payload from its own goroutine, perhaps
	// after we have given up waiting: it gets its own copy.
	tok := s.cli.Publish(name, s.qos, false, bytes.Clone(rec))
	s.l.leave()
	t := time.NewTimer(s.timeout)
	defer t.Stop()
	select {
	case <-tok.Done():
		if err := tok.Error(); err != nil {
			return s.l.broken(err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("mqtt: publish to %q: %w", dest, ctx.Err())
	case <-s.l.done:
		return s.l.lost()
	case <-t.C:
		return s.l.broken(fmt.Errorf("no acknowledgement within %v", s.timeout))
	}
}

// received hands a PUBLISH to the link; it runs on the library's router
// goroutine, which acknowledges the PUBLISH when it returns.
func (s *conn311) received(m mqtt311.Message) {
	s.l.accept(received{topic: m.Topic(), payload: m.Payload()})
}

func (s *conn311) close() {
	s.closeOnce.Do(func() {
		s.l.stopping()
		// A DISCONNECT stuck behind a stalled write gives up when the
		// connection closes. (Not a write deadline: a WebSocket's is not
		// safe to set while another goroutine writes.)
		t := time.AfterFunc(byeTimeout, func() { s.l.nc.Close() })
		defer t.Stop()
		s.l.shutGate()
		s.cli.Disconnect(uint(byeTimeout / time.Millisecond)) // [R-MQTT.35]
		s.l.finish(nil)
	})
}
