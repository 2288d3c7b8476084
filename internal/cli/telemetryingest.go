//go:build !usp_device

package cli

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

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
	// point is the file keeping last across restarts ("" for none);
	// saved is what it holds, resume whether run starts by catching up
	// from it.
	point  string
	saved  uint64
	resume bool
}

// pushPointFile keeps, in the data directory, the Seq of the last event
// the Push! ingest passed on, so that a restarted Controller ingests the
// events kept since rather than only those after it started.
const pushPointFile = "telemetry-ingest.seq"

// newPushIngest subscribes to src; the events after the Seq kept in
// point (when it names one src still has; point may be "") or else
// after this call go to ingest once run runs.
func newPushIngest(src eventSource, ingest func(context.Context, controller.Event), point string, log *slog.Logger) *pushIngest {
	p := &pushIngest{src: src, ingest: ingest, log: log, point: point}
	p.events, p.lagged, p.stop = src.SubscribeLag()
	_, _, p.last = src.EventsAfter("", ^uint64(0))
	if point == "" {
		return p
	}
	b, err := os.ReadFile(point)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			log.Warn("Push! ingest: resume point not read; ingesting from now", "err", err)
		}
		return p
	}
	saved, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	switch {
	case err != nil:
		log.Warn("Push! ingest: resume point not a number; ingesting from now", "file", point, "err", err)
	case saved > p.last: // the Controller's events were not kept: from now
	default:
		p.last, p.saved, p.resume = saved, saved, true
	}
	return p
}

// run passes events on until ctx ends, then unsubscribes and saves the
// resume point; an event begun is stored even if ctx ends meanwhile.
func (p *pushIngest) run(ctx context.Context) {
	defer p.stop()
	defer p.save()
	if p.resume {
		p.catchUp(ctx)
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			p.save()
		case <-p.lagged:
			p.catchUp(ctx)
		case e := <-p.events:
			switch {
			case e.Seq <= p.last:
			case e.Seq == p.last+1:
				p.last = e.Seq
				p.ingest(context.WithoutCancel(ctx), e)
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
		p.ingest(context.WithoutCancel(ctx), e)
	}
	p.last = max(p.last, newest)
}

// save writes the resume point when it moved (a crash between two saves
// ingests the events of up to a second again).
func (p *pushIngest) save() {
	if p.point == "" || p.last == p.saved {
		return
	}
	tmp := p.point + ".tmp"
	err := os.WriteFile(tmp, []byte(strconv.FormatUint(p.last, 10)+"\n"), 0o600)
	if err == nil {
		err = os.Rename(tmp, p.point)
	}
	if err != nil {
		p.log.Warn("Push! ingest: resume point not saved", "file", p.point, "err", err)
		return
	}
	p.saved = p.last
}

// pushPoint is the resume point file in data directory dir.
func pushPoint(dir string) string { return filepath.Join(dir, pushPointFile) }
