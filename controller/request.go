package controller

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/record"
	"github.com/uspkit/uspkit/store"
	"github.com/uspkit/uspkit/wire"
)

// Do sends a request to an Agent and returns its response or Error Msg.
// Many requests may be in flight to one Agent at a time. When the Agent
// is offline the request is queued durably, to be sent when it connects,
// and Do waits for the response until ctx ends; it then returns
// ErrQueued, and the response comes later as a "response" event. A
// request larger than the Agent's MTP carries is refused at once with a
// *TooLargeError (errors.Is ErrTooLarge): nothing is sent or queued. A
// transport that refuses the request for another reason than the Agent
// being away makes Do return ErrNotSent at once, the Agent still online.
func (c *Controller) Do(ctx context.Context, agentID string, req *wire.Request) (*wire.Msg, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.opt.RequestTimeout)
		defer cancel()
	}
	c.mu.Lock()
	a, known := c.agents[agentID]
	online := known && a.Online
	pending := known && a.Pending
	c.mu.Unlock()
	if !known {
		return nil, fmt.Errorf("%w: %s", ErrUnknownAgent, agentID)
	}
	if pending {
		return nil, fmt.Errorf("%w: %s", ErrPending, agentID)
	}
	if req.GetOperate() != nil && online {
		c.watchOperations(ctx, agentID)
	}
	id := newMsgID()
	m := &wire.Msg{Header: &wire.Header{MsgId: id, MsgType: wire.RequestMsgType(req)}, Body: &wire.Body{MsgBody: &wire.Body_Request{Request: req}}}
	payload, err := proto.Marshal(m)
	if err != nil {
		return nil, err
	}
	if err := c.fits(agentID, payload); err != nil {
		return nil, err // nothing sent, nothing queued
	}
	ch := make(chan *wire.Msg, 1)
	c.mu.Lock()
	c.pending[id] = ch
	c.inflight++
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.inflight--
		c.mu.Unlock()
	}()
	queued := false
	sendErr := errNoRoute
	sent := time.Now()
	if online {
		sendErr = c.send(ctx, agentID, payload)
	}
	if sendErr != nil && !peerAway(sendErr) {
		// The transport refused the Record for a reason of its own: the
		// Agent is not offline, and queueing would not help.
		c.forget(id)
		return nil, notSent(agentID, sendErr)
	}
	if sendErr != nil {
		if err := c.enqueue(ctx, queuedReq{ID: id, Agent: agentID, Payload: payload, Expires: time.Now().Add(c.opt.QueueTTL)}); err != nil {
			c.forget(id)
			return nil, err
		}
		queued = true
	}
	select {
	case r := <-ch:
		c.ops.started(agentID, req, r)
		return r, nil
	case <-ctx.Done():
		c.forget(id) // a later response becomes a "response" event
		if queued {
			return nil, fmt.Errorf("%w (msg_id %s)", ErrQueued, id)
		}
		c.unanswered(ctx, agentID, sent)
		return nil, fmt.Errorf("%w (msg_id %s)", ErrTimeout, id)
	}
}

func (c *Controller) forget(id string) {
	c.mu.Lock()
	delete(c.pending, id)
	c.mu.Unlock()
}

// send delivers a Msg payload to an Agent: over the MTP and address it
// was last heard on; if that Send fails, over the other MTPs it was heard
// on, newest first (sendOrder). The route that took the Record becomes
// the Agent's current one. It returns nil once a transport took the
// Record, else the error of the last transport tried (errNoRoute when
// there was none).
//
// Within an E2E session (see e2e.go) the payload may take several Records,
// segmented to fit the first route's MTP; they all go the same way.
func (c *Controller) send(ctx context.Context, agentID string, payload []byte) error {
	limit := 0
	c.mu.Lock()
	if a := c.agents[agentID]; a != nil {
		if rs := sendOrder(a); len(rs) > 0 {
			if l, ok := c.mtps[rs[0].MTP].(mtp.Limited); ok {
				limit = l.MaxRecord()
			}
		}
	}
	c.mu.Unlock()
	recs, err := c.records(agentID, payload, limit)
	if err != nil {
		c.log.WarnContext(ctx, "record not sent", "agent", agentID, "err", err)
		return fmt.Errorf("controller: %w", err)
	}
	return c.sendRecords(ctx, agentID, recs)
}

// sendRecords delivers Records to an Agent, all over one route (see send).
func (c *Controller) sendRecords(ctx context.Context, agentID string, recs []*record.Record) error {
	c.mu.Lock()
	var routes []Route
	if a := c.agents[agentID]; a != nil {
		routes = sendOrder(a)
	}
	c.mu.Unlock()
	bs := make([][]byte, len(recs))
	for i, r := range recs {
		b, err := r.MarshalBinary()
		if err != nil {
			c.log.WarnContext(ctx, "record not sent", "agent", agentID, "err", err)
			return fmt.Errorf("controller: encoding record: %w", err)
		}
		bs[i] = b
	}
	last := errNoRoute
	for i, r := range routes {
		t := c.mtps[r.MTP]
		if t == nil {
			continue
		}
		var err error
		for _, b := range bs {
			// Kept before it goes, so that it is older than the answer.
			c.xchg.add(agentID, "sent", r.MTP, b, time.Now())
			if err = t.Send(ctx, r.Address, b); err != nil {
				break
			}
		}
		if err != nil {
			c.log.WarnContext(ctx, "record not sent", "agent", agentID, "mtp", r.MTP, "address", r.Address, "err", err)
			last = err
			continue
		}
		if i > 0 {
			c.mu.Lock()
			if a := c.agents[agentID]; a != nil {
				c.useRouteLocked(a, r)
			}
			c.mu.Unlock()
		}
		return nil
	}
	return last
}

func (c *Controller) reply(ctx context.Context, agentID string, m *wire.Msg) {
	payload, err := proto.Marshal(m)
	if err == nil {
		c.send(ctx, agentID, payload)
	}
}

func (c *Controller) enqueue(ctx context.Context, q queuedReq) error {
	data, _ := json.Marshal(q)
	if err := c.opt.Store.Apply(ctx, &store.Batch{PutItems: []store.Item{{Kind: "queue", ID: q.ID, Data: data}}}); err != nil {
		return fmt.Errorf("controller: queueing: %w", err)
	}
	c.mu.Lock()
	c.queued[q.Agent] = append(c.queued[q.Agent], q)
	c.mu.Unlock()
	return nil
}

// flush sends an Agent's queued requests, in order, dropping expired ones.
func (c *Controller) flush(ctx context.Context, agentID string) {
	c.mu.Lock()
	q := c.queued[agentID]
	delete(c.queued, agentID)
	c.mu.Unlock()
	var done []store.Item
	for i, r := range q {
		var err error
		if time.Now().Before(r.Expires) {
			err = c.send(ctx, agentID, r.Payload)
		}
		if err != nil && (peerAway(err) || ctx.Err() != nil) {
			c.mu.Lock()
			c.queued[agentID] = append(q[i:], c.queued[agentID]...)
			c.mu.Unlock()
			break
		}
		if err != nil {
			// It can never go: answer it, and let the rest through.
			c.failQueued(ctx, agentID, r.ID, notSent(agentID, err))
		}
		done = append(done, store.Item{Kind: "queue", ID: r.ID})
	}
	if len(done) > 0 {
		if err := c.opt.Store.Apply(ctx, &store.Batch{DeleteItems: done}); err != nil {
			c.log.WarnContext(ctx, "sent requests not removed from the queue", "err", err)
		}
	}
}

// expire drops queued requests past their TTL and forgets old Notify
// msg_ids, once a minute.
func (c *Controller) expire(ctx context.Context) {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := time.Now()
		var drop []store.Item
		c.mu.Lock()
		for agent, q := range c.queued {
			kept := q[:0]
			for _, r := range q {
				if now.After(r.Expires) {
					drop = append(drop, store.Item{Kind: "queue", ID: r.ID})
				} else {
					kept = append(kept, r)
				}
			}
			c.queued[agent] = kept
		}
		for k, at := range c.seen {
			if now.Sub(at) > time.Hour {
				delete(c.seen, k)
			}
		}
		c.mu.Unlock()
		if len(drop) > 0 {
			c.opt.Store.Apply(ctx, &store.Batch{DeleteItems: drop})
		}
	}
}
