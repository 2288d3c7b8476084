package mqtt

import (
	"context"
	"errors"
	"fmt"

	"github.com/uspkit/uspkit/mtp"
)

// Message is an application message other than a USP Record, such as a
// Bulk Data report (TR-181 Device.BulkData.Profile.{i}.MQTT): it goes to
// its Topic as it is, with its own QoS and RETAIN flag and without the
// endpoint's "reply to" Topic.
type Message struct {
	// Topic is the Topic Name; it must not hold wildcards.
	Topic string
	// Payload is the message.
	Payload []byte
	// QoS is the QoS level asked for; QoSDefault means QoS 1. On MQTT
	// 5.0 a server whose CONNACK gave a lower Maximum QoS gets its
	// Maximum QoS.
	QoS QoS
	// Retain asks the server to keep the message for later subscribers.
	// On MQTT 5.0 it is cleared when the CONNACK said Retain Available
	// = 0.
	Retain bool
	// ContentType is the MQTT 5.0 Content Type property; empty: none.
	ContentType string
}

// msgOut is what a QoS 1 or 2 Message keeps in its outPub.
type msgOut struct {
	qos         byte
	retain      bool
	contentType string
}

// Publish sends m on the current connection. At QoS 1 and 2 it returns
// once the PUBLISH is queued for writing, like Send; if the connection
// breaks before its acknowledgement, it is sent again (with DUP) only
// when the next connection's server kept the session [MQTT-4.4.0-1],
// else it is dropped with a log line. Unlike Send it does not queue m
// while disconnected: it then returns an error wrapping mtp.ErrNoPeer.
func (c *Client) Publish(ctx context.Context, m Message) error {
	if !validTopicName(m.Topic) {
		return fmt.Errorf("mqtt: %q is not a topic name: %w", m.Topic, mtp.ErrNoPeer)
	}
	if err := c.fits(m.Payload); err != nil {
		return err
	}
	for range maxTries {
		if err := ctx.Err(); err != nil {
			return err
		}
		c.mu.Lock()
		closed, s := c.closed, c.cur
		c.mu.Unlock()
		switch {
		case closed:
			return fmt.Errorf("mqtt: publish: %w", mtp.ErrClosed)
		case s == nil:
			return fmt.Errorf("mqtt: publish to %q while disconnected: %w", m.Topic, mtp.ErrNoPeer)
		}
		cn, ok := s.(*conn)
		if !ok {
			return errors.New("mqtt: publish: no connection")
		}
		err := cn.publishMessage(m)
		if !errors.Is(err, errLink) {
			return err
		}
		c.mu.Lock()
		if c.cur == s {
			c.cur = nil
		}
		c.mu.Unlock()
	}
	return fmt.Errorf("mqtt: publish to %q: %w", m.Topic, mtp.ErrNoPeer)
}

// publishMessage sends m at min(m.QoS, the server's Maximum QoS), its
// RETAIN flag cleared when the server has no retained messages.
func (s *conn) publishMessage(m Message) error {
	q := min(m.QoS.level(), s.maxQoS)
	retain := m.Retain && !s.noRetain
	ctype := ""
	if s.v5 {
		ctype = m.ContentType
		if n := packetSize5(m.Topic, "", ctype, q, len(m.Payload)); s.maxPacket > 0 && n > int(s.maxPacket) {
			return fmt.Errorf("mqtt: PUBLISH of %d bytes over the server's Maximum Packet Size %d: %w", n, s.maxPacket, mtp.ErrTooLarge)
		}
	}
	if q == 0 {
		b, err := s.w.begin()
		if err != nil {
			return s.l.lost()
		}
		s.w.send(appendPublish(b, s.v5, &publishOut{topic: m.Topic, retain: retain, contentType: ctype, payload: m.Payload}))
		return nil
	}
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		return s.l.lost()
	}
	o := s.newOut(m.Topic, m.Payload, 0)
	o.msg = &msgOut{qos: q, retain: retain, contentType: ctype}
	if len(s.backlog) > 0 || len(s.pubs) >= s.recvMax {
		if len(s.backlog) >= s.l.o.QueueLen {
			n := len(s.backlog)
			s.putOut(o)
			s.mu.Unlock()
			return fmt.Errorf("mqtt: %d records wait for the server's Receive Maximum: %w", n, mtp.ErrQueueFull)
		}
		s.backlog = append(s.backlog, o)
		s.mu.Unlock()
		return nil
	}
	s.sendLocked(o, false)
	s.mu.Unlock()
	s.w.kick()
	return nil
}
