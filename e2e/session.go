package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/uspkit/uspkit/record"
)

// Config bounds and tunes a Session. The zero value takes every default.
type Config struct {
	// MaxRecordSize is the largest encoded Record to send, in bytes
	// (E2ESession.MaxUSPRecordSize); a larger Msg is segmented. 0: no
	// limit, every Msg in one Record.
	MaxRecordSize int
	// MaxRetransmit is how often one Record may be sent again on request
	// (E2ESession.MaxRetransmitTries); more requests fail the session.
	// 0: DefaultMaxRetransmit; negative: none allowed.
	MaxRetransmit int
	// MaxBuffered bounds the Records kept out of order, waiting for a
	// missing one. 0: DefaultMaxBuffered.
	MaxBuffered int
	// MaxMessage bounds a reassembled Msg and the bytes of buffered
	// Records, each. 0: DefaultMaxMessage.
	MaxMessage int
	// Expiration ends a session idle for that long
	// (E2ESession.SessionExpiration); 0: never.
	Expiration time.Duration
}

// Defaults of Config.
const (
	DefaultMaxRetransmit = 3
	DefaultMaxBuffered   = 256
	DefaultMaxMessage    = 16 << 20
)

// exhaustionMargin is how close to the largest sequence_id a session is
// replaced by a new one [R-E2E.8, R-E2E.9].
const exhaustionMargin = 10000

func (c Config) maxRetransmit() int {
	switch {
	case c.MaxRetransmit < 0:
		return 0
	case c.MaxRetransmit == 0:
		return DefaultMaxRetransmit
	}
	return c.MaxRetransmit
}

func (c Config) maxBuffered() int {
	if c.MaxBuffered <= 0 {
		return DefaultMaxBuffered
	}
	return c.MaxBuffered
}

func (c Config) maxMessage() int {
	if c.MaxMessage <= 0 {
		return DefaultMaxMessage
	}
	return c.MaxMessage
}

// Errors a Session returns. Each means the session must restart
// [R-E2E.21]; Table does so.
var (
	// ErrUnsupportedSecurity: the Record asks for a payload_security this
	// implementation does not provide (TLS12).
	ErrUnsupportedSecurity = errors.New("e2e: payload security not supported")
	// ErrSecurityChanged: payload_security differs from the session's
	// [R-E2E.19].
	ErrSecurityChanged = errors.New("e2e: payload_security changed within the session")
	// ErrBufferFull: too many or too large Records wait for a missing one.
	ErrBufferFull = errors.New("e2e: incoming buffer full")
	// ErrTooLarge: a reassembled Msg would exceed Config.MaxMessage.
	ErrTooLarge = errors.New("e2e: segmented message too large")
	// ErrBadSegment: the SAR states do not form a valid sequence.
	ErrBadSegment = errors.New("e2e: invalid segmentation state")
	// ErrRetransmit: a Record asked for cannot be sent again (no longer
	// buffered, or asked for too often).
	ErrRetransmit = errors.New("e2e: cannot retransmit")
	// ErrRecordSize: MaxRecordSize leaves no room for a payload.
	ErrRecordSize = errors.New("e2e: maximum record size smaller than a record's header")
)

// Session is one E2E Session Context with one remote Endpoint, as seen by
// the local one. It is not safe for concurrent use; Table serialises.
type Session struct {
	cfg           Config
	local, remote string
	id            uint64

	nextSeq uint64 // sequence_id of the next Record sent [R-E2E.14, R-E2E.15]
	expect  uint64 // sequence_id expected next from the peer

	out         map[uint64]*record.Record // sent, not yet acknowledged [R-E2E.16]
	retransmits map[uint64]int

	in      map[uint64]*record.Record // received ahead of expect
	inBytes int

	security    record.PayloadSecurity
	securitySet bool

	segs      [][]byte // payload segments of a Msg being reassembled
	segBytes  int
	lastTouch time.Time
}

// NewSession returns a session with the given id, as started by either
// side: the first Record each side sends has sequence_id 1.
func NewSession(local, remote string, id uint64, cfg Config) *Session {
	return &Session{cfg: cfg, local: local, remote: remote, id: id, nextSeq: 1, expect: 1,
		out: map[uint64]*record.Record{}, retransmits: map[uint64]int{}, in: map[uint64]*record.Record{}}
}

// ID returns the session_id.
func (s *Session) ID() uint64 { return s.id }

// Expected returns the sequence_id expected next from the peer.
func (s *Session) Expected() uint64 { return s.expect }

// Outstanding returns how many sent Records are kept for retransmission.
func (s *Session) Outstanding() int { return len(s.out) }

// Exhausted reports whether the sequence identifiers sent or received are
// within 10,000 of their largest value, when a new session must start
// [R-E2E.8, R-E2E.9].
func (s *Session) Exhausted() bool {
	return s.nextSeq > math.MaxUint64-exhaustionMargin || s.expect > math.MaxUint64-exhaustionMargin
}

// Expired reports whether the session has been idle for longer than
// Config.Expiration at now.
func (s *Session) Expired(now time.Time) bool {
	return s.cfg.Expiration > 0 && !s.lastTouch.IsZero() && now.Sub(s.lastTouch) > s.cfg.Expiration
}

func (s *Session) touch(now time.Time) { s.lastTouch = now }

// header returns a session_context Record of this session without payload.
func (s *Session) header() *record.Record {
	return &record.Record{Version: record.Version, ToID: s.remote, FromID: s.local, PayloadSecurity: record.PayloadSecurityPlaintext,
		Type: record.TypeSessionContext, Session: record.SessionContext{SessionID: s.id, ExpectedID: s.expect}}
}

// Send returns the Records that carry msg (a serialized Msg), segmented so
// that each encodes to at most Config.MaxRecordSize bytes, and keeps them
// for retransmission until the peer's expected_id passes them. An empty
// msg gives one Record without payload (to start or restart a session).
func (s *Session) Send(msg []byte, now time.Time) ([]*record.Record, error) {
	return s.sendWithin(msg, now, 0)
}

func (s *Session) sendWithin(msg []byte, now time.Time, limit int) ([]*record.Record, error) {
	s.touch(now)
	max := s.cfg.MaxRecordSize
	if limit > 0 && (max <= 0 || limit < max) {
		max = limit
	}
	chunks, err := s.split(msg, max)
	if err != nil {
		return nil, err
	}
	recs := make([]*record.Record, len(chunks))
	for i, c := range chunks {
		r := s.header()
		r.Session.SequenceID = s.nextSeq
		s.nextSeq++
		if len(chunks) > 1 {
			st := record.SARStateInProcess
			switch i {
			case 0:
				st = record.SARStateBegin
			case len(chunks) - 1:
				st = record.SARStateComplete
			}
			// A PLAINTEXT payload segmented across Records: both states
			// move together.
			r.Session.PayloadSAR, r.Session.PayloadRecSAR = st, st
		}
		if c != nil {
			r.Session.Payload = [][]byte{c}
		}
		s.out[r.Session.SequenceID] = r
		recs[i] = r
	}
	return recs, nil
}

// split cuts msg into payloads that fit the record size, each with the
// largest header any of them can have.
func (s *Session) split(msg []byte, max int) ([][]byte, error) {
	if len(msg) == 0 {
		return [][]byte{nil}, nil
	}
	if max <= 0 {
		return [][]byte{msg}, nil
	}
	h := s.header()
	h.Session.SequenceID = math.MaxUint64 // the widest varint
	h.Session.ExpectedID = math.MaxUint64
	h.Session.PayloadSAR, h.Session.PayloadRecSAR = record.SARStateComplete, record.SARStateComplete
	overhead := h.Size()
	room := max - overhead
	// One payload field: tag, length varint, bytes.
	room -= 1 + varintLen(uint64(room))
	if room <= 0 {
		return nil, fmt.Errorf("%w (%d bytes, header %d)", ErrRecordSize, max, overhead)
	}
	var chunks [][]byte
	for len(msg) > 0 {
		n := min(room, len(msg))
		chunks = append(chunks, msg[:n:n])
		msg = msg[n:]
	}
	return chunks, nil
}

func varintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

// Received is what a Record from the peer released.
type Received struct {
	// Msgs are serialized Msgs now complete, in sequence order.
	Msgs [][]byte
	// Resend are Records asked for again by the peer's retransmit_id.
	Resend []*record.Record
}

// Receive processes a session_context Record of this session from the peer
// [R-E2E.20]. A duplicate or old Record is ignored [R-E2E.25]; one ahead
// of the expected sequence_id waits in the incoming buffer; the expected
// one and those buffered after it are processed in order. An error means
// the session must restart [R-E2E.21]; what was released before the error
// is returned with it.
func (s *Session) Receive(r *record.Record, now time.Time) (Received, error) {
	var got Received
	if r.PayloadSecurity != record.PayloadSecurityPlaintext {
		return got, fmt.Errorf("%w: %d", ErrUnsupportedSecurity, r.PayloadSecurity)
	}
	if s.securitySet && r.PayloadSecurity != s.security {
		return got, ErrSecurityChanged // [R-E2E.19]
	}
	s.security, s.securitySet = r.PayloadSecurity, true
	s.touch(now)
	seq := r.Session.SequenceID
	switch {
	case seq < s.expect:
		return got, nil // [R-E2E.20] rule 2, [R-E2E.25]
	case seq > s.expect:
		if _, dup := s.in[seq]; dup {
			return got, nil
		}
		size := recordPayloadSize(r)
		if len(s.in) >= s.cfg.maxBuffered() || s.inBytes+size > s.cfg.maxMessage() {
			return got, ErrBufferFull
		}
		// The Record's payloads may point into a buffer the MTP reuses
		// for the next Record: what waits here is copied.
		s.in[seq] = detach(r)
		s.inBytes += size
		return got, nil
	}
	for {
		if err := s.process(r, &got); err != nil {
			return got, err
		}
		s.expect++
		next, ok := s.in[s.expect]
		if !ok {
			return got, nil
		}
		delete(s.in, s.expect)
		s.inBytes -= recordPayloadSize(next)
		r = next
	}
}

// detach returns a copy of r that shares no memory with it.
func detach(r *record.Record) *record.Record {
	c := *r
	c.MACSignature, c.SenderCert = bytes.Clone(r.MACSignature), bytes.Clone(r.SenderCert)
	c.Session.Payload = make([][]byte, len(r.Session.Payload))
	for i, p := range r.Session.Payload {
		c.Session.Payload[i] = bytes.Clone(p)
	}
	return &c
}

func recordPayloadSize(r *record.Record) int {
	n := 64 // the Record's own cost, so that empty Records count too
	for _, p := range r.Session.Payload {
		n += len(p)
	}
	return n
}

// process handles the Record with the expected sequence_id.
func (s *Session) process(r *record.Record, got *Received) error {
	sc := &r.Session
	// The peer has everything before its expected_id: drop those from the
	// outgoing buffer [R-E2E.16].
	for seq := range s.out {
		if seq < sc.ExpectedID {
			delete(s.out, seq)
			delete(s.retransmits, seq)
		}
	}
	if id := sc.RetransmitID; id != 0 {
		old, ok := s.out[id]
		if !ok {
			return fmt.Errorf("%w: record %d is not buffered", ErrRetransmit, id)
		}
		if s.retransmits[id] >= s.cfg.maxRetransmit() {
			return fmt.Errorf("%w: record %d sent again %d times", ErrRetransmit, id, s.retransmits[id])
		}
		s.retransmits[id]++
		// The Record goes again as it was, with the expected_id of now.
		again := *old
		again.Session.ExpectedID = s.expect + 1
		got.Resend = append(got.Resend, &again)
	}
	return s.reassemble(sc, got)
}

// reassemble adds the Record's payload to the Msg being built, per its SAR
// states.
func (s *Session) reassemble(sc *record.SessionContext, got *Received) error {
	if len(sc.Payload) == 0 {
		if sc.PayloadSAR != record.SARStateNone {
			return fmt.Errorf("%w: payload_sar_state %d without payload", ErrBadSegment, sc.PayloadSAR)
		}
		return nil
	}
	if sc.PayloadSAR > record.SARStateComplete || sc.PayloadRecSAR > record.SARStateComplete {
		return fmt.Errorf("%w: state %d/%d", ErrBadSegment, sc.PayloadSAR, sc.PayloadRecSAR)
	}
	switch sc.PayloadSAR {
	case record.SARStateNone:
		if len(s.segs) > 0 {
			return fmt.Errorf("%w: unsegmented payload inside a segmented one", ErrBadSegment)
		}
		got.Msgs = append(got.Msgs, sc.Payload...)
		return nil
	case record.SARStateBegin:
		if len(s.segs) > 0 {
			return fmt.Errorf("%w: BEGIN before the previous message completed", ErrBadSegment)
		}
	default:
		if len(s.segs) == 0 {
			return fmt.Errorf("%w: state %d without BEGIN", ErrBadSegment, sc.PayloadSAR)
		}
	}
	for _, p := range sc.Payload {
		if s.segBytes+len(p) > s.cfg.maxMessage() {
			s.segs, s.segBytes = nil, 0
			return ErrTooLarge
		}
		s.segs = append(s.segs, bytes.Clone(p)) // kept past this Record: copied, see detach
		s.segBytes += len(p)
	}
	if sc.PayloadSAR != record.SARStateComplete {
		return nil
	}
	if sc.PayloadRecSAR != record.SARStateComplete && sc.PayloadRecSAR != record.SARStateNone {
		return fmt.Errorf("%w: message complete with its payload record open", ErrBadSegment)
	}
	msg := make([]byte, 0, s.segBytes)
	for _, p := range s.segs {
		msg = append(msg, p...)
	}
	s.segs, s.segBytes = nil, 0
	got.Msgs = append(got.Msgs, msg)
	return nil
}

// Missing returns the sequence_id of the Record the session waits for when
// later ones are buffered (a retransmit_id to ask the peer for), or 0.
func (s *Session) Missing() uint64 {
	if len(s.in) == 0 {
		return 0
	}
	return s.expect
}
