package controller

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/uspkit/uspkit/store"
	"github.com/uspkit/uspkit/wire"
)

// Campaign kinds.
const (
	// KindFirmware downloads a firmware image into an inactive
	// Device.DeviceInfo.FirmwareImage.{i} bank and, when asked, activates it.
	KindFirmware = "firmware"
	// KindSoftware installs a Deployment Unit with
	// Device.SoftwareModules.InstallDU().
	KindSoftware = "software"
)

// Campaign states.
const (
	CampaignRunning   = "running"
	CampaignPaused    = "paused"
	CampaignAborted   = "aborted"
	CampaignCompleted = "completed"
)

// Per-agent states in a campaign.
const (
	TargetPending   = "pending"
	TargetRunning   = "running"
	TargetSucceeded = "succeeded"
	TargetFailed    = "failed"
	TargetAborted   = "aborted"
)

// Errors of the campaign methods.
var (
	// ErrUnknownCampaign is returned for a campaign ID never created.
	ErrUnknownCampaign = errors.New("controller: unknown campaign")
	// ErrCampaignState is returned for a transition the campaign's state
	// does not allow (resuming a completed campaign, say).
	ErrCampaignState = errors.New("controller: not allowed in the campaign's state")
	// ErrCampaignSpec is wrapped by the reasons a CampaignSpec is refused.
	ErrCampaignSpec = errors.New("controller: bad campaign")
)

// CampaignSpec says what a campaign does and to whom.
type CampaignSpec struct {
	// Name is a label for people.
	Name string `json:"name,omitempty"`
	// Kind is KindFirmware or KindSoftware.
	Kind string `json:"kind"`
	// Agents are the Endpoint IDs of the targets, in rollout order.
	Agents []string `json:"agents,omitempty"`
	// Selector, when Agents is empty, picks the targets among the known
	// Agents at creation.
	Selector *Selector `json:"selector,omitempty"`

	// URL is the image (firmware) or Deployment Unit (software).
	URL      string `json:"url"`
	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty"`
	// FileSize, CheckSumAlgorithm (SHA-1, SHA-224, SHA-256, SHA-384,
	// SHA-512) and CheckSum are handed to Download() as they are.
	FileSize          uint64 `json:"file_size,omitempty"`
	CheckSumAlgorithm string `json:"checksum_algorithm,omitempty"`
	CheckSum          string `json:"checksum,omitempty"`
	// AutoActivate is Download()'s AutoActivate: the Agent activates the
	// image itself once it is downloaded. Activate instead calls
	// Activate() on the bank once Download() has completed. With either,
	// an Agent has succeeded when it boots again with FirmwareUpdated
	// true (and Version, if given); with neither, when the download has
	// completed.
	AutoActivate bool `json:"auto_activate,omitempty"`
	Activate     bool `json:"activate,omitempty"`
	// Version, if set, is the SoftwareVersion an upgraded Agent reports;
	// an Agent already at it succeeds at once.
	Version string `json:"version,omitempty"`

	// UUID and ExecutionEnvRef are InstallDU()'s (software).
	UUID            string `json:"uuid,omitempty"`
	ExecutionEnvRef string `json:"execution_env_ref,omitempty"`

	Rollout Rollout `json:"rollout"`
}

// Selector picks Agents from the registry.
type Selector struct {
	// Match is a substring of the Endpoint ID ("" matches all).
	Match string `json:"match,omitempty"`
	// Info requires values of Device.DeviceInfo parameters as read at
	// first contact, by parameter name (ProductClass, ModelName…).
	Info map[string]string `json:"info,omitempty"`
	// Online restricts the selection to Agents online at creation.
	Online bool `json:"online,omitempty"`
}

// Rollout is a campaign's staged rollout: a canary stage, then waves;
// each stage starts when every target of the previous one has finished
// (or is offline, to be done when it returns).
type Rollout struct {
	// Canary is the size of the first stage; CanaryPercent, if Canary is
	// 0, gives it as a percentage of the targets (rounded up). Neither
	// means no canary.
	Canary        int     `json:"canary,omitempty"`
	CanaryPercent float64 `json:"canary_percent,omitempty"`
	// Wave is the size of each later stage; 0 means all the rest at once.
	Wave int `json:"wave,omitempty"`
	// Concurrency bounds the Agents upgraded at once; 0 means 50.
	Concurrency int `json:"concurrency,omitempty"`
	// MaxFailureRate pauses the campaign when the failed share of the
	// Agents finished since it started or was last resumed exceeds it,
	// judged once MinSample of them have finished or a stage ends; 0
	// never pauses, and any failure counts when it is negative.
	MaxFailureRate float64 `json:"max_failure_rate,omitempty"`
	// MinSample is 10 when 0.
	MinSample int `json:"min_sample,omitempty"`
	// Timeout bounds one Agent's upgrade, from the request to the end
	// (the Boot! after activation); 0 means 30 minutes. An Agent may take
	// up to 24 hours over an InstallDU() [R-SMM.1]: software campaigns
	// to slow devices want a longer one.
	Timeout Duration `json:"timeout,omitempty"`
}

// Duration is a time.Duration that reads and writes as "90s" in JSON.
type Duration time.Duration

// MarshalJSON writes d as a Go duration string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads a Go duration string or a number of nanoseconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		v, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("duration: %w", err)
		}
		*d = Duration(v)
		return nil
	}
	var n int64
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("duration: %w", err)
	}
	*d = Duration(n)
	return nil
}

// Campaign is a campaign's spec and progress.
type Campaign struct {
	ID      string       `json:"id"`
	Spec    CampaignSpec `json:"spec"`
	State   string       `json:"state"`
	Reason  string       `json:"reason,omitempty"`
	Created time.Time    `json:"created"`
	Ended   time.Time    `json:"ended,omitzero"`
	// Stage is the current stage, 0 for the canary (or the first wave).
	Stage int `json:"stage"`
	// StageEnd is how many targets, in order, the stages so far cover.
	StageEnd int            `json:"stage_end"`
	Counts   CampaignCounts `json:"counts"`
	// Base is what was finished when the campaign was last resumed: the
	// failure rate is judged on what finished since.
	BaseFinished int `json:"base_finished"`
	BaseFailed   int `json:"base_failed"`
	// Targets are the per-Agent results (only in Controller.Campaign).
	Targets []Target `json:"targets,omitempty"`
}

// CampaignCounts counts a campaign's targets by state.
type CampaignCounts struct {
	Total     int `json:"total"`
	Pending   int `json:"pending"`
	Running   int `json:"running"`
	Succeeded int `json:"succeeded"`
	Failed    int `json:"failed"`
	Aborted   int `json:"aborted"`
	// Offline counts the pending targets that are offline.
	Offline int `json:"offline"`
}

// Target is one Agent's part in a campaign.
type Target struct {
	Agent    string    `json:"agent"`
	Index    int       `json:"index"`
	State    string    `json:"state"`
	Reason   string    `json:"reason,omitempty"`
	Attempts int       `json:"attempts,omitempty"`
	Started  time.Time `json:"started,omitzero"`
	Ended    time.Time `json:"ended,omitzero"`
	// FromVersion and ToVersion are the Agent's SoftwareVersion before
	// and after (firmware).
	FromVersion string `json:"from_version,omitempty"`
	ToVersion   string `json:"to_version,omitempty"`
}

func (t *Target) finished() bool {
	return t.State == TargetSucceeded || t.State == TargetFailed || t.State == TargetAborted
}

// campaigns holds the Controller's campaigns.
type campaigns struct {
	mu   sync.Mutex
	byID map[string]*campaignRun
	// waiting routes an Agent's notifications to the upgrade in progress
	// there.
	waiting map[string]chan *wire.Notify
	// wake tells the scheduler that something changed.
	wake chan struct{}
	// persist orders the writes of campaigns.
	persist sync.Mutex
	// ended holds the targets whose upgrades ended since the scheduler
	// last wrote them; it writes them in one batch, before it starts
	// anything.
	ended []store.Item
}

// campaignRun is one campaign with its targets.
type campaignRun struct {
	c       Campaign
	targets []*Target
	cancels map[string]context.CancelFunc // running targets
	byAgent map[string]*Target
	// scan is the index of the first target that has not finished:
	// targets before it need no look.
	scan int
	// unsent counts the targets that ended and whose event is not
	// published yet: the campaign completes after them.
	unsent int
}

// target returns the target of agent, or nil.
func (r *campaignRun) target(agent string) *Target {
	if r.byAgent == nil {
		r.byAgent = make(map[string]*Target, len(r.targets))
		for _, t := range r.targets {
			r.byAgent[t.Agent] = t
		}
	}
	return r.byAgent[agent]
}

func (cs *campaigns) init() {
	if cs.byID == nil {
		cs.byID, cs.waiting, cs.wake = map[string]*campaignRun{}, map[string]chan *wire.Notify{}, make(chan struct{}, 1)
	}
}

func (cs *campaigns) poke() {
	select {
	case cs.wake <- struct{}{}:
	default:
	}
}

// load takes a stored campaign or target; targets may come before their
// campaign, so they are attached in loaded.
func (cs *campaigns) load(it store.Item, orphans map[string][]*Target) {
	cs.init()
	switch it.Kind {
	case "campaign":
		var c Campaign
		if json.Unmarshal(it.Data, &c) == nil && c.ID != "" {
			cs.byID[c.ID] = &campaignRun{c: c, cancels: map[string]context.CancelFunc{}}
		}
	case "campaign-target":
		var t Target
		if json.Unmarshal(it.Data, &t) == nil {
			id, _, _ := strings.Cut(it.ID, "/")
			orphans[id] = append(orphans[id], &t)
		}
	}
}

// loaded attaches targets to their campaigns; a target that was running
// when the Controller stopped is pending again (its upgrade is looked at
// anew: an Agent whose version changed meanwhile succeeds at once).
func (cs *campaigns) loaded(targets map[string][]*Target) {
	cs.init()
	for id, ts := range targets {
		r := cs.byID[id]
		if r == nil {
			continue
		}
		slices.SortFunc(ts, func(a, b *Target) int { return a.Index - b.Index })
		for _, t := range ts {
			if t.State == TargetRunning {
				t.State, t.Reason = TargetPending, "controller restarted during the upgrade"
			}
		}
		r.targets = ts
		r.recount()
	}
}

// setState moves t to state, keeping the counts up to date.
func (r *campaignRun) setState(t *Target, state string) {
	r.count(t.State, -1)
	t.State = state
	r.count(state, 1)
}

func (r *campaignRun) count(state string, d int) {
	n := &r.c.Counts
	switch state {
	case TargetPending:
		n.Pending += d
	case TargetRunning:
		n.Running += d
	case TargetSucceeded:
		n.Succeeded += d
	case TargetFailed:
		n.Failed += d
	case TargetAborted:
		n.Aborted += d
	}
}

func (r *campaignRun) recount() {
	n := CampaignCounts{Total: len(r.targets)}
	for _, t := range r.targets {
		switch t.State {
		case TargetPending:
			n.Pending++
		case TargetRunning:
			n.Running++
		case TargetSucceeded:
			n.Succeeded++
		case TargetFailed:
			n.Failed++
		case TargetAborted:
			n.Aborted++
		}
	}
	r.c.Counts = n
}

func newCampaignID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// validate fills in a spec's defaults and checks it.
func (s *CampaignSpec) validate() error {
	switch s.Kind {
	case KindFirmware, KindSoftware:
	default:
		return fmt.Errorf("%w: kind %q: want firmware or software", ErrCampaignSpec, s.Kind)
	}
	if s.URL == "" {
		return fmt.Errorf("%w: url is required", ErrCampaignSpec)
	}
	switch s.CheckSumAlgorithm {
	case "", "SHA-1", "SHA-224", "SHA-256", "SHA-384", "SHA-512":
	default:
		return fmt.Errorf("%w: checksum_algorithm %q: want SHA-1, SHA-224, SHA-256, SHA-384 or SHA-512", ErrCampaignSpec, s.CheckSumAlgorithm)
	}
	if (s.CheckSum == "") != (s.CheckSumAlgorithm == "") {
		return fmt.Errorf("%w: checksum and checksum_algorithm go together", ErrCampaignSpec)
	}
	ro := &s.Rollout
	if ro.Canary < 0 || ro.Wave < 0 || ro.Concurrency < 0 || ro.MinSample < 0 || ro.Timeout < 0 ||
		ro.CanaryPercent < 0 || ro.CanaryPercent > 100 || math.IsNaN(ro.CanaryPercent) || math.IsNaN(ro.MaxFailureRate) || ro.MaxFailureRate > 1 {
		return fmt.Errorf("%w: rollout: negative or out-of-range value", ErrCampaignSpec)
	}
	if ro.Concurrency == 0 {
		ro.Concurrency = 50
	}
	if ro.MinSample == 0 {
		ro.MinSample = 10
	}
	if ro.Timeout == 0 {
		ro.Timeout = Duration(30 * time.Minute)
	}
	return nil
}

// stageEnd returns how many targets the stages up to stage cover.
func (s *CampaignSpec) stageEnd(stage, total int) int {
	canary := s.Rollout.Canary
	if canary == 0 && s.Rollout.CanaryPercent > 0 {
		canary = int(math.Ceil(float64(total) * s.Rollout.CanaryPercent / 100))
	}
	end := 0
	if canary > 0 {
		end = canary
		if stage == 0 {
			return min(end, total)
		}
		stage--
	}
	if s.Rollout.Wave == 0 {
		return total
	}
	return min(total, end+(stage+1)*s.Rollout.Wave)
}

// request builds the Operate that starts the upgrade of one Agent: a
// Download() on bank (firmware) or InstallDU() (software). The command key
// names the campaign, so that its OperationComplete and TransferComplete!
// are told apart from others.
func (s *CampaignSpec) request(bank, key string) *wire.Request {
	args := map[string]string{"URL": s.URL}
	if s.Username != "" {
		args["Username"] = s.Username
	}
	if s.Password != "" {
		args["Password"] = s.Password
	}
	cmd := "Device.SoftwareModules.InstallDU()"
	if s.Kind == KindFirmware {
		cmd = bank + "Download()"
		args["AutoActivate"] = fmt.Sprint(s.AutoActivate)
		if s.FileSize > 0 {
			args["FileSize"] = fmt.Sprint(s.FileSize)
		}
		if s.CheckSum != "" {
			args["CheckSumAlgorithm"], args["CheckSum"] = s.CheckSumAlgorithm, s.CheckSum
		}
	} else {
		if s.UUID != "" {
			args["UUID"] = s.UUID
		}
		if s.ExecutionEnvRef != "" {
			args["ExecutionEnvRef"] = s.ExecutionEnvRef
		}
	}
	return &wire.Request{ReqType: &wire.Request_Operate{Operate: &wire.Operate{Command: cmd, CommandKey: key, SendResp: true, InputArgs: args}}}
}

// Request returns the Operate a campaign of spec sends to each Agent (on
// an example bank for firmware), for access checks.
func (s *CampaignSpec) Request() *wire.Request {
	return s.request("Device.DeviceInfo.FirmwareImage.1.", "")
}

// CreateCampaign starts a campaign.
func (c *Controller) CreateCampaign(ctx context.Context, spec CampaignSpec) (Campaign, error) {
	if err := spec.validate(); err != nil {
		return Campaign{}, err
	}
	ids := slices.Clone(spec.Agents)
	if len(ids) == 0 && spec.Selector != nil {
		ids = c.selectAgents(spec.Selector)
	}
	if len(ids) == 0 {
		return Campaign{}, fmt.Errorf("%w: no target agents", ErrCampaignSpec)
	}
	seen := map[string]bool{}
	r := &campaignRun{cancels: map[string]context.CancelFunc{}}
	for _, id := range ids {
		if seen[id] {
			return Campaign{}, fmt.Errorf("%w: agent %s listed twice", ErrCampaignSpec, id)
		}
		seen[id] = true
		if _, ok := c.Agent(id); !ok {
			return Campaign{}, fmt.Errorf("%w: %s", ErrUnknownAgent, id)
		}
		r.targets = append(r.targets, &Target{Agent: id, Index: len(r.targets), State: TargetPending})
	}
	spec.Agents, spec.Selector = ids, nil
	r.c = Campaign{ID: newCampaignID(), Spec: spec, State: CampaignRunning, Created: time.Now().UTC()}
	r.c.StageEnd = spec.stageEnd(0, len(r.targets))
	r.recount()
	b := &store.Batch{}
	for _, t := range r.targets {
		b.PutItems = append(b.PutItems, targetItem(r.c.ID, t))
	}
	b.PutItems = append(b.PutItems, campaignItem(&r.c))
	if err := c.opt.Store.Apply(ctx, b); err != nil {
		return Campaign{}, fmt.Errorf("controller: storing campaign: %w", err)
	}
	c.camps.mu.Lock()
	c.camps.init()
	c.camps.byID[r.c.ID] = r
	out := r.c
	c.camps.mu.Unlock()
	c.campaignEvent(ctx, "", &out, "created")
	c.camps.poke()
	return out, nil
}

// selectAgents returns the registered Agents sel picks, by ID.
func (c *Controller) selectAgents(sel *Selector) []string {
	var out []string
	for _, a := range c.Agents() {
		if a.Pending || !strings.Contains(a.ID, sel.Match) || (sel.Online && !a.Online) {
			continue
		}
		ok := true
		for k, v := range sel.Info {
			if a.Info[k] != v {
				ok = false
				break
			}
		}
		if ok {
			out = append(out, a.ID)
		}
	}
	return out
}

// Campaigns returns every campaign, newest first, without targets (nor
// the spec's list of agents: Counts.Total says how many).
func (c *Controller) Campaigns() []Campaign {
	c.camps.mu.Lock()
	defer c.camps.mu.Unlock()
	out := make([]Campaign, 0, len(c.camps.byID))
	for _, r := range c.camps.byID {
		r.recount()
		x := r.c
		x.Spec.Agents = nil
		x.Counts.Offline = c.offlinePending(r)
		out = append(out, x)
	}
	slices.SortFunc(out, func(a, b Campaign) int { return b.Created.Compare(a.Created) })
	return out
}

// Campaign returns one campaign with its targets.
func (c *Controller) Campaign(id string) (Campaign, error) {
	c.camps.mu.Lock()
	defer c.camps.mu.Unlock()
	r := c.camps.byID[id]
	if r == nil {
		return Campaign{}, fmt.Errorf("%w: %s", ErrUnknownCampaign, id)
	}
	r.recount()
	out := r.c
	out.Counts.Offline = c.offlinePending(r)
	out.Targets = make([]Target, len(r.targets))
	for i, t := range r.targets {
		out.Targets[i] = *t
	}
	return out, nil
}

// offlinePending counts r's pending targets that are offline; camps.mu is
// held.
func (c *Controller) offlinePending(r *campaignRun) int {
	n := 0
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, t := range r.targets {
		if a := c.agents[t.Agent]; t.State == TargetPending && (a == nil || !a.Online) {
			n++
		}
	}
	return n
}

// DeleteCampaign forgets a completed or aborted campaign and its
// per-agent results.
func (c *Controller) DeleteCampaign(ctx context.Context, id string) error {
	c.camps.mu.Lock()
	r := c.camps.byID[id]
	if r == nil {
		c.camps.mu.Unlock()
		return fmt.Errorf("%w: %s", ErrUnknownCampaign, id)
	}
	if r.c.State != CampaignCompleted && r.c.State != CampaignAborted {
		c.camps.mu.Unlock()
		return fmt.Errorf("%w: campaign is %s (abort it first)", ErrCampaignState, r.c.State)
	}
	delete(c.camps.byID, id)
	b := &store.Batch{DeleteItems: []store.Item{{Kind: "campaign", ID: id}}}
	for _, t := range r.targets {
		b.DeleteItems = append(b.DeleteItems, store.Item{Kind: "campaign-target", ID: id + "/" + t.Agent})
	}
	c.camps.mu.Unlock()
	c.camps.persist.Lock()
	defer c.camps.persist.Unlock()
	if err := c.opt.Store.Apply(ctx, b); err != nil {
		return fmt.Errorf("controller: deleting campaign: %w", err)
	}
	return nil
}

// PauseCampaign stops starting upgrades; those running go on.
func (c *Controller) PauseCampaign(ctx context.Context, id, reason string) (Campaign, error) {
	return c.campaignTransition(ctx, id, "paused", func(r *campaignRun) error {
		if r.c.State != CampaignRunning {
			return fmt.Errorf("%w: campaign is %s", ErrCampaignState, r.c.State)
		}
		r.c.State, r.c.Reason = CampaignPaused, reason
		return nil
	})
}

// ResumeCampaign restarts a paused campaign; the failure rate is judged
// afresh from now on. maxFailureRate, if not nil, replaces the spec's.
func (c *Controller) ResumeCampaign(ctx context.Context, id string, maxFailureRate *float64) (Campaign, error) {
	return c.campaignTransition(ctx, id, "resumed", func(r *campaignRun) error {
		if r.c.State != CampaignPaused {
			return fmt.Errorf("%w: campaign is %s", ErrCampaignState, r.c.State)
		}
		if maxFailureRate != nil {
			if v := *maxFailureRate; math.IsNaN(v) || v > 1 {
				return fmt.Errorf("%w: max_failure_rate %v", ErrCampaignSpec, v)
			}
			r.c.Spec.Rollout.MaxFailureRate = *maxFailureRate
		}
		r.recount()
		r.c.State, r.c.Reason = CampaignRunning, ""
		r.c.BaseFinished = r.c.Counts.Succeeded + r.c.Counts.Failed
		r.c.BaseFailed = r.c.Counts.Failed
		return nil
	})
}

// AbortCampaign ends a campaign: no upgrade starts any more, those
// running are no longer followed, and every unfinished target is
// aborted.
func (c *Controller) AbortCampaign(ctx context.Context, id string) (Campaign, error) {
	var stopped []*Target
	out, err := c.campaignTransition(ctx, id, "aborted", func(r *campaignRun) error {
		if r.c.State == CampaignAborted || r.c.State == CampaignCompleted {
			return fmt.Errorf("%w: campaign is %s", ErrCampaignState, r.c.State)
		}
		now := time.Now().UTC()
		for _, t := range r.targets {
			if !t.finished() {
				if cancel := r.cancels[t.Agent]; cancel != nil {
					cancel()
					delete(r.cancels, t.Agent)
				}
				t.State, t.Reason, t.Ended = TargetAborted, "campaign aborted", now
				stopped = append(stopped, t)
			}
		}
		r.c.State, r.c.Ended = CampaignAborted, now
		r.recount()
		return nil
	})
	if err == nil && len(stopped) > 0 {
		b := &store.Batch{}
		c.camps.mu.Lock()
		for _, t := range stopped {
			b.PutItems = append(b.PutItems, targetItem(id, t))
		}
		c.camps.mu.Unlock()
		if err := c.opt.Store.Apply(ctx, b); err != nil {
			c.log.WarnContext(ctx, "aborted targets not persisted", "campaign", id, "err", err)
		}
	}
	return out, err
}

func (c *Controller) campaignTransition(ctx context.Context, id, what string, f func(*campaignRun) error) (Campaign, error) {
	c.camps.mu.Lock()
	c.camps.init()
	r := c.camps.byID[id]
	if r == nil {
		c.camps.mu.Unlock()
		return Campaign{}, fmt.Errorf("%w: %s", ErrUnknownCampaign, id)
	}
	if err := f(r); err != nil {
		c.camps.mu.Unlock()
		return Campaign{}, err
	}
	out := r.c
	c.camps.mu.Unlock()
	c.persistCampaign(ctx, &out)
	c.campaignEvent(ctx, "", &out, what)
	c.camps.poke()
	return out, nil
}

func campaignItem(c *Campaign) store.Item {
	x := *c
	x.Targets = nil
	data, _ := json.Marshal(x)
	return store.Item{Kind: "campaign", ID: c.ID, Data: data}
}

func targetItem(campaign string, t *Target) store.Item {
	data, _ := json.Marshal(t)
	return store.Item{Kind: "campaign-target", ID: campaign + "/" + t.Agent, Data: data}
}

// persistCampaign stores campaign x.ID as it is now (not as x was when
// the caller copied it), writes in turn, so that the newest state is the
// one stored whatever order concurrent callers come in.
func (c *Controller) persistCampaign(ctx context.Context, x *Campaign) {
	c.camps.persist.Lock()
	defer c.camps.persist.Unlock()
	c.camps.mu.Lock()
	r := c.camps.byID[x.ID]
	var item store.Item
	if r != nil {
		item = campaignItem(&r.c)
	}
	c.camps.mu.Unlock()
	if r == nil {
		return // deleted meanwhile
	}
	if err := c.opt.Store.Apply(context.WithoutCancel(ctx), &store.Batch{PutItems: []store.Item{item}}); err != nil {
		c.log.WarnContext(ctx, "campaign not persisted", "campaign", x.ID, "err", err)
	}
}

// campaignEvent publishes a campaign's change: of the campaign as a whole
// (agent "") or of one target.
func (c *Controller) campaignEvent(ctx context.Context, agent string, x *Campaign, what string) {
	body := map[string]any{"campaign": x.ID, "change": what, "state": x.State, "counts": x.Counts}
	if x.Reason != "" {
		body["reason"] = x.Reason
	}
	data, _ := json.Marshal(body)
	if err := c.event(ctx, Event{Agent: agent, Kind: "campaign", Msg: data}); err != nil {
		c.log.WarnContext(ctx, "campaign event not stored", "campaign", x.ID, "err", err)
	}
}
