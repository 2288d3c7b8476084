package controller

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/uspkit/uspkit/wire"
)

// Operation is an asynchronous command followed to its end: started by an
// Operate whose response named a Request object, finished by the
// OperationComplete notification.
type Operation struct {
	Agent       string            `json:"agent"`
	Command     string            `json:"command"`
	CommandKey  string            `json:"command_key"`
	RequestPath string            `json:"request_path"`
	Status      string            `json:"status"` // running, complete, failed
	Started     time.Time         `json:"started"`
	Ended       time.Time         `json:"ended,omitzero"`
	Output      map[string]string `json:"output,omitempty"`
	ErrCode     uint32            `json:"err_code,omitempty"`
	ErrMsg      string            `json:"err_msg,omitempty"`
}

// operations keeps recent operations in memory.
type operations struct {
	mu  sync.Mutex
	ops []*Operation
	// watched holds the Agents known to have the OperationComplete
	// subscription; a Boot! clears an Agent's entry.
	watched map[string]bool
	// early holds OperationComplete notifications that arrived before
	// the OperateResp that starts their operation was seen (a fast
	// command ends before its response is handled), newest last.
	early []early
}

// early is an OperationComplete not yet matched to an operation.
type early struct {
	agent string
	oc    *wire.Notify_OperationComplete
	at    time.Time
}

// maxEarly bounds the unmatched completions kept, and earlyTTL how long.
const (
	maxEarly = 1024
	earlyTTL = time.Minute
)

// opSubscription is the subscription the Controller makes sure of before
// an Operate, so that every asynchronous command it starts is heard to
// end.
func opSubscription() Subscription {
	return Subscription{ID: "uspkit-operation-complete", NotifType: "OperationComplete", ReferenceList: "Device."}
}

// watchOperations makes sure an Agent has the OperationComplete
// subscription before a command starts there; once per Agent until its
// next Boot!.
func (c *Controller) watchOperations(ctx context.Context, id string) {
	c.ops.mu.Lock()
	done := c.ops.watched[id]
	c.ops.mu.Unlock()
	if done {
		return
	}
	if err := c.createSubscriptions(ctx, id, []Subscription{opSubscription()}); err != nil {
		c.log.WarnContext(ctx, "OperationComplete subscription not made; asynchronous commands may not be seen to end", "agent", id, "err", err)
		return
	}
	c.ops.mu.Lock()
	if c.ops.watched == nil {
		c.ops.watched = map[string]bool{}
	}
	c.ops.watched[id] = true
	c.ops.mu.Unlock()
}

// rebooted forgets what the Controller knew of an Agent's subscriptions.
func (o *operations) rebooted(id string) {
	o.mu.Lock()
	delete(o.watched, id)
	o.mu.Unlock()
}

const maxOperations = 10000

// started records the asynchronous commands an OperateResp reports; one
// whose OperationComplete came first ends at once.
func (o *operations) started(agent string, req *wire.Request, resp *wire.Msg) {
	op := req.GetOperate()
	if op == nil {
		return
	}
	for _, r := range resp.GetBody().GetResponse().GetOperateResp().GetOperationResults() {
		if r.GetReqObjPath() == "" {
			continue
		}
		o.mu.Lock()
		x := &Operation{Agent: agent, Command: r.GetExecutedCommand(), CommandKey: op.GetCommandKey(),
			RequestPath: r.GetReqObjPath(), Status: "running", Started: time.Now().UTC()}
		o.ops = append(o.ops, x)
		if len(o.ops) > maxOperations {
			o.ops = slices.Clone(o.ops[len(o.ops)-maxOperations:])
		}
		for i, e := range o.early {
			if e.agent == agent && x.matches(e.oc) {
				x.end(e.oc)
				o.early = slices.Delete(o.early, i, i+1)
				break
			}
		}
		o.mu.Unlock()
	}
}

// completed closes the operation an OperationComplete notification ends,
// or keeps the notification for a while if its operation is not known
// yet.
func (o *operations) completed(agent string, oc *wire.Notify_OperationComplete) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for i := len(o.ops) - 1; i >= 0; i-- {
		if op := o.ops[i]; op.Agent == agent && op.Status == "running" && op.matches(oc) {
			op.end(oc)
			return
		}
	}
	now := time.Now()
	o.early = slices.DeleteFunc(o.early, func(e early) bool { return now.Sub(e.at) > earlyTTL })
	if len(o.early) >= maxEarly {
		o.early = slices.Delete(o.early, 0, 1)
	}
	o.early = append(o.early, early{agent: agent, oc: oc, at: now})
}

// matches reports whether oc is the end of op.
func (op *Operation) matches(oc *wire.Notify_OperationComplete) bool {
	return op.Command == oc.GetObjPath()+oc.GetCommandName() && op.CommandKey == oc.GetCommandKey()
}

// end records the outcome oc reports.
func (op *Operation) end(oc *wire.Notify_OperationComplete) {
	op.Ended = time.Now().UTC()
	if f := oc.GetCmdFailure(); f != nil {
		op.Status, op.ErrCode, op.ErrMsg = "failed", f.GetErrCode(), f.GetErrMsg()
	} else {
		op.Status, op.Output = "complete", oc.GetReqOutputArgs().GetOutputArgs()
	}
}

// Operations returns the asynchronous operations of one Agent, or of all
// (""), oldest first.
func (c *Controller) Operations(agent string) []Operation {
	c.ops.mu.Lock()
	defer c.ops.mu.Unlock()
	var out []Operation
	for _, op := range c.ops.ops {
		if agent == "" || op.Agent == agent {
			out = append(out, *op)
		}
	}
	return out
}

// DesiredSubscriptions returns the subscriptions the Controller keeps on
// every Agent.
func (c *Controller) DesiredSubscriptions() []Subscription {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.opt.Subscriptions)
}

// AddSubscription adds a subscription to keep on every Agent and creates
// it on those online now.
func (c *Controller) AddSubscription(ctx context.Context, s Subscription) {
	c.mu.Lock()
	c.opt.Subscriptions = append(slices.DeleteFunc(slices.Clone(c.opt.Subscriptions), func(x Subscription) bool { return x.ID == s.ID }), s)
	var online []string
	for _, a := range c.agents {
		if a.Online {
			online = append(online, a.ID)
		}
	}
	c.mu.Unlock()
	for _, id := range online {
		c.goBG(func(ctx context.Context) { c.ensureSubscriptions(ctx, id) })
	}
}
