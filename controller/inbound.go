package controller

import (
	"context"
	"errors"
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/uspkit/uspkit/endpoint"
	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/record"
	"github.com/uspkit/uspkit/wire"
)

// Admission is the policy for Agents heard from for the first time.
type Admission uint8

const (
	// AdmitVerified registers an unknown Agent whose identity is verified
	// or vouched for by a broker login, and holds one whose identity is
	// only claimed as pending.
	AdmitVerified Admission = iota
	// AdmitAll registers every unknown Agent (a lab).
	AdmitAll
	// AdmitPending holds every unknown Agent as pending until an operator
	// approves it (Controller.Approve).
	AdmitPending
)

// ParseAdmission parses "verified" (or ""), "all" and "pending".
func ParseAdmission(s string) (Admission, error) {
	switch s {
	case "", "verified":
		return AdmitVerified, nil
	case "all":
		return AdmitAll, nil
	case "pending":
		return AdmitPending, nil
	}
	return 0, fmt.Errorf("controller: admission %q: want verified, all or pending", s)
}

// Errors about Agents that are not admitted.
var (
	// ErrPending is returned by Do for an Agent waiting for approval.
	ErrPending = errors.New("controller: agent waiting for approval")
	// ErrRefused is wrapped by the reasons an unknown Agent is not
	// registered: too many pending, or too many new Agents on one route.
	ErrRefused = errors.New("controller: agent refused")
)

// handle processes one inbound Record.
func (c *Controller) handle(ctx context.Context, m *MTP, in mtp.Inbound) {
	var rec record.Record
	if err := record.Decode(in.Record, &rec, nil); err != nil {
		c.warns.warn(ctx, c.log, "record dropped", "mtp", m.Protocol, "peer", in.From.Address, "err", err)
		if in.Reject != nil {
			in.Reject("not a USP Record") // a WebSocket closes with 1003 [R-WS.16]
		}
		return
	}
	// [R-MTP.5]: a Record whose from_id is not valid or whose to_id is not
	// ours is ignored.
	if err := rec.Validate(); err != nil || rec.ToID != c.opt.EndpointID || endpoint.Validate(rec.FromID) != nil {
		c.warns.warn(ctx, c.log, "record rejected", "from", rec.FromID, "to", rec.ToID, "err", err)
		return
	}
	t, err := trustOf(m, in.From, rec.FromID)
	if err != nil {
		c.warns.warn(ctx, c.log, "record refused", "mtp", m.Protocol, "peer", in.From.Address, "from", rec.FromID, "err", err)
		return
	}
	c.xchg.add(rec.FromID, "received", m.Name, in.Record, time.Now())
	switch rec.Type {
	case record.TypeDisconnect:
		if c.sessionRefused(ctx, rec.FromID, rec.Disconnect) {
			return
		}
		c.disconnected(ctx, m, in.From, rec.FromID, t, rec.Disconnect)
		return
	case record.TypeSessionContext:
		if !c.contact(ctx, m, in.From, rec.FromID, t) {
			return
		}
		c.sessionRecord(ctx, m, in.From, &rec)
		return
	}
	if !c.contact(ctx, m, in.From, rec.FromID, t) {
		return
	}
	if rec.Type != record.TypeNoSessionContext {
		return // connect records only announce the Agent
	}
	c.message(ctx, rec.FromID, rec.Version, rec.Payload)
}

// message processes the Msg of a no-session-context Record.
func (c *Controller) message(ctx context.Context, from, version string, payload []byte) {
	var m wire.Msg
	if err := proto.Unmarshal(payload, &m); err != nil {
		c.warns.warn(ctx, c.log, "msg dropped", "from", from, "err", err)
		return
	}
	if n := m.GetBody().GetRequest().GetNotify(); n != nil {
		c.notify(ctx, from, &m, n)
		return
	}
	if m.GetBody().GetRequest() != nil {
		// [R-MTP.5]: a Request the Controller cannot process gets an Error.
		c.reply(ctx, from, errorMsg(m.GetHeader().GetMsgId(), 7001, "a controller accepts only Notify"))
		return
	}
	id := m.GetHeader().GetMsgId()
	c.mu.Lock()
	ch := c.pending[id]
	delete(c.pending, id)
	c.mu.Unlock()
	if ch != nil {
		ch <- &m
		return
	}
	raw, _ := record.MsgJSON(&m)
	c.event(ctx, Event{Agent: from, Kind: "response", MsgID: id, Msg: raw})
}

// connected records a connection that came up to a peer that names
// itself (the Controller as a WebSocket client of an Agent, or a server
// handshake), if its identity passes MTP m's policy.
func (c *Controller) connected(ctx context.Context, m *MTP, p mtp.Peer) {
	tr, err := trustOf(m, p, p.EndpointID)
	if err != nil {
		c.warns.warn(ctx, c.log, "agent refused", "mtp", m.Protocol, "peer", p.Address, "agent", p.EndpointID, "err", err)
		return
	}
	c.contact(ctx, m, p, p.EndpointID, tr)
}

// contact records contact from an Agent over MTP m from peer p, with trust
// tr; a first contact or a return flushes its queue. It reports whether
// the Agent's Records may be processed.
func (c *Controller) contact(ctx context.Context, m *MTP, p mtp.Peer, id string, tr trust) bool {
	now := time.Now().UTC()
	c.mu.Lock()
	a := c.agents[id]
	isNew := a == nil
	if isNew {
		var err error
		if a, err = c.admitLocked(m, p, id, tr, now); err != nil {
			c.mu.Unlock()
			c.warns.warn(ctx, c.log, "agent refused", "mtp", m.Protocol, "peer", p.Address, "agent", id, "trust", tr, "err", err)
			return false
		}
	}
	if a.Verified && tr < trustVerified {
		c.mu.Unlock()
		c.warns.warn(ctx, c.log, "record refused: the agent's identity was verified before, this contact's is not",
			"mtp", m.Protocol, "peer", p.Address, "agent", id, "trust", tr)
		return false
	}
	back := !a.Online
	a.Online, a.LastSeen, a.Trust = true, now, tr.String()
	c.heardLocked(a, m, p.Address, now)
	if tr == trustVerified && !a.Verified {
		a.Verified, back = true, true
	}
	snapshot := *a
	c.mu.Unlock()
	if snapshot.Pending {
		if isNew {
			c.persistAgent(ctx, &snapshot)
			c.event(ctx, Event{Agent: id, Kind: "pending"})
		}
		return false
	}
	if back {
		c.persistAgent(ctx, &snapshot)
		c.event(ctx, Event{Agent: id, Kind: "online"})
		c.goBG(func(ctx context.Context) { c.flush(ctx, id) })
		c.camps.poke() // campaign targets waiting for it
	}
	if back && (snapshot.Info == nil || snapshot.Provisioned == nil && len(c.opt.Profiles) > 0) {
		c.goBG(func(ctx context.Context) { c.firstContact(ctx, id) })
	}
	return true
}

// admitLocked decides on an unknown Agent under the admission policy and
// the rate and pending limits, and registers it; c.mu is held.
func (c *Controller) admitLocked(m *MTP, p mtp.Peer, id string, tr trust, now time.Time) (*Agent, error) {
	if !c.newAgents.allow(m.Protocol+"\x00"+p.Address, now, c.opt.NewAgentBurst, c.opt.NewAgentInterval) {
		return nil, fmt.Errorf("%w: too many new agents from this route", ErrRefused)
	}
	pending := c.opt.Admission == AdmitPending || (c.opt.Admission == AdmitVerified && tr == trustClaimed)
	if pending && c.nPending >= c.opt.MaxPending {
		return nil, fmt.Errorf("%w: %d agents already wait for approval", ErrRefused, c.nPending)
	}
	a := &Agent{ID: id, Pending: pending}
	c.agents[id] = a
	c.countPendingLocked(false, pending)
	return a, nil
}

// Approve admits an Agent waiting for approval: it is registered, and its
// next contact brings it online. Approving an admitted Agent does nothing.
func (c *Controller) Approve(ctx context.Context, id string) error {
	c.mu.Lock()
	a := c.agents[id]
	if a == nil {
		c.mu.Unlock()
		return fmt.Errorf("%w: %s", ErrUnknownAgent, id)
	}
	was := a.Pending
	a.Pending = false
	c.countPendingLocked(was, false)
	snapshot := *a
	c.mu.Unlock()
	if !was {
		return nil
	}
	c.persistAgent(ctx, &snapshot)
	c.event(ctx, Event{Agent: id, Kind: "approved"})
	if snapshot.Online {
		c.event(ctx, Event{Agent: id, Kind: "online"})
		c.goBG(func(ctx context.Context) { c.flush(ctx, id) })
		c.goBG(func(ctx context.Context) { c.firstContact(ctx, id) })
	}
	return nil
}

// Pending returns the Agents waiting for approval, sorted by ID.
func (c *Controller) Pending() []Agent {
	var out []Agent
	for _, a := range c.Agents() {
		if a.Pending {
			out = append(out, a)
		}
	}
	return out
}

// disconnected handles a Disconnect Record: the Agent is leaving this
// route, so it is offline there and whatever the Controller held for the
// connection is cleared [R-MTP.7]; it does not count as contact.
func (c *Controller) disconnected(ctx context.Context, m *MTP, p mtp.Peer, id string, t trust, d record.Disconnect) {
	c.mu.Lock()
	a := c.agents[id]
	gone := false
	if a != nil && a.Online && !(a.Verified && t < trustVerified) {
		addr := p.Address
		if m.Protocol == "MQTT" || m.Protocol == "STOMP" {
			// Over a broker the Disconnect may be the Agent's Will, whose
			// reply-to need not be the address it last used.
			for _, r := range a.Routes {
				if r.MTP == m.Name {
					addr = r.Address
				}
			}
		}
		if gone = c.routeDownLocked(a, m.Name, addr); gone {
			a.Online = false
		}
	}
	c.mu.Unlock()
	c.log.InfoContext(ctx, "agent disconnected", "agent", id, "mtp", m.Protocol, "code", d.Code, "reason", d.Reason)
	if gone {
		c.event(ctx, Event{Agent: id, Kind: "offline"})
	}
}

// refuseSession answers a Session Context Record: the Controller does not
// do E2E sessions, so it replies with a Disconnect Record with 7106
// [R-E2E.6a], over the route the Record came from.
func (c *Controller) refuseSession(ctx context.Context, m *MTP, p mtp.Peer, id string) {
	c.log.WarnContext(ctx, "session context refused", "agent", id, "mtp", m.Protocol)
	if m.Transport == nil || p.Address == "" {
		return
	}
	b, err := record.NewDisconnect(id, c.opt.EndpointID, 7106, "Session Context is not allowed").MarshalBinary()
	if err == nil {
		err = c.sendDirect(ctx, m, p, id, b)
	}
	if err != nil {
		c.log.WarnContext(ctx, "disconnect not sent", "agent", id, "err", err)
	}
}

// sendDirect sends the encoded Record b to an Agent over the route a
// Record came from, keeping it in the exchange log first, as the send
// path of requests does, so that it is older than any answer.
func (c *Controller) sendDirect(ctx context.Context, m *MTP, p mtp.Peer, id string, b []byte) error {
	c.xchg.add(id, "sent", m.Name, b, time.Now())
	return m.Transport.Send(ctx, p.Address, b)
}

// buckets is a token bucket per route for new Agents; entries are dropped
// once full again, so it holds only recently active routes.
type buckets map[string]bucket

type bucket struct {
	tokens float64
	at     time.Time
}

func (b buckets) allow(key string, now time.Time, burst int, every time.Duration) bool {
	if len(b) >= 4096 {
		for k, v := range b {
			if now.Sub(v.at) > time.Duration(burst)*every {
				delete(b, k)
			}
		}
	}
	v, ok := b[key]
	if !ok {
		v = bucket{tokens: float64(burst), at: now}
	}
	v.tokens = min(float64(burst), v.tokens+float64(now.Sub(v.at))/float64(every))
	v.at = now
	if v.tokens < 1 {
		b[key] = v
		return false
	}
	v.tokens--
	b[key] = v
	return true
}

// unanswered handles a request to an online Agent that got no answer in
// time: over a broker, where no connection tells of a dead Agent (an MQTT
// 5 Agent leaves no Will), an Agent not heard from since the request went
// out is taken to be offline, so that later requests are queued rather
// than left to time out.
func (c *Controller) unanswered(ctx context.Context, id string, sent time.Time) {
	c.mu.Lock()
	a := c.agents[id]
	gone := a != nil && a.Online && a.LastSeen.Before(sent) && (a.Protocol == "MQTT" || a.Protocol == "STOMP")
	var last time.Time
	if gone {
		a.Online, last = false, a.LastSeen
	}
	c.mu.Unlock()
	if gone {
		c.log.WarnContext(ctx, "agent silent, taken offline", "agent", id, "last_seen", last)
		c.event(ctx, Event{Agent: id, Kind: "offline"})
	}
}
