package mqtt

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/uspkit/uspkit/mtp"
)

// conn5 is an MQTT 5.0 connection over the paho.golang protocol client.
type conn5 struct {
	l         *link
	cli       *paho.Client
	qos       byte
	maxPacket uint32 // the server's Maximum Packet Size; 0 means none
	closeOnce sync.Once
}

// connect5 says CONNECT on l's network connection, reads the CONNACK,
// makes the plan and subscribes. The Client's ClientID becomes the one
// the server assigns, if any [R-MQTT.9].
func (c *Client) connect5(ctx context.Context, l *link) (*conn5, error) {
	s := &conn5{l: l, qos: c.o.PublishQoS.level()}
	s.cli = paho.NewClient(paho.ClientConfig{
		Conn:              newPacketConn(l.nc, l.writeFailed),
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){s.received},
		OnClientError:     func(err error) { l.finish(fmt.Errorf("mqtt: connection: %w", err)) },
		OnServerDisconnect: func(d *paho.Disconnect) {
			l.finish(fmt.Errorf("mqtt: server sent DISCONNECT with reason code 0x%02x %s", d.ReasonCode, reasonString(d)))
		},
		PacketTimeout: c.o.WriteTimeout,
	})
	ack, err := s.cli.Connect(ctx, c.connectPacket())
	if err != nil {
		if ack != nil {
			return nil, fmt.Errorf("mqtt: CONNACK reason code 0x%02x: %w", ack.ReasonCode, err)
		}
		return nil, fmt.Errorf("mqtt: CONNECT: %w", err)
	}
	g := grantOf(ack)
	if g.assignedID != "" {
		c.mu.Lock()
		c.clientID = g.assignedID // kept for every later connection [R-MQTT.11]
		c.mu.Unlock()
	}
	s.maxPacket = g.maxPacket
	c.mu.Lock()
	c.srvMax = g.maxPacket // the send limit from now on
	c.mu.Unlock()
	l.plan, err = makePlan(&c.o, g)
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

// connectPacket builds the CONNECT [R-MQTT.6]: ClientId [R-MQTT.8],
// credentials [R-MQTT.7], Keep Alive [R-MQTT.14], Request Response
// Information [R-MQTT.12], the Endpoint ID User Property [R-MQTT.13] and
// Options.ReceiveMaximum, if set.
func (c *Client) connectPacket() *paho.Connect {
	c.mu.Lock()
	id := c.clientID
	c.mu.Unlock()
	maxPacket := uint32(min(c.o.MaxRecord+3*(maxTopicLen+1), 268435455))
	if c.o.MaxPacketSize > 0 {
		maxPacket = min(c.o.MaxPacketSize, maxPacket) // no more than is accepted
	}
	cp := &paho.Connect{
		ClientID:     id,
		CleanStart:   !c.o.KeepSession,
		KeepAlive:    keepAlive(c.o.KeepAlive),
		Username:     c.o.Username,
		UsernameFlag: c.o.Username != "",
		Password:     []byte(c.o.Password),
		PasswordFlag: c.o.Password != "",
		Properties: &paho.ConnectProperties{
			RequestResponseInfo: true,
			RequestProblemInfo:  true,
			MaximumPacketSize:   &maxPacket,
			User:                paho.UserProperties{{Key: userEndpointID, Value: c.o.EndpointID}},
		},
	}
	if c.o.ReceiveMaximum > 0 {
		cp.Properties.ReceiveMaximum = paho.Uint16(c.o.ReceiveMaximum)
	}
	if c.o.SessionExpiry > 0 {
		cp.Properties.SessionExpiryInterval = paho.Uint32(uint32(c.o.SessionExpiry / time.Second))
	}
	c.will5(cp)
	return cp
}

// keepAlive converts Options.KeepAlive to CONNECT's whole seconds.
func keepAlive(d time.Duration) uint16 {
	if d <= 0 {
		return 0
	}
	return uint16(max(d/time.Second, 1))
}

// subscribe sends the SUBSCRIBE of the plan. At least one filter must be
// granted [R-MQTT.17].
func (s *conn5) subscribe(ctx context.Context) error {
	sub := &paho.Subscribe{}
	for _, f := range s.l.plan.filters {
		sub.Subscriptions = append(sub.Subscriptions, paho.SubscribeOptions{Topic: f, QoS: s.l.o.SubscribeQoS.level()})
	}
	sa, err := s.cli.Subscribe(ctx, sub)
	if sa == nil {
		return fmt.Errorf("mqtt: SUBSCRIBE: %w", err)
	}
	return grantedSome(s.l, s.l.plan.filters, sa.Reasons)
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

func (s *conn5) link() *link { return s.l }

// publish sends rec in a PUBLISH [R-MQTT.18] to dest with our "reply to"
// Topic in the Response Topic property [R-MQTT.22], [R-MQTT.23] and the
// USP Record media type as Content Type [R-MQTT.27].
func (s *conn5) publish(ctx context.Context, dest string, rec []byte) error {
	p := &paho.Publish{Topic: dest, QoS: s.qos, Payload: rec,
		Properties: &paho.PublishProperties{ResponseTopic: s.l.plan.replyTo, ContentType: ContentType}}
	if n := publishSize5(p); s.maxPacket > 0 && n > int(s.maxPacket) {
		return fmt.Errorf("mqtt: PUBLISH of %d bytes over the server's Maximum Packet Size %d: %w", n, s.maxPacket, mtp.ErrTooLarge)
	}
	// The library does not end a publication waiting for its PUBACK
	// when the connection closes (it waits for its PacketTimeout): the
	// link's end cancels it.
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(s.l.ctx, cancel)
	defer stop()
	pr, err := s.cli.Publish(pctx, p)
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return fmt.Errorf("mqtt: publish to %q: %w", dest, ctx.Err())
	case s.l.ctx.Err() != nil:
		return s.l.lost()
	case pr != nil && pr.ReasonCode >= 0x80:
		return fmt.Errorf("mqtt: publish to %q refused with reason code 0x%02x: %w", dest, pr.ReasonCode, err)
	case errors.Is(err, paho.ErrInvalidArguments):
		return fmt.Errorf("mqtt: publish to %q: %w", dest, err)
	}
	return s.l.broken(err)
}

// publishSize5 returns the size of p on the wire.
func publishSize5(p *paho.Publish) int {
	return packetSize5(p.Topic, p.Properties.ResponseTopic, p.Properties.ContentType, p.QoS, len(p.Payload))
}

// packetSize5 returns the size on the wire of a PUBLISH to topic, with
// Response Topic and Content Type properties, at QoS qos, carrying n
// bytes.
func packetSize5(topic, responseTopic, contentType string, qos byte, n int) int {
	props := 3 + len(responseTopic) + 3 + len(contentType)
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

// received hands a PUBLISH to the link; it runs on the protocol client's
// delivery goroutine, which acknowledges the PUBLISH when it returns.
func (s *conn5) received(pr paho.PublishReceived) (bool, error) {
	p := pr.Packet
	r := received{topic: p.Topic, payload: p.Payload}
	if p.Properties != nil {
		r.responseTopic, r.contentType = p.Properties.ResponseTopic, p.Properties.ContentType
	}
	s.l.accept(r)
	return true, nil
}

func (s *conn5) close() {
	s.closeOnce.Do(func() {
		s.l.stopping()
		// A DISCONNECT stuck behind a stalled write gives up when the
		// connection closes. (Not a write deadline: a WebSocket's is not
		// safe to set while another goroutine writes.)
		t := time.AfterFunc(byeTimeout, func() { s.l.nc.Close() })
		defer t.Stop()
		_ = s.cli.Disconnect(&paho.Disconnect{ReasonCode: 0}) // [R-MQTT.35]
		s.l.finish(nil)
	})
}

// reasonString returns the Reason String of a DISCONNECT, if any.
func reasonString(d *paho.Disconnect) string {
	if d.Properties == nil {
		return ""
	}
	return d.Properties.ReasonString
}
