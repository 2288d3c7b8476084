package controller

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/uspkit/uspkit/store"
	"github.com/uspkit/uspkit/wire"
)

// maxOfflineRetries is how often a target whose Agent went away while its
// upgrade was being started goes back to pending before it fails.
const maxOfflineRetries = 3

// runCampaigns schedules the campaigns until ctx ends. An upgrade in
// progress when ctx ends is left running in the store: the next start
// looks at it again.
func (c *Controller) runCampaigns(ctx context.Context) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var wg sync.WaitGroup
	defer c.writeEnded(context.WithoutCancel(ctx))
	defer wg.Wait()
	for {
		c.scheduleCampaigns(ctx, &wg)
		select {
		case <-ctx.Done():
			return
		case <-c.camps.wake:
		case <-tick.C:
		}
	}
}

// scheduleCampaigns starts what the running campaigns allow, and moves
// them from stage to stage.
func (c *Controller) scheduleCampaigns(ctx context.Context, wg *sync.WaitGroup) {
	if ctx.Err() != nil {
		return
	}
	type started struct {
		r *campaignRun
		t Target
	}
	var starts []started
	var changed []Campaign
	var whats []string
	var targets []store.Item
	// online is called with c.mu held.
	online := func(id string) bool { a := c.agents[id]; return a != nil && a.Online && !a.Pending }
	c.camps.mu.Lock()
	for _, r := range c.camps.byID {
		if r.c.State != CampaignRunning {
			continue
		}
		running := r.c.Counts.Running
		for r.scan < len(r.targets) && r.targets[r.scan].finished() {
			r.scan++
		}
		end := min(r.c.StageEnd, len(r.targets))
		lo := min(r.scan, end)
		for _, t := range r.targets[lo:end] {
			if running >= r.c.Spec.Rollout.Concurrency {
				break
			}
			if t.State != TargetPending || c.camps.waiting[t.Agent] != nil {
				continue
			}
			c.mu.Lock()
			up := online(t.Agent)
			c.mu.Unlock()
			if !up {
				continue
			}
			r.setState(t, TargetRunning)
			t.Attempts, t.Started = t.Attempts+1, time.Now().UTC()
			c.camps.waiting[t.Agent] = make(chan *wire.Notify, 32)
			running++
			starts = append(starts, started{r, *t})
			targets = append(targets, targetItem(r.c.ID, t))
		}
		if running > 0 {
			continue
		}
		// Nothing runs: the stage is over once every target in it has
		// finished or waits offline.
		open := false
		for _, t := range r.targets[lo:end] {
			if t.State == TargetPending && c.camps.waiting[t.Agent] == nil {
				c.mu.Lock()
				up := online(t.Agent)
				c.mu.Unlock()
				if up {
					open = true
					break
				}
			}
		}
		if open {
			continue
		}
		if reason := r.failureRateExceeded(true); reason != "" {
			r.c.State, r.c.Reason = CampaignPaused, reason
			changed, whats = append(changed, r.c), append(whats, "paused")
			continue
		}
		if end < len(r.targets) {
			r.c.Stage++
			r.c.StageEnd = r.c.Spec.stageEnd(r.c.Stage, len(r.targets))
			changed, whats = append(changed, r.c), append(whats, "stage")
			c.camps.poke()
			continue
		}
		if r.c.Counts.Pending == 0 && r.unsent == 0 {
			r.c.State, r.c.Ended = CampaignCompleted, time.Now().UTC()
			changed, whats = append(changed, r.c), append(whats, "completed")
		}
	}
	// Targets that ended go first: a target started again (its Agent
	// came back) is stored as running after its earlier end.
	targets = append(c.camps.ended, targets...)
	c.camps.ended = nil
	var launch []func()
	for _, s := range starts {
		ctx, cancel := context.WithCancel(ctx)
		s.r.cancels[s.t.Agent] = cancel
		spec := s.r.c.Spec
		id := s.r.c.ID
		ch := c.camps.waiting[s.t.Agent]
		launch = append(launch, func() {
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer cancel()
				res := c.upgrade(ctx, id, &spec, s.t, ch)
				c.finishTarget(ctx, id, s.t.Agent, ch, res)
			}()
		})
	}
	c.camps.mu.Unlock()
	// The targets are stored as running before their upgrades start, so
	// that an upgrade's end is always stored after its start.
	if len(targets) > 0 {
		if err := c.opt.Store.Apply(context.WithoutCancel(ctx), &store.Batch{PutItems: targets}); err != nil {
			c.log.WarnContext(ctx, "campaign targets not persisted", "err", err)
		}
	}
	for _, f := range launch {
		f()
	}
	for i := range changed {
		c.persistCampaign(ctx, &changed[i])
		c.campaignEvent(ctx, "", &changed[i], whats[i])
	}
}

// failureRateExceeded says why the campaign must pause, or "": the share
// of failures among the targets finished since the campaign started or
// was last resumed is over MaxFailureRate, once MinSample have finished
// (or at the end of a stage). counts must be fresh.
func (r *campaignRun) failureRateExceeded(stageEnd bool) string {
	ro := r.c.Spec.Rollout
	finished := r.c.Counts.Succeeded + r.c.Counts.Failed - r.c.BaseFinished
	failed := r.c.Counts.Failed - r.c.BaseFailed
	switch {
	case ro.MaxFailureRate == 0 || failed <= 0:
		return ""
	case ro.MaxFailureRate < 0:
		return fmt.Sprintf("%d failed", failed)
	case finished < ro.MinSample && !stageEnd:
		return ""
	}
	if rate := float64(failed) / float64(finished); rate > ro.MaxFailureRate {
		return fmt.Sprintf("failure rate %.1f%% (%d of %d) over the maximum %.1f%%", 100*rate, failed, finished, 100*ro.MaxFailureRate)
	}
	return ""
}

// upgradeResult is how one target's upgrade ended.
type upgradeResult struct {
	state, reason string
	from, to      string
	// retry sends the target back to pending (the Agent went away).
	retry bool
	// stopped means the upgrade was given up because its context ended
	// (the Controller stopping, or the campaign aborted): nothing is
	// recorded.
	stopped bool
}

// finishTarget records the end of one target's upgrade.
func (c *Controller) finishTarget(ctx context.Context, id, agent string, ch chan *wire.Notify, res upgradeResult) {
	c.camps.mu.Lock()
	if c.camps.waiting[agent] == ch {
		delete(c.camps.waiting, agent)
	}
	r := c.camps.byID[id]
	if r == nil || res.stopped {
		c.camps.mu.Unlock()
		return
	}
	delete(r.cancels, agent)
	t := r.target(agent)
	if t == nil || t.State != TargetRunning {
		c.camps.mu.Unlock()
		return
	}
	if res.from != "" {
		t.FromVersion = res.from
	}
	t.ToVersion, t.Reason = res.to, res.reason
	if res.retry && t.Attempts < maxOfflineRetries {
		r.setState(t, TargetPending)
	} else {
		r.setState(t, res.state)
		t.Ended = time.Now().UTC()
	}
	item := targetItem(id, t)
	paused := false
	if t.State == TargetFailed && r.c.State == CampaignRunning {
		if reason := r.failureRateExceeded(false); reason != "" {
			r.c.State, r.c.Reason, paused = CampaignPaused, reason, true
		}
	}
	c.camps.ended = append(c.camps.ended, item)
	x := r.c
	state := t.State
	if state != TargetPending {
		r.unsent++
	}
	c.camps.mu.Unlock()
	// The result is kept even when the Controller is stopping.
	ctx = context.WithoutCancel(ctx)
	if state != TargetPending {
		c.campaignEvent(ctx, agent, &x, state)
		c.camps.mu.Lock()
		r.unsent--
		c.camps.mu.Unlock()
	}
	if paused {
		c.persistCampaign(ctx, &x)
		c.campaignEvent(ctx, "", &x, "paused")
	}
	c.camps.poke()
}

// writeEnded stores the targets that ended and are not stored yet: when
// the Controller stops. (Until then the scheduler writes them in batches;
// a target whose end is lost in a crash is stored as running, and is
// looked at again at the next start.)
func (c *Controller) writeEnded(ctx context.Context) {
	c.camps.mu.Lock()
	items := c.camps.ended
	c.camps.ended = nil
	c.camps.mu.Unlock()
	if len(items) > 0 {
		if err := c.opt.Store.Apply(ctx, &store.Batch{PutItems: items}); err != nil {
			c.log.WarnContext(ctx, "campaign targets not persisted", "err", err)
		}
	}
}

// campaignNotify hands a Notify to the upgrade in progress on its Agent.
func (c *Controller) campaignNotify(from string, n *wire.Notify) {
	c.camps.mu.Lock()
	ch := c.camps.waiting[from]
	c.camps.mu.Unlock()
	if ch != nil {
		select {
		case ch <- n:
		default:
			c.log.Warn("campaign: notification dropped, too many unread", "agent", from)
		}
	}
}

// campaignSubscriptions are the subscriptions an upgrade needs to hear of
// its end: OperationComplete of the commands, the Agent's Boot! and
// TransferComplete! (firmware) or DUStateChange! (software).
func campaignSubscriptions(kind string) []Subscription {
	subs := []Subscription{opSubscription()}
	if kind == KindFirmware {
		return append(subs,
			Subscription{ID: "uspkit-boot", NotifType: "Event", ReferenceList: "Device.Boot!"},
			Subscription{ID: "uspkit-transfer-complete", NotifType: "Event", ReferenceList: "Device.LocalAgent.TransferComplete!"})
	}
	return append(subs, Subscription{ID: "uspkit-du-state-change", NotifType: "Event", ReferenceList: "Device.SoftwareModules.DUStateChange!"})
}

// upgrade runs one target's upgrade to its end.
func (c *Controller) upgrade(ctx context.Context, campaign string, spec *CampaignSpec, t Target, ch chan *wire.Notify) upgradeResult {
	deadline := time.Now().Add(time.Duration(spec.Rollout.Timeout))
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	fail := func(format string, a ...any) upgradeResult {
		return upgradeResult{state: TargetFailed, reason: fmt.Sprintf(format, a...)}
	}
	stepCtx := func() (context.Context, context.CancelFunc) { return context.WithTimeout(ctx, c.opt.RequestTimeout) }
	sctx, scancel := stepCtx()
	err := c.createSubscriptions(sctx, t.Agent, campaignSubscriptions(spec.Kind))
	scancel()
	if r, done := c.stepFailed(ctx, err, "subscriptions"); done {
		return r
	}
	key := "uspkit-campaign-" + campaign
	bank, from := "", ""
	if spec.Kind == KindFirmware {
		sctx, scancel := stepCtx()
		st, err := c.firmwareState(sctx, t.Agent)
		scancel()
		if r, done := c.stepFailed(ctx, err, "reading firmware state"); done {
			return r
		}
		from = st.version
		activation := spec.AutoActivate || spec.Activate
		switch {
		case spec.Version != "" && st.version == spec.Version:
			return upgradeResult{state: TargetSucceeded, reason: "already at " + spec.Version, from: cmpStr(t.FromVersion, from), to: st.version}
		case activation && spec.Version == "" && t.FromVersion != "" && st.version != t.FromVersion:
			// Upgraded while the Controller was away.
			return upgradeResult{state: TargetSucceeded, reason: "SoftwareVersion changed from " + t.FromVersion, from: t.FromVersion, to: st.version}
		}
		if t.FromVersion == "" {
			c.noteFromVersion(ctx, campaign, t.Agent, from)
		}
		if bank = st.inactiveBank(); bank == "" {
			return fail("no inactive Device.DeviceInfo.FirmwareImage bank")
		}
	}
	res := c.follow(ctx, spec, t.Agent, bank, key, ch)
	if res.from == "" {
		res.from = cmpStr(t.FromVersion, from)
	}
	return res
}

// stepFailed turns the error of a request into a result: a target whose
// Agent went away goes back to pending, a context ended stops the upgrade.
func (c *Controller) stepFailed(ctx context.Context, err error, what string) (upgradeResult, bool) {
	switch {
	case err == nil:
		return upgradeResult{}, false
	case ctx.Err() != nil && !errors.Is(ctx.Err(), context.DeadlineExceeded):
		return upgradeResult{stopped: true}, true
	case errors.Is(err, ErrQueued), errors.Is(err, ErrTimeout), errors.Is(err, errNoRoute):
		return upgradeResult{state: TargetFailed, retry: true, reason: fmt.Sprintf("%s: agent went away (%v)", what, err)}, true
	}
	return upgradeResult{state: TargetFailed, reason: fmt.Sprintf("%s: %v", what, err)}, true
}

// follow sends the command that starts the upgrade and follows it to its
// end through the Agent's notifications: an asynchronous command names
// its Request object in the OperateResp and ends with an OperationComplete
// [R-OPR.0], which carries the campaign's command key; a firmware
// activation ends with the Boot! the TR-369 firmware management appendix
// describes (FirmwareUpdated true when the new image runs).
func (c *Controller) follow(ctx context.Context, spec *CampaignSpec, agent, bank, key string, ch chan *wire.Notify) upgradeResult {
	fail := func(format string, a ...any) upgradeResult {
		return upgradeResult{state: TargetFailed, reason: fmt.Sprintf(format, a...)}
	}
	operate := func(req *wire.Request) (done bool, r upgradeResult) {
		sctx, cancel := context.WithTimeout(ctx, c.opt.RequestTimeout)
		m, err := c.Do(sctx, agent, req)
		cancel()
		if err == nil {
			err = respErr(m, nil)
		}
		what := req.GetOperate().GetCommand()
		if r, done := c.stepFailed(ctx, err, what); done {
			return true, r
		}
		for _, or := range m.GetBody().GetResponse().GetOperateResp().GetOperationResults() {
			if f := or.GetCmdFailure(); f != nil {
				return true, fail("%s: error %d: %s", what, f.GetErrCode(), f.GetErrMsg())
			}
			if or.GetReqOutputArgs() != nil {
				return false, upgradeResult{state: TargetSucceeded} // completed at once
			}
		}
		return false, upgradeResult{}
	}
	done, r := operate(spec.request(bank, key))
	if done {
		return r
	}
	if spec.Kind == KindSoftware && r.state == TargetSucceeded {
		return r
	}
	downloaded := spec.Kind == KindFirmware && r.state == TargetSucceeded
	activating := spec.AutoActivate
	activate := func() (bool, upgradeResult) {
		activating = true
		req := &wire.Request{ReqType: &wire.Request_Operate{Operate: &wire.Operate{Command: bank + "Activate()", CommandKey: key, SendResp: true,
			InputArgs: map[string]string{"TimeWindow.1.Start": "0", "TimeWindow.1.End": "3600", "TimeWindow.1.Mode": "Immediately"}}}}
		return operate(req)
	}
	if downloaded && !spec.AutoActivate {
		if !spec.Activate {
			return upgradeResult{state: TargetSucceeded, reason: "downloaded to " + bank}
		}
		if done, r := activate(); done {
			return r
		}
	}
	for {
		var n *wire.Notify
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fail("no result within %v", time.Duration(spec.Rollout.Timeout))
			}
			return upgradeResult{stopped: true}
		case n = <-ch:
		}
		if oc := n.GetOperComplete(); oc != nil && oc.GetCommandKey() == key {
			cmd := oc.GetObjPath() + oc.GetCommandName()
			if f := oc.GetCmdFailure(); f != nil {
				return fail("%s: error %d: %s", cmd, f.GetErrCode(), f.GetErrMsg())
			}
			switch {
			case spec.Kind == KindSoftware && strings.HasSuffix(cmd, "InstallDU()"):
				return upgradeResult{state: TargetSucceeded}
			case strings.HasSuffix(cmd, "Download()") && !downloaded:
				downloaded = true
				if spec.AutoActivate {
					continue
				}
				if !spec.Activate {
					return upgradeResult{state: TargetSucceeded, reason: "downloaded to " + bank}
				}
				if done, r := activate(); done {
					return r
				}
			}
			continue
		}
		ev := n.GetEvent()
		if ev == nil {
			continue
		}
		p := ev.GetParams()
		switch ev.GetObjPath() + ev.GetEventName() {
		case "Device.LocalAgent.TransferComplete!":
			if p["CommandKey"] == key && p["FaultCode"] != "" && p["FaultCode"] != "0" {
				return fail("TransferComplete! fault %s: %s", p["FaultCode"], p["FaultString"])
			}
		case "Device.SoftwareModules.DUStateChange!":
			if p["CommandKey"] == key && p["Fault.FaultCode"] != "" && p["Fault.FaultCode"] != "0" {
				return fail("DUStateChange! fault %s: %s", p["Fault.FaultCode"], p["Fault.FaultString"])
			}
		case "Device.Boot!":
			if spec.Kind != KindFirmware {
				continue
			}
			if p["FirmwareUpdated"] == "true" || p["FirmwareUpdated"] == "1" {
				return c.verifyVersion(ctx, spec, agent)
			}
			if activating && downloaded {
				return fail("booted again without the new firmware (Boot! FirmwareUpdated false, cause %s)", p["Cause"])
			}
		}
	}
}

// verifyVersion reads the SoftwareVersion an Agent booted with; it must be
// the campaign's Version, if one is given.
func (c *Controller) verifyVersion(ctx context.Context, spec *CampaignSpec, agent string) upgradeResult {
	sctx, cancel := context.WithTimeout(ctx, c.opt.RequestTimeout)
	defer cancel()
	st, err := c.firmwareState(sctx, agent)
	if err != nil {
		if ctx.Err() != nil && !errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return upgradeResult{stopped: true}
		}
		if spec.Version != "" {
			return upgradeResult{state: TargetFailed, reason: fmt.Sprintf("booted with new firmware, SoftwareVersion not read: %v", err)}
		}
		return upgradeResult{state: TargetSucceeded, reason: "booted with new firmware"}
	}
	if spec.Version != "" && st.version != spec.Version {
		return upgradeResult{state: TargetFailed, reason: fmt.Sprintf("booted with SoftwareVersion %q, want %q", st.version, spec.Version), to: st.version}
	}
	return upgradeResult{state: TargetSucceeded, to: st.version}
}

// firmware is what an Agent says of its firmware.
type firmware struct {
	version string
	active  string
	images  map[string]string // FirmwareImage path → Status
}

func (c *Controller) firmwareState(ctx context.Context, agent string) (firmware, error) {
	m, err := c.Do(ctx, agent, &wire.Request{ReqType: &wire.Request_Get{Get: &wire.Get{ParamPaths: []string{
		"Device.DeviceInfo.SoftwareVersion", "Device.DeviceInfo.ActiveFirmwareImage", "Device.DeviceInfo.FirmwareImage.*.Status"}}}})
	if err := respErr(m, err); err != nil {
		return firmware{}, err
	}
	st := firmware{images: map[string]string{}}
	for _, rp := range m.GetBody().GetResponse().GetGetResp().GetReqPathResults() {
		for _, r := range rp.GetResolvedPathResults() {
			for k, v := range r.GetResultParams() {
				switch k {
				case "SoftwareVersion":
					st.version = v
				case "ActiveFirmwareImage":
					st.active = v
				case "Status":
					st.images[r.GetResolvedPath()] = v
				}
			}
		}
	}
	return st, nil
}

// inactiveBank picks the FirmwareImage to download into: the first, by
// instance number, that is neither the active one nor marked Active.
func (f firmware) inactiveBank() string {
	paths := make([]string, 0, len(f.images))
	for p := range f.images {
		paths = append(paths, p)
	}
	slices.SortFunc(paths, func(a, b string) int {
		if len(a) != len(b) {
			return len(a) - len(b)
		}
		return strings.Compare(a, b)
	})
	for _, p := range paths {
		if f.images[p] != "Active" && strings.TrimSuffix(p, ".") != strings.TrimSuffix(f.active, ".") {
			return p
		}
	}
	return ""
}

func cmpStr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// noteFromVersion keeps the SoftwareVersion a target had before its
// upgrade, so that a Controller restarted during the upgrade can tell it
// happened.
func (c *Controller) noteFromVersion(ctx context.Context, campaign, agent, from string) {
	c.camps.mu.Lock()
	var item *store.Item
	if r := c.camps.byID[campaign]; r != nil {
		if t := r.target(agent); t != nil && t.State == TargetRunning {
			t.FromVersion = from
			it := targetItem(campaign, t)
			item = &it
		}
	}
	c.camps.mu.Unlock()
	if item != nil {
		if err := c.opt.Store.Apply(ctx, &store.Batch{PutItems: []store.Item{*item}}); err != nil {
			c.log.WarnContext(ctx, "campaign target not persisted", "campaign", campaign, "agent", agent, "err", err)
		}
	}
}
