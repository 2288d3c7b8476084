package controller

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/uspkit/uspkit/e2e"
	"github.com/uspkit/uspkit/record"
	"github.com/uspkit/uspkit/store"
)

// ErrSessionSpec: settings SaveSessions refuses.
var ErrSessionSpec = errors.New("controller: invalid E2E session settings")

// ParsePayloadSecurity parses "PLAINTEXT" (or "") and "TLS12".
func ParsePayloadSecurity(s string) (record.PayloadSecurity, error) {
	switch s {
	case "", "PLAINTEXT":
		return record.PayloadSecurityPlaintext, nil
	case "TLS12":
		return record.PayloadSecurityTLS12, nil
	}
	return 0, fmt.Errorf("%w: payload security %q: want PLAINTEXT or TLS12", ErrSessionSpec, s)
}

// PayloadSecurityName is the name ParsePayloadSecurity takes.
func PayloadSecurityName(p record.PayloadSecurity) string {
	if p == record.PayloadSecurityTLS12 {
		return "TLS12"
	}
	return "PLAINTEXT"
}

// sessionItem is how an Agent's own session settings are stored (kind
// "e2e", the Agent's Endpoint ID as id).
type sessionItem struct {
	Policy          string        `json:"policy"`
	PayloadSecurity string        `json:"payload_security"`
	MaxRecordSize   int           `json:"max_record_size,omitempty"`
	Expiration      time.Duration `json:"expiration,omitempty"`
	MaxRetransmit   int           `json:"max_retransmit,omitempty"`
}

// SaveSessions is SetSessions, kept in the Store so that it survives a
// restart. TLS12 needs Options.E2ETLS; a MaxRecordSize is 0 or at least
// 512.
func (c *Controller) SaveSessions(ctx context.Context, agentID string, s SessionSettings) error {
	if s.Config.Security == record.PayloadSecurityTLS12 && c.opt.E2ETLS == nil {
		return fmt.Errorf("%w: TLS12 without the controller's E2E certificate", ErrSessionSpec)
	}
	if s.Config.Security > record.PayloadSecurityTLS12 || s.Policy > SessionsRequire {
		return fmt.Errorf("%w: policy %d, payload security %d", ErrSessionSpec, s.Policy, s.Config.Security)
	}
	if n := s.Config.MaxRecordSize; n != 0 && n < 512 {
		return fmt.Errorf("%w: max record size %d: 0 or at least 512", ErrSessionSpec, n)
	}
	data, _ := json.Marshal(sessionItem{Policy: s.Policy.String(), PayloadSecurity: PayloadSecurityName(s.Config.Security),
		MaxRecordSize: s.Config.MaxRecordSize, Expiration: s.Config.Expiration, MaxRetransmit: s.Config.MaxRetransmit})
	if err := c.opt.Store.Apply(ctx, &store.Batch{PutItems: []store.Item{{Kind: "e2e", ID: agentID, Data: data}}}); err != nil {
		return fmt.Errorf("controller: storing E2E settings: %w", err)
	}
	c.SetSessions(agentID, s)
	return nil
}

// loadSessions restores an Agent's stored session settings.
func (c *Controller) loadSessions(it store.Item) {
	var si sessionItem
	if err := json.Unmarshal(it.Data, &si); err != nil {
		c.log.Warn("stored E2E settings unreadable", "agent", it.ID, "err", err)
		return
	}
	policy, err := ParseSessionPolicy(si.Policy)
	sec, serr := ParsePayloadSecurity(si.PayloadSecurity)
	if err != nil || serr != nil {
		c.log.Warn("stored E2E settings invalid", "agent", it.ID, "err", errors.Join(err, serr))
		return
	}
	c.sess.perAgent[it.ID] = SessionSettings{Policy: policy, Config: e2e.Config{Security: sec, MaxRecordSize: si.MaxRecordSize,
		Expiration: si.Expiration, MaxRetransmit: si.MaxRetransmit}}
}

// establishFailure reports whether err means a session could not be
// established (TLS, or a session started with a payload security this
// side does not use).
func establishFailure(err error) bool {
	return errors.Is(err, e2e.ErrTLS) || errors.Is(err, e2e.ErrUnsupportedSecurity)
}

// NewSessionSettings builds the settings for one Agent from their text
// forms: policy off, prefer or require; payload security PLAINTEXT or
// TLS12; the largest Record (0: the MTP's), the idle expiration (0:
// never) and the retransmissions allowed per Record (0: the default).
func NewSessionSettings(policy, security string, maxRecord int, expiration time.Duration, maxRetransmit int) (SessionSettings, error) {
	p, err := ParseSessionPolicy(policy)
	if err != nil {
		return SessionSettings{}, fmt.Errorf("%w: %v", ErrSessionSpec, err)
	}
	sec, err := ParsePayloadSecurity(security)
	if err != nil {
		return SessionSettings{}, err
	}
	if expiration < 0 || maxRetransmit < 0 {
		return SessionSettings{}, fmt.Errorf("%w: negative expiration or retransmissions", ErrSessionSpec)
	}
	return SessionSettings{Policy: p, Config: e2e.Config{Security: sec, MaxRecordSize: maxRecord, Expiration: expiration, MaxRetransmit: maxRetransmit}}, nil
}

// SessionState returns the payload security of the session with agentID
// and whether it carries Msgs now (for TLS12: the handshake completed);
// false when there is no session.
func (c *Controller) SessionState(agentID string) (record.PayloadSecurity, bool) {
	s := c.sess.table.Session(agentID)
	if s == nil {
		return 0, false
	}
	return s.Security(), s.Established()
}
