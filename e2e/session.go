package e2e

import (
	"bytes"
	"crypto"
	"crypto/hmac"
	"crypto/tls"
	"errors"
	"fmt"
	"math"
	"slices"
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
	// Security is the payload_security of the session: PLAINTEXT (the
	// zero value) or TLS12. A Record of the peer with another value fails
	// the session [R-E2E.18], [R-E2E.19].
	Security record.PayloadSecurity
	// TLS holds, for TLS12, this side's certificate (Certificates[0], an
	// ECDSA P-256 key) and the trust anchors for the peer's (RootCAs, or
	// ClientCAs when RootCAs is nil); SessionTLS makes the session's
	// configuration from it. nil: TLS12 is refused with
	// ErrUnsupportedSecurity.
	TLS *tls.Config
	// Now gives the time certificates are checked at; nil: time.Now.
	Now func() time.Time
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

	// TLS12 payload security (tls.go).
	initiator    bool      // this side started the session: the TLS client
	tl           *tlsLayer // nil until the first TLS bytes
	pending      [][]byte  // Msgs waiting for the handshake
	pendingBytes int
	outTLS       []byte // TLS bytes to send, collected while receiving
}

// NewSession returns a session with the given id that this side starts:
// the first Record each side sends has sequence_id 1. With TLS12, this
// side is the TLS client.
func NewSession(local, remote string, id uint64, cfg Config) *Session {
	s := newSession(local, remote, id, cfg)
	s.initiator = true
	return s
}

// AcceptSession returns a session with the given id that the peer
// started. With TLS12, this side is the TLS server.
func AcceptSession(local, remote string, id uint64, cfg Config) *Session {
	return newSession(local, remote, id, cfg)
}

func newSession(local, remote string, id uint64, cfg Config) *Session {
	return &Session{cfg: cfg, local: local, remote: remote, id: id, nextSeq: 1, expect: 1, security: cfg.Security,
		out: map[uint64]*record.Record{}, retransmits: map[uint64]int{}, in: map[uint64]*record.Record{}}
}

// update takes the settings of cfg that may change during a session
// (E2ESession parameters set meanwhile): all but the payload security
// and its TLS settings.
func (s *Session) update(cfg Config) {
	cfg.Security, cfg.TLS, cfg.Now = s.cfg.Security, s.cfg.TLS, s.cfg.Now
	s.cfg = cfg
}

// Close releases the session's TLS layer, if any. The session must not
// be used afterwards.
func (s *Session) Close() {
	if s.tl != nil {
		s.tl.close()
	}
}

// Security returns the session's payload_security.
func (s *Session) Security() record.PayloadSecurity { return s.security }

// Established reports whether the session can carry Msgs now: always
// for PLAINTEXT, once the TLS handshake completed for TLS12.
func (s *Session) Established() bool {
	if s.security != record.PayloadSecurityTLS12 {
		return true
	}
	if s.tl == nil {
		return false
	}
	hs, _, err := s.tl.state()
	return hs && err == nil
}

// Renegotiations returns how many TLS renegotiation requests the peer
// sent, each dropped unprocessed [R-E2E.42].
func (s *Session) Renegotiations() int {
	if s.tl == nil {
		return 0
	}
	return s.tl.renegotiations
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
	return &record.Record{Version: record.Version, ToID: s.remote, FromID: s.local, PayloadSecurity: s.security,
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
	if s.security == record.PayloadSecurityTLS12 {
		out, send, err := s.tlsSend(msg)
		if err != nil || !send {
			return nil, err
		}
		msg = out
	}
	return s.records(msg, limit)
}

// records cuts payload into the session's next Records.
func (s *Session) records(msg []byte, limit int) ([]*record.Record, error) {
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
		s.seal(r)
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
	overhead := h.Size() + s.sealSize()
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
	// Send are new Records to transmit: with TLS12, the TLS handshake's
	// flights and alerts, and the Msgs that waited for the handshake.
	Send []*record.Record
}

// Receive processes a session_context Record of this session from the peer
// [R-E2E.20]. A duplicate or old Record is ignored [R-E2E.25]; one ahead
// of the expected sequence_id waits in the incoming buffer; the expected
// one and those buffered after it are processed in order. An error means
// the session must restart [R-E2E.21]; what was released before the error
// is returned with it.
func (s *Session) Receive(r *record.Record, now time.Time) (Received, error) {
	got, err := s.receive(r, now)
	if s.tl == nil {
		return got, err
	}
	if err == nil && s.Established() {
		for _, m := range s.pending {
			out, werr := s.tl.write(m)
			s.outTLS = append(s.outTLS, out...)
			if werr != nil {
				err = werr
				break
			}
		}
		s.pending, s.pendingBytes = nil, 0
	}
	if len(s.outTLS) > 0 {
		recs, serr := s.records(s.outTLS, 0)
		s.outTLS = nil
		if serr != nil && err == nil {
			err = serr
		}
		got.Send = append(got.Send, recs...)
	}
	return got, err
}

func (s *Session) receive(r *record.Record, now time.Time) (Received, error) {
	var got Received
	if r.PayloadSecurity != s.security {
		if !s.securitySet {
			return got, fmt.Errorf("%w: %d", ErrUnsupportedSecurity, r.PayloadSecurity)
		}
		return got, ErrSecurityChanged // [R-E2E.19]
	}
	if s.security == record.PayloadSecurityTLS12 {
		if err := s.ensureTLS(); err != nil {
			return got, err
		}
	}
	s.securitySet = true
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
	// Integrity of the non-payload fields, when protected [R-E2E.30]:
	// a Record that fails is ignored and the session restarts
	// [R-E2E.23]. A MAC that comes with the peer's last handshake flight
	// is checked once the flight has been processed.
	later, err := s.verify(r)
	if err != nil {
		return err
	}
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
		s.seal(&again)
		got.Resend = append(got.Resend, &again)
	}
	n := len(got.Msgs)
	if err := s.reassemble(sc, got); err != nil {
		return err
	}
	if s.security == record.PayloadSecurityTLS12 {
		// What reassembly completed are TLS records: the Msgs are what
		// they decrypt to.
		units := slices.Clone(got.Msgs[n:])
		got.Msgs = got.Msgs[:n]
		for _, u := range units {
			plain, out, err := s.tl.deliver(u)
			s.outTLS = append(s.outTLS, out...)
			if len(plain) > 0 {
				got.Msgs = append(got.Msgs, plain)
			}
			if err != nil {
				return err
			}
		}
	}
	if later {
		if _, keys, _ := s.tl.state(); keys == nil || !hmac.Equal(MAC(s.tl.peerKey(keys), r), r.MACSignature) {
			return fmt.Errorf("%w: bad MAC", ErrIntegrity)
		}
	}
	return nil
}

// verify checks r's mac_signature, when it has one: a signature against
// its sender_cert, or a MAC with the TLS session's keys. It reports
// whether a MAC must wait for the handshake to complete.
func (s *Session) verify(r *record.Record) (later bool, err error) {
	if len(r.MACSignature) == 0 {
		return false, nil
	}
	if !isMAC(r) || s.security != record.PayloadSecurityTLS12 {
		return false, VerifySignature(r)
	}
	if _, keys, _ := s.tl.state(); keys != nil {
		if !hmac.Equal(MAC(s.tl.peerKey(keys), r), r.MACSignature) {
			return false, fmt.Errorf("%w: bad MAC", ErrIntegrity)
		}
		return false, nil
	}
	return true, nil
}

// ensureTLS starts the session's TLS layer: the client when this side
// started the session, else the server.
func (s *Session) ensureTLS() error {
	if s.tl != nil {
		return nil
	}
	if s.cfg.TLS == nil {
		return fmt.Errorf("%w: TLS12 without a certificate", ErrUnsupportedSecurity)
	}
	s.tl = newTLSLayer(SessionTLS(s.cfg.TLS, s.remote, s.cfg.Now), s.initiator, s.cfg.maxMessage())
	return nil
}

// tlsSend returns the TLS bytes that carry msg, and whether to send a
// Record: the client's first call starts the handshake (ClientHello);
// until the handshake completes Msgs wait; an empty msg gives an empty
// Record.
func (s *Session) tlsSend(msg []byte) (out []byte, send bool, err error) {
	fresh := s.tl == nil
	if err := s.ensureTLS(); err != nil {
		return nil, false, err
	}
	if fresh && s.initiator {
		hello, err := s.tl.start()
		if err != nil {
			return nil, false, err
		}
		return hello, true, s.queue(msg)
	}
	if _, _, terr := s.tl.state(); terr != nil {
		return nil, false, fmt.Errorf("%w: %v", ErrTLS, terr)
	}
	if len(msg) == 0 {
		return nil, true, nil
	}
	if !s.Established() {
		return nil, false, s.queue(msg)
	}
	out, err = s.tl.write(msg)
	return out, err == nil, err
}

// queue keeps msg until the handshake completes.
func (s *Session) queue(msg []byte) error {
	if len(msg) == 0 {
		return nil
	}
	if len(s.pending) >= s.cfg.maxBuffered() || s.pendingBytes+len(msg) > s.cfg.maxMessage() {
		return ErrBufferFull
	}
	s.pending = append(s.pending, bytes.Clone(msg))
	s.pendingBytes += len(msg)
	return nil
}

// seal protects an outgoing TLS12 Record's non-payload fields
// [R-E2E.29]: with a MAC once the handshake completed, before that with
// a signature by this side's certificate.
func (s *Session) seal(r *record.Record) {
	if s.security != record.PayloadSecurityTLS12 || s.tl == nil {
		return
	}
	if _, keys, _ := s.tl.state(); keys != nil {
		r.SenderCert = nil
		r.MACSignature = MAC(s.tl.ownKey(keys), r)
		return
	}
	if c := s.cert(); c != nil {
		if key, ok := c.PrivateKey.(crypto.Signer); ok {
			Sign(r, key, c.Certificate[0])
		}
	}
}

// sealSize is the most seal adds to a Record.
func (s *Session) sealSize() int {
	if s.security != record.PayloadSecurityTLS12 {
		return 0
	}
	n := 2 + 72 // mac_signature: an ECDSA P-256 signature at most
	if c := s.cert(); c != nil {
		n += 4 + len(c.Certificate[0])
	}
	return n
}

func (s *Session) cert() *tls.Certificate {
	if s.cfg.TLS == nil || len(s.cfg.TLS.Certificates) == 0 || len(s.cfg.TLS.Certificates[0].Certificate) == 0 {
		return nil
	}
	return &s.cfg.TLS.Certificates[0]
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
