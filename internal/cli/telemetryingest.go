//go:build !usp_device

package cli

import (
	"context"
	"log/slog"

	"github.com/uspkit/uspkit/controller"
)

// eventSource is the part of a Controller the Push! ingest reads:
// its events as they happen and those it keeps.
type eventSource interface {
	SubscribeLag() (events <-chan controller.Event, lagged <-chan struct{}, stop func())
	EventsAfter(agent string, after uint64) (events []controller.Event, oldest, newest uint64)
}

// pushIngest passes every event of a Controller from the time it is made
// to ingest once, in Seq order: one that falls behind its subscription
// (ingest is slow, a flood of Push! reports) catches up from the events
// the Controller keeps rather than lose those the subscription dropped,
// and an event it already passed on (the subscription's copy of one it
// caught up with) is not passed on again.
type pushIngest struct {
	src    eventSource
	ingest func(context.Context, controller.Event)
	events <-chan controller.Event
	lagged <-chan struct{}
	stop   func()
	log    *slog.Logger
	// last is the highest Seq passed on (or older than the start).
	last uint64
	// caughtUp counts the events passed on from those kept.
	caughtUp int
}

// newPushIngest subscribes to src; the events after this call go to
// ingest once run runs.
func newPushIngest(src eventSource, ingest func(context.Context, controller.Event), log *slog.Logger) *pushIngest {
	p := &pushIngest{src: src, ingest: ingest, log: log}
	p.events, p.lagged, p.stop = src.SubscribeLag()
	_, _, p.last = src.EventsAfter("", ^uint64(0))
	return p
}

// run passes events on until ctx ends, then unsubscribes.
func (p *pushIngest) run(ctx context.Context) {
	defer p.stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-p.lagged:
			p.catchUp(ctx)
		case e := <-p.events:
			switch {
			case e.Seq <= p.last:
			case e.Seq == p.last+1:
				p.last = e.Seq
				p.ingest(ctx, e)
			default: // dropped, or still on their way: read them back
				p.catchUp(ctx)
			}
		}
	}
}

// catchUp passes on the kept events after p.last. Those no longer kept
// (more than MaxEvents behind) are lost to the ingest: it says how many.
func (p *pushIngest) catchUp(ctx context.Context) {
	events, oldest, newest := p.src.EventsAfter("", p.last)
	if oldest > p.last+1 {
		p.log.WarnContext(ctx, "events no longer kept were not looked at for Push! reports", "after", p.last, "next", oldest, "missed", oldest-1-p.last)
	}
	for _, e := range events {
		if ctx.Err() != nil {
			return
		}
		p.last = e.Seq
		p.caughtUp++
		p.ingest(ctx, e)
	}
	p.last = max(p.last, newest)
}
