package agent

import (
	"context"
	"sync"
	"time"

	"github.com/uspkit/uspkit/datamodel"
	"github.com/uspkit/uspkit/wire"
)

// DefaultPeriodicNotifInterval is the PeriodicNotifInterval, in seconds,
// of a Controller entry created without one (TR-181 gives no default and
// a minimum of 1): one Periodic! a day.
const DefaultPeriodicNotifInterval = 86400

// periodicEvent is the path of the event the schedule sends.
const periodicEvent = "Device.LocalAgent.Periodic!"

// periodicTimers sends Device.LocalAgent.Periodic! to each Controller on
// its own schedule: one timer per Controller entry, armed for the next
// point of the grid PeriodicNotifTime + k × PeriodicNotifInterval, and
// reset at once when either parameter changes.
//
// Lock order: mu is taken after Agent.mu is released, never while
// sending.
type periodicTimers struct {
	a     *Agent
	kickc chan struct{}

	mu     sync.Mutex
	ctx    context.Context // set by run; nil before and after
	wg     sync.WaitGroup  // timer callbacks in progress
	scheds map[string]*schedule
}

// schedule is one Controller's Periodic! timer.
type schedule struct {
	iv    time.Duration
	ref   string    // PeriodicNotifTime as configured
	base  time.Time // a point of the grid
	next  time.Time
	timer *time.Timer
}

func newPeriodicTimers(a *Agent) *periodicTimers {
	return &periodicTimers{a: a, kickc: make(chan struct{}, 1), scheds: map[string]*schedule{}}
}

// kick asks run to compare the schedules with the Controller entries.
func (p *periodicTimers) kick() {
	select {
	case p.kickc <- struct{}{}:
	default:
	}
}

// run keeps the schedules in step with the Controller entries until ctx
// is done, then stops every timer and waits for callbacks under way.
func (p *periodicTimers) run(ctx context.Context) {
	p.mu.Lock()
	p.ctx = ctx
	p.mu.Unlock()
	p.reconcile()
	for {
		select {
		case <-ctx.Done():
			p.mu.Lock()
			p.ctx = nil
			for ref, s := range p.scheds {
				s.timer.Stop()
				delete(p.scheds, ref)
			}
			p.mu.Unlock()
			p.wg.Wait()
			return
		case <-p.kickc:
			p.reconcile()
		}
	}
}

// reconcile starts, resets and stops timers after a configuration change:
// a Controller whose interval or time reference changed starts a new grid
// now [TR-181 PeriodicNotifInterval, PeriodicNotifTime].
func (p *periodicTimers) reconcile() {
	p.a.mu.Lock()
	want := map[string]*controller{}
	for _, c := range p.a.ctrlRefs {
		want[c.ref] = c
	}
	p.a.mu.Unlock()
	now := p.a.now()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ctx == nil {
		return
	}
	for ref, s := range p.scheds {
		if c := want[ref]; c == nil || c.periodicInterval() != s.iv || c.periodicAt != s.ref {
			s.timer.Stop()
			delete(p.scheds, ref)
		}
	}
	for ref, c := range want {
		if p.scheds[ref] != nil {
			continue
		}
		s := &schedule{iv: c.periodicInterval(), ref: c.periodicAt, base: periodicBase(now, c.periodicAt)}
		s.next = nextOnGrid(now, s.base, s.iv)
		s.timer = time.AfterFunc(s.next.Sub(now), func() { p.fire(ref, s) })
		p.scheds[ref] = s
	}
}

// fire sends Periodic! for one schedule and arms its timer for the next
// point of the grid (skipping points already past, so a late timer does
// not send a burst).
func (p *periodicTimers) fire(ref string, s *schedule) {
	p.mu.Lock()
	ctx := p.ctx
	if ctx == nil || p.scheds[ref] != s {
		p.mu.Unlock()
		return
	}
	p.wg.Add(1)
	now := p.a.now()
	s.next = nextOnGrid(now, s.base, s.iv)
	s.timer.Reset(s.next.Sub(now))
	p.mu.Unlock()
	defer p.wg.Done()
	p.a.subs.send(ctx, notifEvent, periodicEvent, datamodel.CmdNotify, func(x *sub) bool {
		return x.recipient == ref && p.a.subs.matchesAny(x.refs, periodicEvent)
	}, func(*controller) *wire.Notify {
		return &wire.Notify{Notification: &wire.Notify_Event_{Event: &wire.Notify_Event{ObjPath: pathLocalAgent, EventName: "Periodic!", Params: map[string]string{}}}}
	})
}

// periodicInterval is the Controller's PeriodicNotifInterval; a stored 0
// (outside TR-181's range, written by older versions) counts as the
// default.
func (c *controller) periodicInterval() time.Duration {
	n := c.periodic
	if n == 0 {
		n = DefaultPeriodicNotifInterval
	}
	return time.Duration(n) * time.Second
}

// periodicBase returns a point of the Periodic! grid: PeriodicNotifTime,
// or now when it holds the Unknown Time (0001-01-01T00:00:00Z) or cannot
// be read, in which case the Agent chooses the phase.
func periodicBase(now time.Time, ref string) time.Time {
	t, err := time.Parse(time.RFC3339, ref)
	if err != nil || t.Year() <= 1 {
		return now
	}
	return t
}

// nextOnGrid returns the first time after now of the form base + k × iv
// (k any integer: base may lie in the past or the future).
// The phase is computed from whole seconds and nanoseconds apart, so that
// a reference centuries away does not overflow a time.Duration.
func nextOnGrid(now, base time.Time, iv time.Duration) time.Time {
	secs := int64(iv / time.Second)
	if secs <= 0 {
		secs = 1
	}
	d := ((now.Unix()-base.Unix())%secs)*int64(time.Second) + int64(now.Nanosecond()-base.Nanosecond())
	d %= int64(iv)
	if d < 0 {
		d += int64(iv)
	}
	return now.Add(iv - time.Duration(d))
}
