package controller

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/uspkit/uspkit/record"
	"github.com/uspkit/uspkit/store"
	"github.com/uspkit/uspkit/wire"
)

// Job kinds: the USP request a job sends, or a campaign listed among the
// jobs.
const (
	JobGet       = "get"
	JobSet       = "set"
	JobAdd       = "add"
	JobDelete    = "delete"
	JobOperate   = "operate"
	JobSubscribe = "subscribe"
	JobCampaign  = "campaign"
)

// Job states.
const (
	JobRunning   = "running"
	JobCompleted = "completed"
	JobCancelled = "cancelled"
)

// Per-agent states in a job.
const (
	ResultPending   = "pending"
	ResultRunning   = "running"
	ResultSucceeded = "succeeded"
	ResultFailed    = "failed"
	ResultCancelled = "cancelled"
)

// Errors of the job methods.
var (
	// ErrUnknownJob is returned for a job ID never created.
	ErrUnknownJob = errors.New("controller: unknown job")
	// ErrJobState is returned for a change the job's state does not
	// allow (cancelling a completed job).
	ErrJobState = errors.New("controller: not allowed in the job's state")
)

// maxJobConcurrency bounds a job's requests in flight.
const maxJobConcurrency = 1000

// JobSpec says what a job sends and to whom.
type JobSpec struct {
	Name string `json:"name,omitempty"`
	// Group names the group whose members, at creation, are the
	// targets; Agents lists them instead.
	Group  string   `json:"group,omitempty"`
	Agents []string `json:"agents,omitempty"`
	// Kind is the request's kind (JobGet…JobSubscribe), Body the request
	// as the API took it, kept to be shown.
	Kind string          `json:"kind"`
	Body json.RawMessage `json:"request,omitempty"`
	// Concurrency bounds the requests in flight; 0 means 50.
	Concurrency int `json:"concurrency"`
	// Deadline is when the Agents still offline are given up; RetryFor,
	// if Deadline is zero, sets it that long after the creation. Neither
	// means the Controller's QueueTTL (24 hours by default).
	Deadline time.Time `json:"deadline,omitzero"`
	RetryFor Duration  `json:"retry_for,omitempty"`
}

// JobCounts counts a job's targets by state; Pending and OfflineWaiting
// are disjoint (the pending targets whose Agent is online, and offline).
type JobCounts struct {
	Total          int `json:"total"`
	Pending        int `json:"pending"`
	Running        int `json:"running"`
	Succeeded      int `json:"succeeded"`
	Failed         int `json:"failed"`
	OfflineWaiting int `json:"offline_waiting"`
	Cancelled      int `json:"cancelled"`
}

// JobResult is one Agent's part in a job.
type JobResult struct {
	Agent    string `json:"agent"`
	Index    int    `json:"index"`
	State    string `json:"state"`
	Attempts int    `json:"attempts,omitempty"`
	// Code and Message are the USP error of a failed request (Code 0 for
	// a failure that is not a USP error: the deadline, say).
	Code    uint32 `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
	// Response is the response Msg in protobuf JSON.
	Response json.RawMessage `json:"response,omitempty"`
	Started  time.Time       `json:"started,omitzero"`
	Ended    time.Time       `json:"ended,omitzero"`
}

func (r *JobResult) finished() bool {
	return r.State == ResultSucceeded || r.State == ResultFailed || r.State == ResultCancelled
}

// Job is a job's spec and progress; a campaign is shown as a job of kind
// campaign with a link to it.
type Job struct {
	ID string `json:"id"`
	JobSpec
	State   string    `json:"state"`
	Created time.Time `json:"created"`
	Ended   time.Time `json:"ended,omitzero"`
	Counts  JobCounts `json:"counts"`
	Link    string    `json:"link,omitempty"`
	// Msg is the request sent, a USP Msg in protobuf JSON.
	Msg json.RawMessage `json:"msg,omitempty"`
	// Results are the per-Agent results (only in Controller.Job).
	Results []JobResult `json:"results,omitempty"`
}

// jobRun is a job with its targets; fleet.mu guards it.
type jobRun struct {
	j       Job
	req     *wire.Request
	targets []*JobResult
	byAgent map[string]*JobResult
	cancels map[string]context.CancelFunc
	// unsent counts the targets that ended and whose event is not
	// published yet: the job is done after them.
	unsent int
	// n counts the targets by state as they change (Pending with the
	// offline ones; OfflineWaiting is not kept).
	n JobCounts
	// scan is the index of the first target that has not finished:
	// targets before it need no look.
	scan int
}

// setState moves t to state, keeping the counts up to date.
func (r *jobRun) setState(t *JobResult, state string) {
	r.count(t.State, -1)
	t.State = state
	r.count(state, 1)
}

func (r *jobRun) count(state string, d int) {
	switch state {
	case ResultPending:
		r.n.Pending += d
	case ResultRunning:
		r.n.Running += d
	case ResultSucceeded:
		r.n.Succeeded += d
	case ResultFailed:
		r.n.Failed += d
	case ResultCancelled:
		r.n.Cancelled += d
	}
}

func (r *jobRun) recount() {
	r.n = JobCounts{Total: len(r.targets)}
	for _, t := range r.targets {
		r.count(t.State, 1)
	}
}

// progress returns the counts without telling the offline targets from
// the pending ones: what events carry, at no cost per target.
func (r *jobRun) progress() JobCounts { return r.n }

func (r *jobRun) target(agent string) *JobResult {
	if r.byAgent == nil {
		r.byAgent = make(map[string]*JobResult, len(r.targets))
		for _, t := range r.targets {
			r.byAgent[t.Agent] = t
		}
	}
	return r.byAgent[agent]
}

func jobItem(j *Job) store.Item {
	x := *j
	x.Results, x.Agents = nil, nil
	data, _ := json.Marshal(x)
	return store.Item{Kind: "job", ID: j.ID, Data: data}
}

func jobTargetItem(job string, t *JobResult) store.Item {
	data, _ := json.Marshal(t)
	return store.Item{Kind: "job-target", ID: job + "/" + t.Agent, Data: data}
}

// loadJob takes a stored job or target; targets may come before their
// job, so they are attached in loadedJobs.
func (c *Controller) loadJob(it store.Item, targets map[string][]*JobResult) {
	switch it.Kind {
	case "job":
		var j Job
		if json.Unmarshal(it.Data, &j) != nil || j.ID == "" {
			c.log.Warn("stored job unreadable, skipped", "id", it.ID)
			return
		}
		m, err := record.ParseMsgJSON(j.Msg)
		if err != nil || m.GetBody().GetRequest() == nil {
			c.log.Warn("stored job's request unreadable, skipped", "job", j.ID, "err", err)
			return
		}
		c.fleet.jobs[j.ID] = &jobRun{j: j, req: m.GetBody().GetRequest(), cancels: map[string]context.CancelFunc{}}
	case "job-target":
		var t JobResult
		if json.Unmarshal(it.Data, &t) == nil {
			id, _, _ := strings.Cut(it.ID, "/")
			targets[id] = append(targets[id], &t)
		}
	}
}

// loadedJobs attaches targets to their jobs; a target that was running
// when the Controller stopped is pending again: its request is sent anew
// (so a job's request is sent at least once to each Agent, and may be
// sent twice to one that was being asked at the stop).
func (c *Controller) loadedJobs(targets map[string][]*JobResult) {
	c.fleet.init()
	for id, ts := range targets {
		r := c.fleet.jobs[id]
		if r == nil {
			continue
		}
		slices.SortFunc(ts, func(a, b *JobResult) int { return a.Index - b.Index })
		for _, t := range ts {
			if t.State == ResultRunning {
				t.State, t.Message = ResultPending, "controller restarted during the request"
			}
		}
		r.targets = ts
	}
	for _, r := range c.fleet.jobs {
		r.recount()
	}
}

// validate fills in a spec's defaults and checks it.
func (s *JobSpec) validate(now time.Time, ttl time.Duration) error {
	switch s.Kind {
	case JobGet, JobSet, JobAdd, JobDelete, JobOperate, JobSubscribe:
	default:
		return fmt.Errorf("%w: kind %q: want get, set, add, delete, operate or subscribe", ErrFleetSpec, s.Kind)
	}
	if (s.Group == "") == (len(s.Agents) == 0) {
		return fmt.Errorf("%w: give a group or a list of agents (one of them)", ErrFleetSpec)
	}
	if s.Concurrency < 0 || s.Concurrency > maxJobConcurrency {
		return fmt.Errorf("%w: concurrency %d: want 1 to %d (0 means 50)", ErrFleetSpec, s.Concurrency, maxJobConcurrency)
	}
	if s.Concurrency == 0 {
		s.Concurrency = 50
	}
	switch {
	case s.RetryFor < 0:
		return fmt.Errorf("%w: negative retry_for", ErrFleetSpec)
	case !s.Deadline.IsZero() && s.RetryFor != 0:
		return fmt.Errorf("%w: give a deadline or retry_for, not both", ErrFleetSpec)
	case !s.Deadline.IsZero() && !s.Deadline.After(now):
		return fmt.Errorf("%w: deadline %s has passed", ErrFleetSpec, s.Deadline.Format(time.RFC3339))
	case s.Deadline.IsZero() && s.RetryFor > 0:
		s.Deadline = now.Add(time.Duration(s.RetryFor))
	case s.Deadline.IsZero():
		s.Deadline = now.Add(ttl)
	}
	s.Deadline = s.Deadline.UTC()
	return nil
}

// CreateJob starts a job: req is sent to every target, at most
// Concurrency at a time, each as soon as its Agent is online, until the
// deadline.
func (c *Controller) CreateJob(ctx context.Context, spec JobSpec, req *wire.Request) (Job, error) {
	now := time.Now().UTC()
	if err := spec.validate(now, c.opt.QueueTTL); err != nil {
		return Job{}, err
	}
	if req == nil || req.GetReqType() == nil {
		return Job{}, fmt.Errorf("%w: no request", ErrFleetSpec)
	}
	ids := spec.Agents
	if spec.Group != "" {
		members, err := c.members(ctx, AgentFilter{Group: spec.Group})
		if err != nil {
			return Job{}, err
		}
		// Agents waiting for an operator's approval are not sent
		// anything (Options.Admission): a group's job leaves them out.
		ids = make([]string, 0, len(members))
		c.mu.Lock()
		for _, id := range members {
			if a := c.agents[id]; a != nil && !a.Pending {
				ids = append(ids, id)
			}
		}
		c.mu.Unlock()
	}
	if len(ids) == 0 {
		return Job{}, fmt.Errorf("%w: no target agents", ErrFleetSpec)
	}
	msg, err := record.MsgJSON(&wire.Msg{Header: &wire.Header{MsgId: "job", MsgType: wire.RequestMsgType(req)},
		Body: &wire.Body{MsgBody: &wire.Body_Request{Request: req}}})
	if err != nil {
		return Job{}, fmt.Errorf("%w: request: %w", ErrFleetSpec, err)
	}
	r := &jobRun{req: req, cancels: map[string]context.CancelFunc{}}
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			return Job{}, fmt.Errorf("%w: agent %s listed twice", ErrFleetSpec, id)
		}
		seen[id] = true
		if _, ok := c.Agent(id); !ok {
			return Job{}, fmt.Errorf("%w: %s", ErrUnknownAgent, id)
		}
		r.targets = append(r.targets, &JobResult{Agent: id, Index: len(r.targets), State: ResultPending})
	}
	spec.Agents = nil
	r.recount()
	r.j = Job{ID: newFleetID(), JobSpec: spec, State: JobRunning, Created: now, Msg: msg}
	b := &store.Batch{}
	for _, t := range r.targets {
		b.PutItems = append(b.PutItems, jobTargetItem(r.j.ID, t))
	}
	b.PutItems = append(b.PutItems, jobItem(&r.j))
	c.fleet.persist.Lock()
	err = c.opt.Store.Apply(ctx, b)
	if err == nil {
		c.fleet.mu.Lock()
		c.fleet.init()
		c.fleet.jobs[r.j.ID] = r
		c.fleet.mu.Unlock()
	}
	c.fleet.persist.Unlock()
	if err != nil {
		return Job{}, fmt.Errorf("controller: storing job: %w", err)
	}
	out, _ := c.Job(r.j.ID)
	out.Results = nil
	c.fleet.poke()
	return out, nil
}

// counts returns r's counts with the pending targets whose Agent is
// offline told apart; fleet.mu is held (c.mu is taken).
func (c *Controller) counts(r *jobRun) JobCounts {
	n := r.n
	if n.Pending == 0 {
		return n
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, t := range r.targets[min(r.scan, len(r.targets)):] {
		if t.State != ResultPending {
			continue
		}
		if a := c.agents[t.Agent]; a == nil || !a.Online {
			n.OfflineWaiting++
			n.Pending--
		}
	}
	return n
}

// Jobs returns every job and every campaign (as a job of kind campaign),
// newest first, without per-agent results.
func (c *Controller) Jobs() []Job {
	c.fleet.mu.Lock()
	c.fleet.init()
	out := make([]Job, 0, len(c.fleet.jobs))
	for _, r := range c.fleet.jobs {
		x := r.j
		x.Counts = c.counts(r)
		out = append(out, x)
	}
	c.fleet.mu.Unlock()
	for _, cp := range c.Campaigns() {
		out = append(out, campaignJob(&cp))
	}
	slices.SortFunc(out, func(a, b Job) int {
		if n := b.Created.Compare(a.Created); n != 0 {
			return n
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out
}

// campaignJob shows a campaign as a job.
func campaignJob(cp *Campaign) Job {
	state := JobRunning
	switch cp.State {
	case CampaignCompleted:
		state = JobCompleted
	case CampaignAborted:
		state = JobCancelled
	case CampaignPaused:
		state = CampaignPaused
	}
	n := cp.Counts
	return Job{ID: cp.ID, JobSpec: JobSpec{Name: cp.Spec.Name, Kind: JobCampaign, Concurrency: cp.Spec.Rollout.Concurrency},
		State: state, Created: cp.Created, Ended: cp.Ended, Link: "/api/v1/campaigns/" + cp.ID,
		Counts: JobCounts{Total: n.Total, Pending: n.Pending - n.Offline, Running: n.Running, Succeeded: n.Succeeded,
			Failed: n.Failed, OfflineWaiting: n.Offline, Cancelled: n.Aborted}}
}

// Job returns one job with its per-agent results; the ID of a campaign
// returns it as a job, without results (follow Link).
func (c *Controller) Job(id string) (Job, error) {
	c.fleet.mu.Lock()
	c.fleet.init()
	r := c.fleet.jobs[id]
	if r == nil {
		c.fleet.mu.Unlock()
		if cp, err := c.Campaign(id); err == nil {
			return campaignJob(&cp), nil
		}
		return Job{}, fmt.Errorf("%w: %s", ErrUnknownJob, id)
	}
	defer c.fleet.mu.Unlock()
	out := r.j
	out.Counts = c.counts(r)
	out.Results = make([]JobResult, len(r.targets))
	for i, t := range r.targets {
		out.Results[i] = *t
	}
	return out, nil
}

// CancelJob ends a running job: no request starts any more, those in
// flight are no longer waited for, and every unfinished target is
// cancelled.
func (c *Controller) CancelJob(ctx context.Context, id string) (Job, error) {
	c.fleet.persist.Lock()
	c.fleet.mu.Lock()
	c.fleet.init()
	r := c.fleet.jobs[id]
	if r == nil {
		c.fleet.mu.Unlock()
		c.fleet.persist.Unlock()
		return Job{}, fmt.Errorf("%w: %s", ErrUnknownJob, id)
	}
	if r.j.State != JobRunning {
		state := r.j.State
		c.fleet.mu.Unlock()
		c.fleet.persist.Unlock()
		return Job{}, fmt.Errorf("%w: job is %s", ErrJobState, state)
	}
	now := time.Now().UTC()
	b := &store.Batch{}
	for _, t := range r.targets {
		if t.finished() {
			continue
		}
		if cancel := r.cancels[t.Agent]; cancel != nil {
			cancel()
			delete(r.cancels, t.Agent)
		}
		r.setState(t, ResultCancelled)
		t.Message, t.Ended = "job cancelled", now
		b.PutItems = append(b.PutItems, jobTargetItem(id, t))
	}
	r.j.State, r.j.Ended = JobCancelled, now
	b.PutItems = append(b.PutItems, jobItem(&r.j))
	x := r.j
	x.Counts = c.counts(r)
	c.fleet.mu.Unlock()
	err := c.opt.Store.Apply(context.WithoutCancel(ctx), b)
	c.fleet.persist.Unlock()
	if err != nil {
		c.log.WarnContext(ctx, "cancelled job not persisted", "job", id, "err", err)
	}
	c.jobEvent(ctx, "job.done", "", &x, "")
	return x, nil
}

// DeleteJob forgets a job and its per-agent results, cancelling it first
// if it runs. A campaign is deleted with DeleteCampaign.
func (c *Controller) DeleteJob(ctx context.Context, id string) error {
	c.fleet.mu.Lock()
	c.fleet.init()
	r := c.fleet.jobs[id]
	running := r != nil && r.j.State == JobRunning
	c.fleet.mu.Unlock()
	if r == nil {
		return fmt.Errorf("%w: %s", ErrUnknownJob, id)
	}
	if running {
		if _, err := c.CancelJob(ctx, id); err != nil && !errors.Is(err, ErrJobState) {
			return err
		}
	}
	c.fleet.persist.Lock()
	defer c.fleet.persist.Unlock()
	c.fleet.mu.Lock()
	delete(c.fleet.jobs, id)
	b := &store.Batch{DeleteItems: []store.Item{{Kind: "job", ID: id}}}
	for _, t := range r.targets {
		b.DeleteItems = append(b.DeleteItems, store.Item{Kind: "job-target", ID: id + "/" + t.Agent})
	}
	c.fleet.mu.Unlock()
	if err := c.opt.Store.Apply(ctx, b); err != nil {
		return fmt.Errorf("controller: deleting job: %w", err)
	}
	return nil
}

// jobEvent publishes a job's progress (kind job.progress, for one
// Agent's result) or its end (job.done) on the event stream.
func (c *Controller) jobEvent(ctx context.Context, kind, agent string, x *Job, state string) {
	body := map[string]any{"job": x.ID, "state": x.State, "counts": x.Counts}
	if agent != "" {
		body["result"] = state
	}
	data, _ := json.Marshal(body)
	if err := c.event(context.WithoutCancel(ctx), Event{Agent: agent, Kind: kind, Msg: data}); err != nil {
		c.log.WarnContext(ctx, "job event not stored", "job", x.ID, "err", err)
	}
}
