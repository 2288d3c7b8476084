package controller

import (
	"context"
	"errors"
	"fmt"

	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/record"
	"github.com/uspkit/uspkit/usperr"
)

// ErrNotSent is returned by Do when the transport to an online Agent
// refused the request for a reason other than the Agent being away (a
// broker that refused the PUBLISH, say): the Agent stays online and
// nothing is queued. The transport's error is wrapped.
var ErrNotSent = errors.New("controller: request not sent")

// errNoRoute is send's error when no transport reaches the Agent.
var errNoRoute = errors.New("controller: no route to the agent")

// peerAway reports whether a send failed because the Agent cannot be
// reached now, so that the request is queued for its return: no route, a
// peer the transport has no connection to, a closed transport, or a
// client transport whose own queue is full while it reconnects.
func peerAway(err error) bool {
	return errors.Is(err, errNoRoute) || errors.Is(err, mtp.ErrNoPeer) || errors.Is(err, mtp.ErrClosed) || errors.Is(err, mtp.ErrQueueFull)
}

// notSent is Do's error for a request a transport refused: a
// *TooLargeError for mtp.ErrTooLarge, ErrTimeout when the caller's ctx
// ended first, else ErrNotSent.
func notSent(agentID string, err error) error {
	switch {
	case errors.Is(err, mtp.ErrTooLarge):
		return &TooLargeError{Agent: agentID}
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return fmt.Errorf("%w: %w", ErrTimeout, err)
	}
	return fmt.Errorf("%w: %w", ErrNotSent, err)
}

// failQueued answers a queued request that can never be sent with an
// Error 7005 made by the Controller, to Do if it still waits, else as a
// "response" event, and logs it.
func (c *Controller) failQueued(ctx context.Context, agentID, id string, err error) {
	c.log.WarnContext(ctx, "queued request dropped", "agent", agentID, "msg_id", id, "err", err)
	m := errorMsg(id, usperr.CodeResourcesExceeded, err.Error())
	c.mu.Lock()
	ch := c.pending[id]
	delete(c.pending, id)
	c.mu.Unlock()
	if ch != nil {
		ch <- m
		return
	}
	raw, _ := record.MsgJSON(m)
	c.event(ctx, Event{Agent: agentID, Kind: "response", MsgID: id, Msg: raw})
}

// ErrTooLarge is returned by Do for a request whose Record is larger than
// the MTP that reaches the Agent carries. Nothing is sent or queued, and
// the Agent's state does not change. The error is a *TooLargeError.
var ErrTooLarge = errors.New("controller: request too large for the agent's MTP")

// TooLargeError says how large a refused request was and what the MTP
// takes. errors.Is(err, ErrTooLarge) and errors.Is(err, mtp.ErrTooLarge)
// hold for it.
type TooLargeError struct {
	Agent string
	MTP   string // the protocol, "MQTT" say
	Size  int    // the Record's size in bytes
	Limit int    // the largest Record the MTP takes
}

func (e *TooLargeError) Error() string {
	if e.Limit == 0 {
		return fmt.Sprintf("controller: the request is larger than the MTP to %s carries", e.Agent)
	}
	return fmt.Sprintf("controller: request of %d bytes is over the %d bytes the %s MTP to %s carries", e.Size, e.Limit, e.MTP, e.Agent)
}

// Is makes errors.Is match ErrTooLarge and mtp.ErrTooLarge.
func (e *TooLargeError) Is(target error) bool {
	return target == ErrTooLarge || target == mtp.ErrTooLarge
}

// fits checks the Record of a request to agentID against the limit of the
// transport that reaches it (mtp.Limited), before anything is sent or
// queued: a request the MTP cannot carry would never be answered, and
// queueing it would only hold it until it expires.
func (c *Controller) fits(agentID string, payload []byte) error {
	if c.sess.table.Uses(agentID) {
		return nil // segmented to fit within the E2E session
	}
	c.mu.Lock()
	var name, protocol string
	if a := c.agents[agentID]; a != nil {
		name, protocol = sendOrder(a)[0].MTP, a.Protocol
	}
	c.mu.Unlock()
	t := c.mtps[name]
	for _, m := range c.opt.MTPs {
		if t == nil && m.Protocol == protocol {
			t = m.Transport
		}
	}
	l, ok := t.(mtp.Limited)
	if !ok {
		return nil
	}
	b, err := record.NewNoSession(agentID, c.opt.EndpointID, payload).MarshalBinary()
	if err != nil {
		return fmt.Errorf("controller: encoding record: %w", err)
	}
	if max := l.MaxRecord(); len(b) > max {
		return &TooLargeError{Agent: agentID, MTP: protocol, Size: len(b), Limit: max}
	}
	return nil
}
