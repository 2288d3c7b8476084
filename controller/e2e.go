package controller

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/uspkit/uspkit/e2e"
	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/record"
)

// SessionPolicy says whether the Controller exchanges Records with an
// Agent in an E2E Session Context.
type SessionPolicy uint8

// Session policies.
const (
	// SessionsOff: no session; a session an Agent starts is refused with
	// a Disconnect Record, 7106 [R-E2E.6a].
	SessionsOff SessionPolicy = iota
	// SessionsPrefer: the Controller starts a session; when the Agent
	// refuses it (7106), it goes on without one and sends again, outside
	// the session, what the Agent did not acknowledge.
	SessionsPrefer
	// SessionsRequire: every Record in a session; an Agent that refuses
	// sessions gets nothing else.
	SessionsRequire
)

// ParseSessionPolicy parses "off" (or ""), "prefer" and "require".
func ParseSessionPolicy(s string) (SessionPolicy, error) {
	switch s {
	case "", "off":
		return SessionsOff, nil
	case "prefer":
		return SessionsPrefer, nil
	case "require":
		return SessionsRequire, nil
	}
	return 0, fmt.Errorf("controller: sessions %q: want off, prefer or require", s)
}

func (p SessionPolicy) String() string {
	return [...]string{"off", "prefer", "require"}[p]
}

// SessionSettings are how the Controller treats one Agent, or every Agent
// without settings of its own (Options.Sessions).
type SessionSettings struct {
	Policy SessionPolicy
	// Config bounds the session: MaxRecordSize (0: the MTP's largest
	// Record, when it has one), retransmissions, buffers, expiration.
	Config e2e.Config
}

// sessions holds the Controller's E2E state.
type sessions struct {
	table    *e2e.Table
	perAgent map[string]SessionSettings // under Controller.mu
	refused  map[string]bool            // Agents that answered a session with 7106
}

func (c *Controller) initSessions() {
	c.sess = sessions{perAgent: map[string]SessionSettings{}, refused: map[string]bool{}}
	c.sess.table = e2e.NewTable(c.opt.EndpointID, c.sessionPolicy)
}

// SetSessions sets how the Controller treats agentID: its own settings
// instead of Options.Sessions. A change of policy ends the current session.
func (c *Controller) SetSessions(agentID string, s SessionSettings) {
	c.mu.Lock()
	c.sess.perAgent[agentID] = s
	delete(c.sess.refused, agentID)
	c.mu.Unlock()
	c.sess.table.End(agentID)
}

// Sessions returns the settings that apply to agentID and whether a
// session with it is established now.
func (c *Controller) Sessions(agentID string) (SessionSettings, bool) {
	c.mu.Lock()
	s, ok := c.sess.perAgent[agentID]
	c.mu.Unlock()
	if !ok {
		s = c.opt.Sessions
	}
	return s, c.sess.table.Session(agentID) != nil
}

// sessionPolicy maps an Agent's settings onto the session table's modes.
func (c *Controller) sessionPolicy(agentID string) (e2e.Mode, e2e.Config) {
	c.mu.Lock()
	s, ok := c.sess.perAgent[agentID]
	refused := c.sess.refused[agentID]
	c.mu.Unlock()
	if !ok {
		s = c.opt.Sessions
	}
	if s.Config.Security == record.PayloadSecurityTLS12 {
		s.Config.TLS = c.opt.E2ETLS
	}
	switch s.Policy {
	case SessionsRequire:
		return e2e.Require, s.Config
	case SessionsPrefer:
		if refused {
			return e2e.Allow, s.Config
		}
		return e2e.Require, s.Config
	}
	return e2e.Forbid, s.Config
}

// records returns the Records that carry payload to agentID over an MTP
// whose largest Record is limit bytes (0: unknown): in its session when
// one is used, else one no_session_context Record.
func (c *Controller) records(agentID string, payload []byte, limit int) ([]*record.Record, error) {
	if !c.sess.table.Uses(agentID) {
		return []*record.Record{record.NewNoSession(agentID, c.opt.EndpointID, payload)}, nil
	}
	return c.sess.table.SendWithin(agentID, payload, time.Now(), limit)
}

// sessionRecord processes a session_context Record from an Agent: the
// Msgs it completes are handled like those of no_session_context
// Records, Records asked for again are resent over the route it came
// from, and a failed session is restarted [R-E2E.21].
func (c *Controller) sessionRecord(ctx context.Context, m *MTP, p mtp.Peer, rec *record.Record) {
	got, restart, err := c.sess.table.Receive(rec, time.Now())
	if errors.Is(err, e2e.ErrNotAllowed) {
		c.refuseSession(ctx, m, p, rec.FromID)
		return
	}
	send := func(r *record.Record) {
		if m.Transport == nil || p.Address == "" {
			c.sendRecords(ctx, rec.FromID, []*record.Record{r})
			return
		}
		if b, err := r.MarshalBinary(); err == nil {
			if err = c.sendDirect(ctx, m, p, rec.FromID, b); err != nil {
				c.warns.warn(ctx, c.log, "session record not sent", "agent", rec.FromID, "err", err)
			}
		}
	}
	for _, r := range got.Resend {
		send(r)
	}
	// TLS handshake flights and alerts, and Msgs that waited for the
	// handshake.
	for _, r := range got.Send {
		send(r)
	}
	switch {
	case err != nil && establishFailure(err):
		// Starting again at once would fail the same way; the next Msg
		// to the Agent, or the Agent's retry, starts a new session.
		c.warns.warn(ctx, c.log, "E2E session not established", "agent", rec.FromID, "err", err)
		c.sess.table.End(rec.FromID)
	case err != nil:
		c.warns.warn(ctx, c.log, "E2E session restarted", "agent", rec.FromID, "err", err)
		if restart != nil {
			send(restart)
		}
	}
	for _, payload := range got.Msgs {
		c.message(ctx, rec.FromID, rec.Version, payload)
	}
}

// sessionRefused handles an Agent's Disconnect with 7106 (Session Context
// not allowed) [R-E2E.6a]: with SessionsPrefer the Controller goes on
// without a session and sends again, outside one, the Msgs the Agent had
// not acknowledged; with SessionsRequire it only logs. It reports whether
// the Disconnect was about the session (the Agent is still there).
func (c *Controller) sessionRefused(ctx context.Context, agentID string, d record.Disconnect) bool {
	if d.Code != 7106 {
		return false
	}
	s, _ := c.Sessions(agentID)
	if s.Policy != SessionsPrefer {
		c.warns.warn(ctx, c.log, "agent refuses E2E sessions", "agent", agentID, "policy", s.Policy.String())
		return s.Policy == SessionsRequire
	}
	resend := c.sess.table.Outstanding(agentID)
	c.mu.Lock()
	c.sess.refused[agentID] = true
	c.mu.Unlock()
	c.sess.table.End(agentID)
	c.log.InfoContext(ctx, "agent refuses E2E sessions; going on without", "agent", agentID, "resent", len(resend))
	for _, payload := range resend {
		c.send(ctx, agentID, payload)
	}
	return true
}
