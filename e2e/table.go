package e2e

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/uspkit/uspkit/record"
)

// Mode says whether Records with a remote Endpoint use a Session Context.
type Mode uint8

// Modes, as E2ESession.SessionMode names them.
const (
	// Forbid: no session; a Record starting one is refused (7106).
	Forbid Mode = iota
	// Allow: a session when the peer starts one; this side sends
	// no_session_context Records otherwise.
	Allow
	// Require: this side starts a session for everything it sends.
	Require
)

// ErrNotAllowed is returned by Table.Receive for a session_context Record
// from a remote Endpoint whose Mode is Forbid: reply with a Disconnect
// Record, code 7106 [R-E2E.6a].
var ErrNotAllowed = errors.New("e2e: session context not allowed with this endpoint")

// Policy tells a Table how to treat one remote Endpoint.
type Policy func(remote string) (Mode, Config)

// Table holds the sessions of one local Endpoint, at most one per remote
// Endpoint [R-E2E.5]. It is safe for concurrent use.
type Table struct {
	local  string
	policy Policy

	mu       sync.Mutex
	sessions map[string]*Session
}

// NewTable returns a Table for the local Endpoint ID.
func NewTable(local string, policy Policy) *Table {
	return &Table{local: local, policy: policy, sessions: map[string]*Session{}}
}

// Uses reports whether Records sent to remote now go in a session: one is
// established, or the Mode is Require.
func (t *Table) Uses(remote string) bool {
	mode, _ := t.policy(remote)
	if mode == Forbid {
		return false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return mode == Require || t.sessions[remote] != nil
}

// Session returns the session with remote, or nil.
func (t *Table) Session(remote string) *Session {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.sessions[remote]
}

// Send returns the Records carrying msg to remote within its session,
// starting a new one when there is none, it expired, or its identifiers
// are nearly exhausted [R-E2E.7, R-E2E.9].
func (t *Table) Send(remote string, msg []byte, now time.Time) ([]*record.Record, error) {
	return t.SendWithin(remote, msg, now, 0)
}

// SendWithin is Send for an MTP that carries Records of at most limit
// bytes (0: no limit): the Records are segmented to fit it when the
// session's own MaxRecordSize is unset or larger.
func (t *Table) SendWithin(remote string, msg []byte, now time.Time, limit int) ([]*record.Record, error) {
	mode, cfg := t.policy(remote)
	if mode == Forbid {
		return nil, ErrNotAllowed
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.sessions[remote]
	if s != nil {
		s.update(cfg)
	}
	if s == nil || s.Expired(now) || s.Exhausted() {
		if s != nil {
			s.Close()
		}
		s = NewSession(t.local, remote, newSessionID(), cfg)
		t.sessions[remote] = s
	}
	return s.sendWithin(msg, now, limit)
}

// Receive processes a session_context Record from remote. A Record with a
// session_id other than the current one starts a new session with that id
// [R-E2E.4, R-E2E.6]. When the session fails [R-E2E.21, R-E2E.23], it is
// replaced by a new one that this side starts: restart holds the Record
// to send to the peer for that (an empty one with sequence_id 1), and err
// says why. With TLS12 the restart carries the ClientHello, and got.Send
// the TLS Records to transmit (before restart, when both are set).
func (t *Table) Receive(r *record.Record, now time.Time) (got Received, restart *record.Record, err error) {
	remote := r.FromID
	mode, cfg := t.policy(remote)
	if mode == Forbid {
		return got, nil, ErrNotAllowed
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.sessions[remote]
	if s != nil {
		s.update(cfg)
	}
	if s == nil || s.id != r.Session.SessionID || s.Expired(now) {
		if s != nil {
			s.Close()
		}
		s = AcceptSession(t.local, remote, r.Session.SessionID, cfg)
		t.sessions[remote] = s
	}
	got, err = s.Receive(r, now)
	if err == nil && s.Exhausted() {
		err = errors.New("e2e: sequence identifiers nearly exhausted") // [R-E2E.8]
	}
	if err != nil {
		s.Close()
		ns := NewSession(t.local, remote, newSessionID(), cfg)
		t.sessions[remote] = ns
		recs, serr := ns.Send(nil, now)
		if serr != nil || len(recs) == 0 {
			return got, nil, fmt.Errorf("%w; restarting: %v", err, serr)
		}
		got.Send = append(got.Send, recs[1:]...)
		return got, recs[0], err
	}
	return got, nil, nil
}

// Outstanding returns the payloads of the unsegmented Records sent to
// remote that its expected_id has not passed yet, in sequence order: what
// to send again outside the session when the peer refuses sessions. In a
// TLS12 session, it is the Msgs that wait for the handshake.
func (t *Table) Outstanding(remote string) [][]byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.sessions[remote]
	if s == nil {
		return nil
	}
	if s.security == record.PayloadSecurityTLS12 {
		// The Records carry ciphertext: only the Msgs still waiting for
		// the handshake can go again.
		return slices.Clone(s.pending)
	}
	var seqs []uint64
	for seq, r := range s.out {
		if r.Session.PayloadSAR == record.SARStateNone && len(r.Session.Payload) == 1 {
			seqs = append(seqs, seq)
		}
	}
	slices.Sort(seqs)
	out := make([][]byte, len(seqs))
	for i, seq := range seqs {
		out[i] = s.out[seq].Session.Payload[0]
	}
	return out
}

// End forgets the session with remote (its Endpoint went away, or a
// Controller asked for E2ESession.Reset()).
func (t *Table) End(remote string) {
	t.mu.Lock()
	if s := t.sessions[remote]; s != nil {
		s.Close()
	}
	delete(t.sessions, remote)
	t.mu.Unlock()
}

// Expire forgets every session idle past its expiration at now and
// returns how many.
func (t *Table) Expire(now time.Time) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for k, s := range t.sessions {
		if s.Expired(now) {
			s.Close()
			delete(t.sessions, k)
			n++
		}
	}
	return n
}

// newSessionID returns a random session_id greater than 1 [R-E2E.3].
func newSessionID() uint64 {
	var b [8]byte
	for {
		rand.Read(b[:])
		if id := binary.BigEndian.Uint64(b[:]) >> 1; id > 1 {
			return id
		}
	}
}

// Close ends every session, releasing their TLS layers.
func (t *Table) Close() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for k, s := range t.sessions {
		s.Close()
		delete(t.sessions, k)
	}
}

// Restart replaces the session with remote by a new one that this side
// starts, and returns the Records that start it (with TLS12, the
// ClientHello): a session start the peer never answered is tried again
// [R-E2E.11].
func (t *Table) Restart(remote string, now time.Time) ([]*record.Record, error) {
	mode, cfg := t.policy(remote)
	if mode == Forbid {
		return nil, ErrNotAllowed
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if s := t.sessions[remote]; s != nil {
		s.Close()
	}
	s := NewSession(t.local, remote, newSessionID(), cfg)
	t.sessions[remote] = s
	return s.Send(nil, now)
}
