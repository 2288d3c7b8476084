package controller

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/uspkit/uspkit/record"
	"github.com/uspkit/uspkit/store"
	"github.com/uspkit/uspkit/wire"
)

// runJobs schedules the jobs until ctx ends, as runCampaigns does the
// campaigns: a tick, or a poke when something changed (an Agent came or
// went, a request ended, a job was created). A request in flight when ctx
// ends is sent again at the next start.
func (c *Controller) runJobs(ctx context.Context) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Add(1)
	go func() { defer wg.Done(); c.runIndexer(ctx) }()
	for {
		c.scheduleJobs(ctx, &wg)
		select {
		case <-ctx.Done():
			return
		case <-c.fleet.wake:
		case <-tick.C:
		}
	}
}

// scheduleJobs starts what the running jobs allow, gives up the targets
// whose deadline passed and ends the jobs with nothing left to do.
func (c *Controller) scheduleJobs(ctx context.Context, wg *sync.WaitGroup) {
	if ctx.Err() != nil {
		return
	}
	type start struct {
		job, agent string
		req        *wire.Request
		ctx        context.Context
		cancel     context.CancelFunc
	}
	var starts []start
	var done []Job
	b := &store.Batch{}
	now := time.Now().UTC()
	c.fleet.persist.Lock()
	c.fleet.mu.Lock()
	c.fleet.init()
	for id, r := range c.fleet.jobs {
		if r.j.State != JobRunning {
			continue
		}
		for r.scan < len(r.targets) && r.targets[r.scan].finished() {
			r.scan++
		}
		expired := !r.j.Deadline.IsZero() && now.After(r.j.Deadline)
		open := r.targets[r.scan:]
		switch {
		case expired:
			for _, t := range open {
				if t.State == ResultPending {
					// The Agent did not come back in time.
					r.setState(t, ResultFailed)
					t.Message, t.Ended = "deadline passed before the agent could be reached", now
					b.PutItems = append(b.PutItems, jobTargetItem(id, t))
				}
			}
		case r.n.Pending > 0 && r.n.Running < r.j.Concurrency:
			// One look at the registry for the whole pass.
			c.mu.Lock()
			for _, t := range open {
				if r.n.Running >= r.j.Concurrency {
					break
				}
				if t.State != ResultPending {
					continue
				}
				if a := c.agents[t.Agent]; a == nil || !a.Online || a.Pending {
					continue
				}
				r.setState(t, ResultRunning)
				t.Attempts, t.Started = t.Attempts+1, now
				tctx, cancel := context.WithCancel(ctx)
				r.cancels[t.Agent] = cancel
				starts = append(starts, start{id, t.Agent, r.req, tctx, cancel})
				b.PutItems = append(b.PutItems, jobTargetItem(id, t))
			}
			c.mu.Unlock()
		}
		if r.n.Running == 0 && r.n.Pending == 0 && r.unsent == 0 {
			r.j.State, r.j.Ended = JobCompleted, now
			b.PutItems = append(b.PutItems, jobItem(&r.j))
			x := r.j
			x.Counts = r.progress()
			done = append(done, x)
		}
	}
	c.fleet.mu.Unlock()
	// The targets are stored as running before their requests go, so
	// that a request's end is always stored after its start.
	if !b.Empty() {
		if err := c.opt.Store.Apply(context.WithoutCancel(ctx), b); err != nil {
			c.log.WarnContext(ctx, "job targets not persisted", "err", err)
		}
	}
	c.fleet.persist.Unlock()
	for _, s := range starts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer s.cancel()
			res := c.jobRequest(s.ctx, s.agent, s.req)
			c.finishJobTarget(ctx, s.job, s.agent, res)
		}()
	}
	for i := range done {
		c.jobEvent(ctx, "job.done", "", &done[i], "")
	}
}

// jobResult is how one target's request ended.
type jobResult struct {
	state   string
	code    uint32
	message string
	resp    []byte
	// retry sends the target back to pending (its Agent went away);
	// stopped means the request was given up because its context ended
	// (the job cancelled, the Controller stopping): nothing is recorded.
	retry, stopped bool
}

// jobRequest sends a job's request to one Agent and judges the answer:
// a USP Error, or a failure inside a response (an OperFailure of a Set,
// Add or Delete, an error of a Get path, a CmdFailure), fails the target
// with its code and message; the response is kept either way.
func (c *Controller) jobRequest(ctx context.Context, agent string, req *wire.Request) jobResult {
	sctx, cancel := context.WithTimeout(ctx, c.opt.RequestTimeout)
	m, err := c.Do(sctx, agent, req)
	cancel()
	switch {
	case err == nil:
	case ctx.Err() != nil:
		return jobResult{stopped: true}
	case errors.Is(err, ErrQueued), errors.Is(err, ErrTimeout), errors.Is(err, errNoRoute):
		return jobResult{state: ResultFailed, retry: true, message: fmt.Sprintf("agent went away: %v", err)}
	default:
		return jobResult{state: ResultFailed, message: err.Error()}
	}
	raw, _ := record.MsgJSON(m)
	res := jobResult{state: ResultSucceeded, resp: raw}
	if code, msg := responseFailure(m); code != 0 {
		res.state, res.code, res.message = ResultFailed, code, msg
	}
	return res
}

// responseFailure returns the first error a response carries: a USP
// Error Msg, or a failure of one of the paths or objects it answers (with
// allow_partial an Agent answers an object it could not update with an
// OperFailure inside the response rather than with an Error [R-SET.0]).
func responseFailure(m *wire.Msg) (uint32, string) {
	if e := m.GetBody().GetError(); e != nil {
		return e.GetErrCode(), e.GetErrMsg()
	}
	resp := m.GetBody().GetResponse()
	for _, r := range resp.GetGetResp().GetReqPathResults() {
		if r.GetErrCode() != 0 {
			return r.GetErrCode(), r.GetRequestedPath() + ": " + r.GetErrMsg()
		}
	}
	for _, r := range resp.GetSetResp().GetUpdatedObjResults() {
		if f := r.GetOperStatus().GetOperFailure(); f != nil {
			return f.GetErrCode(), r.GetRequestedPath() + ": " + f.GetErrMsg()
		}
	}
	for _, r := range resp.GetAddResp().GetCreatedObjResults() {
		if f := r.GetOperStatus().GetOperFailure(); f != nil {
			return f.GetErrCode(), r.GetRequestedPath() + ": " + f.GetErrMsg()
		}
	}
	for _, r := range resp.GetDeleteResp().GetDeletedObjResults() {
		if f := r.GetOperStatus().GetOperFailure(); f != nil {
			return f.GetErrCode(), r.GetRequestedPath() + ": " + f.GetErrMsg()
		}
	}
	for _, r := range resp.GetOperateResp().GetOperationResults() {
		if f := r.GetCmdFailure(); f != nil {
			return f.GetErrCode(), r.GetExecutedCommand() + ": " + f.GetErrMsg()
		}
	}
	return 0, ""
}

// finishJobTarget records the end of one target's request and publishes
// it (job.progress).
func (c *Controller) finishJobTarget(ctx context.Context, job, agent string, res jobResult) {
	ctx = context.WithoutCancel(ctx) // the result is kept even when the Controller is stopping
	c.fleet.persist.Lock()
	c.fleet.mu.Lock()
	r := c.fleet.jobs[job]
	if r != nil {
		delete(r.cancels, agent)
	}
	var t *JobResult
	if r != nil {
		t = r.target(agent)
	}
	if r == nil || res.stopped || t == nil || t.State != ResultRunning {
		c.fleet.mu.Unlock()
		c.fleet.persist.Unlock()
		return
	}
	t.Code, t.Message, t.Response = res.code, res.message, res.resp
	if res.retry && t.Attempts < maxOfflineRetries {
		r.setState(t, ResultPending)
	} else {
		r.setState(t, res.state)
		t.Ended = time.Now().UTC()
		r.unsent++
	}
	item := jobTargetItem(job, t)
	state := t.State
	x := r.j
	x.Counts = r.progress()
	c.fleet.mu.Unlock()
	if err := c.opt.Store.Apply(ctx, &store.Batch{PutItems: []store.Item{item}}); err != nil {
		c.log.WarnContext(ctx, "job target not persisted", "job", job, "agent", agent, "err", err)
	}
	c.fleet.persist.Unlock()
	if state != ResultPending {
		c.jobEvent(ctx, "job.progress", agent, &x, state)
		c.fleet.mu.Lock()
		r.unsent--
		c.fleet.mu.Unlock()
	}
	c.fleet.poke()
}
