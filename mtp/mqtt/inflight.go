package mqtt

import (
	"fmt"
	"slices"
	"time"

	"github.com/uspkit/uspkit/mtp"
)

// outPub is a QoS 1 or 2 publication the Client has taken from Send: in
// flight (sent, waiting for its PUBACK or PUBCOMP) or in the backlog of
// a connection whose server's Receive Maximum is reached. It owns a copy
// of the Record, so that Send returns before the acknowledgement and the
// publication can still be sent again on the next connection.
type outPub struct {
	topic string // the destination given to Send
	rec   []byte
	id    uint16 // packet identifier while in flight; 0 in the backlog
	seq   uint64 // order of the first sending, for retransmission
	sent  time.Time
	rel   bool    // QoS 2: PUBREC received, PUBREL sent
	tries int     // connections lost under it
	msg   *msgOut // a Client.Publish message; nil for a Record
	// retain is a Record's RETAIN flag as asked (mtp.WithRetain); it is
	// cleared on the wire when the server has no retained messages.
	retain bool
}

// keepOut is the largest Record buffer kept for reuse, and keptOut how
// many are kept: the small answers of the hot path reuse theirs, and an
// idle connection holds at most keptOut × keepOut bytes of them.
const (
	keepOut = 4 << 10
	keptOut = 64
)

// newOut returns an outPub holding a copy of rec; s.mu is held.
func (s *conn) newOut(topic string, rec []byte, tries int) *outPub {
	var o *outPub
	if n := len(s.freeOut); n > 0 {
		o = s.freeOut[n-1]
		s.freeOut = s.freeOut[:n-1]
	} else {
		o = &outPub{}
	}
	o.topic, o.rec, o.tries = topic, append(o.rec[:0], rec...), tries
	return o
}

// putOut takes back an acknowledged publication's outPub; s.mu is held.
func (s *conn) putOut(o *outPub) {
	if cap(o.rec) > keepOut || len(s.freeOut) >= keptOut {
		return
	}
	*o = outPub{rec: o.rec[:0]}
	s.freeOut = append(s.freeOut, o)
}

// publishQoS takes a QoS 1 or 2 publication: it is sent now if the
// server's Receive Maximum leaves a place and nothing waits before it,
// else it waits in the connection's backlog (up to Options.QueueLen
// Records unless fromQueue) for the acknowledgements of earlier ones.
// It returns once the PUBLISH is queued for writing: an acknowledgement
// that does not come within Options.WriteTimeout ends the connection,
// and the publications without one go again on the next connection
// (retransmitted with DUP and their Packet Identifiers when the server
// kept the session [MQTT-4.4.0-1]), like those the backlog still holds.
func (s *conn) publishQoS(dest string, rec []byte, tries int, fromQueue, retain bool) error {
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		return s.l.lost()
	}
	if len(s.backlog) > 0 || len(s.pubs) >= s.recvMax {
		if !fromQueue && len(s.backlog) >= s.l.o.QueueLen {
			n := len(s.backlog)
			s.mu.Unlock()
			return fmt.Errorf("mqtt: %d records wait for the server's Receive Maximum: %w", n, mtp.ErrQueueFull)
		}
		o := s.newOut(dest, rec, tries)
		o.retain = retain
		s.backlog = append(s.backlog, o)
		s.mu.Unlock()
		return nil
	}
	o := s.newOut(dest, rec, tries)
	o.retain = retain
	s.sendLocked(o, false)
	s.mu.Unlock()
	s.w.kick()
	return nil
}

// sendLocked gives o a Packet Identifier unless dup (a retransmission
// keeps its own), registers it and appends its PUBLISH (or, for a QoS 2
// publication whose PUBREC came, its PUBREL) to the write buffer; s.mu
// is held. The caller then calls s.w.kick. A failed connection leaves o
// registered: it is taken over with the others when the connection ends.
func (s *conn) sendLocked(o *outPub, dup bool) {
	if !dup {
		o.id = s.freeID()
		s.seq++
		o.seq = s.seq
	}
	o.sent = time.Now()
	s.pubs[o.id] = o
	if !s.ackArmed {
		s.ackArmed = true
		s.ackTimer.Reset(s.timeout)
	}
	b, err := s.w.begin()
	if err != nil {
		return
	}
	if o.rel {
		s.w.queue(appendAck(b, typePubrel, o.id))
		return
	}
	p := publishOut{topic: o.topic, qos: s.qos, id: o.id, payload: o.rec, dup: dup, retain: o.retain && !s.noRetain}
	if o.msg != nil {
		// A retransmission on a server with a lower Maximum QoS goes at it.
		p.qos, p.retain, p.contentType = max(min(o.msg.qos, s.maxQoS), 1), o.msg.retain && !s.noRetain, o.msg.contentType
		s.w.queue(appendPublish(b, s.v5, &p))
		return
	}
	if s.v5 {
		p.responseTopic, p.contentType = s.l.plan.replyTo, ContentType
	} else {
		p.topic = o.topic + s.replyTail // ReplyTopic
	}
	s.w.queue(appendPublish(b, s.v5, &p))
}

// freeID returns a Packet Identifier used by no publication or
// subscription in flight; s.mu is held.
func (s *conn) freeID() uint16 {
	for range 65536 {
		s.nextID++
		if s.nextID == 0 {
			s.nextID = 1
		}
		_, sub := s.inflight[s.nextID]
		_, pub := s.pubs[s.nextID]
		if !sub && !pub {
			return s.nextID
		}
	}
	panic("mqtt: no free packet identifier") // at most 65535 in flight
}

// pubAcked handles the PUBACK or PUBCOMP (done), or PUBREC, of a
// publication; false when a is not for one. A reason code from 0x80 is
// logged: the Record was refused and is not sent again. The place it
// frees goes to the backlog.
func (s *conn) pubAcked(a ackIn, done bool) bool {
	s.mu.Lock()
	o, ok := s.pubs[a.id]
	if !ok {
		s.mu.Unlock()
		return false
	}
	if !done && a.reason < 0x80 {
		o.rel = true
		s.mu.Unlock()
		return true
	}
	if a.reason >= 0x80 {
		s.l.log.Warn("mqtt: publication refused by the server", "topic", o.topic, "size", len(o.rec), "reason_code", a.reason)
	}
	delete(s.pubs, a.id)
	s.putOut(o)
	sent := false
	for len(s.backlog) > 0 && len(s.pubs) < s.recvMax {
		o := s.backlog[0]
		s.backlog[0] = nil
		s.backlog = s.backlog[1:]
		s.sendLocked(o, false)
		sent = true
	}
	if len(s.backlog) == 0 {
		s.backlog = nil
	}
	s.mu.Unlock()
	if sent {
		s.w.kick()
	}
	return true
}

// checkAcks runs when the oldest publication in flight may have waited
// Options.WriteTimeout for its acknowledgement: it then ends the
// connection, else it sets the timer for the oldest one.
func (s *conn) checkAcks() {
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		return
	}
	var oldest time.Time
	for _, o := range s.pubs {
		if oldest.IsZero() || o.sent.Before(oldest) {
			oldest = o.sent
		}
	}
	if oldest.IsZero() {
		s.ackArmed = false
		s.mu.Unlock()
		return
	}
	left := s.timeout - time.Since(oldest)
	if left > 0 {
		s.ackTimer.Reset(left)
		s.mu.Unlock()
		return
	}
	n := len(s.pubs)
	s.mu.Unlock()
	s.l.log.Warn("mqtt: no acknowledgement from the server; reconnecting", "timeout", s.timeout, "in_flight", n)
	_ = s.l.broken(fmt.Errorf("no acknowledgement within %v", s.timeout))
}

// takeOver ends the connection's publications, once its reader has
// stopped, and returns those not acknowledged in the order they were
// first sent, then the backlog. Publishing on s fails from now on with
// an error wrapping errLink.
func (s *conn) takeOver() []*outPub {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ended = true
	s.ackTimer.Stop()
	out := make([]*outPub, 0, len(s.pubs)+len(s.backlog))
	for _, o := range s.pubs {
		out = append(out, o)
	}
	slices.SortFunc(out, func(a, b *outPub) int {
		if a.seq < b.seq {
			return -1
		}
		if a.seq > b.seq {
			return 1
		}
		return 0
	})
	for _, o := range s.backlog {
		o.id, o.rel = 0, false
		out = append(out, o)
	}
	s.pubs, s.backlog = nil, nil
	return out
}

// resend sends again, on a connection whose server kept the session, the
// publications of the previous connection that were not acknowledged:
// with DUP and their Packet Identifiers, in their order [MQTT-4.4.0-1]
// (a QoS 2 one whose PUBREC came as PUBREL). Those that never left
// (id 0) go after them as new ones.
func (s *conn) resend(prev []*outPub) {
	s.mu.Lock()
	for _, o := range prev {
		if o.id != 0 {
			s.seq++
			o.seq = s.seq
			s.sendLocked(o, true)
		} else if len(s.backlog) > 0 || len(s.pubs) >= s.recvMax {
			s.backlog = append(s.backlog, o)
		} else {
			s.sendLocked(o, false)
		}
	}
	s.mu.Unlock()
	s.w.kick()
}
