package agent

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/uspkit/uspkit/schema"
)

// defineOnBoarding adds Device.LocalAgent.Controller.{i}.OnBoardingComplete
// and OnBoardingRestartTime. They come with USP 1.4 and TR-181 2.17, after
// the TR-181 2.16 document the rest of the model follows (the TR181 test
// lists them as newer): OnBoardingComplete, a boolean the Agent sets to
// false when SendOnBoardRequest() runs and the Controller (or the Agent)
// sets to true once on-boarding is done; OnBoardingRestartTime, the
// seconds to wait after the NotifyResp of an OnBoardRequest before sending
// another while OnBoardingComplete stays false, 0 for never.
func defineOnBoarding(m *schema.Model) {
	m.Extend("Device.LocalAgent.Controller.{i}.").
		Param("OnBoardingComplete", schema.Boolean(), schema.ReadWrite, schema.Default("false")).
		Param("OnBoardingRestartTime", schema.UnsignedInt(), schema.ReadWrite, schema.Default("0"))
}

// onboarding resends OnBoardRequest notifications (TR-369 "OnBoardRequest",
// [R-NOT.5] item 3): when a Controller acknowledges one with a NotifyResp
// while its OnBoardingComplete is false and its OnBoardingRestartTime is
// not 0, another is sent that many seconds later, and so on until
// OnBoardingComplete becomes true or OnBoardingRestartTime 0. The
// schedule lives in memory: after a restart, the next SendOnBoardRequest()
// starts it again.
type onboarding struct {
	a     *Agent
	kickc chan struct{}

	mu   sync.Mutex
	sent map[string]string    // OnBoardRequest msg_id awaiting its NotifyResp → Controller reference
	due  map[string]time.Time // Controller reference → when to send the next OnBoardRequest
}

// maxOnBoardPending bounds the OnBoardRequests remembered while they wait
// for a response (one per Controller is the usual count).
const maxOnBoardPending = 1024

func newOnboarding(a *Agent) *onboarding {
	return &onboarding{a: a, kickc: make(chan struct{}, 1), sent: map[string]string{}, due: map[string]time.Time{}}
}

// track remembers an OnBoardRequest sent to the Controller at ref.
func (o *onboarding) track(msgID, ref string) {
	if msgID == "" {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.sent) >= maxOnBoardPending {
		return
	}
	o.sent[msgID] = ref
	delete(o.due, ref) // a request is out again: the restart timer waits for its response
}

// acked handles the NotifyResp of a notification: for an OnBoardRequest,
// the OnBoardingRestartTime timer starts now.
func (o *onboarding) acked(ctx context.Context, msgID string) {
	o.mu.Lock()
	ref, ok := o.sent[msgID]
	delete(o.sent, msgID)
	o.mu.Unlock()
	if !ok {
		return
	}
	c := o.a.controllerByRef(ref)
	if c == nil || c.onboarded || c.restartTime == 0 {
		return
	}
	at := o.a.now().Add(time.Duration(c.restartTime) * time.Second)
	o.mu.Lock()
	o.due[ref] = at
	o.mu.Unlock()
	o.a.log.DebugContext(ctx, "OnBoardRequest acknowledged; next one unless on-boarding completes", "controller", ref, "at", at)
	o.kick()
}

// drop forgets an OnBoardRequest the Controller answered with an Error.
func (o *onboarding) drop(msgID string) {
	o.mu.Lock()
	delete(o.sent, msgID)
	o.mu.Unlock()
}

func (o *onboarding) kick() {
	select {
	case o.kickc <- struct{}{}:
	default:
	}
}

// run sends the OnBoardRequests when they are due until ctx ends.
func (o *onboarding) run(ctx context.Context) {
	for {
		t := time.NewTimer(o.untilNext())
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		case <-o.kickc:
			t.Stop()
		}
		o.sendDue(ctx)
	}
}

// untilNext is the time until the first scheduled OnBoardRequest, at most
// a minute (the schedule is also looked at on every kick).
func (o *onboarding) untilNext() time.Duration {
	wait := time.Minute
	now := o.a.now()
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, at := range o.due {
		wait = min(wait, max(at.Sub(now), 0))
	}
	return wait
}

// sendDue sends an OnBoardRequest to every Controller whose restart time
// has come and whose on-boarding is still not complete.
func (o *onboarding) sendDue(ctx context.Context) {
	now := o.a.now()
	o.mu.Lock()
	var refs []string
	for ref, at := range o.due {
		if !now.Before(at) {
			refs = append(refs, ref)
			delete(o.due, ref)
		}
	}
	o.mu.Unlock()
	slices.Sort(refs)
	for _, ref := range refs {
		c := o.a.controllerByRef(ref)
		if c == nil || !c.enabled || c.onboarded || c.restartTime == 0 {
			continue
		}
		o.a.log.InfoContext(ctx, "OnBoardingComplete still false: OnBoardRequest sent again", "controller", ref)
		o.a.onBoard(ctx, c)
	}
}

// startOnBoarding marks the Controller at ref as needing on-boarding:
// SendOnBoardRequest() sets its OnBoardingComplete to false [R-NOT.5]. It is
// the Agent's own update (Engine.Update): when the value is false already,
// as it is for every request after the first, that costs a look under the
// engine's read lock.
func (a *Agent) startOnBoarding(ctx context.Context, ref string) {
	ref = strings.TrimSuffix(ref, ".") + "."
	if err := a.eng.Update(ctx, ref, map[string]string{"OnBoardingComplete": "false"}); err != nil {
		a.log.WarnContext(ctx, "OnBoardingComplete not set to false", "controller", ref, "err", err)
	}
}
