package controller

import (
	"errors"
	"fmt"

	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/record"
)

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
	return fmt.Sprintf("controller: request of %d bytes is over the %d bytes the %s MTP to %s carries", e.Size, e.Limit, e.MTP, e.Agent)
}

// Is makes errors.Is match ErrTooLarge and mtp.ErrTooLarge.
func (e *TooLargeError) Is(target error) bool { return target == ErrTooLarge || target == mtp.ErrTooLarge }

// fits checks the Record of a request to agentID against the limit of the
// transport that reaches it (mtp.Limited), before anything is sent or
// queued: a request the MTP cannot carry would never be answered, and
// queueing it would only hold it until it expires.
func (c *Controller) fits(agentID string, payload []byte) error {
	c.mu.Lock()
	var protocol string
	if a := c.agents[agentID]; a != nil {
		protocol = a.Protocol
	}
	c.mu.Unlock()
	t := c.mtps[protocol]
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
