package cli

import (
	"context"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// Memory release of usp agent. The Go runtime returns freed heap to the
// operating system gradually, so a process that served a burst of
// requests keeps a resident heap sized for the burst for minutes, and the
// executable's pages the burst touched stay mapped (agentpages.go). A
// device Agent is idle most of the time, so it hands both back as soon as
// it goes quiet after activity. A check is busy when the process used
// more than 1/quietRate of the interval in CPU time, or took more than
// quietFaults minor page faults (pages mapped in, up to 64 KiB each with
// the kernel's fault-around); start-up counts as busy. After a busy check
// the Agent checks every fastCheck, and after quietChecks quiet ones in a
// row it releases:
//
//   - after CPU activity, everything: the heap is collected and its free
//     memory returned, and the executable's pages unmapped. That is
//     within slowCheck + (quietChecks+1) × fastCheck of the last request
//     (8 s), and 3 s after a load that lasted longer than slowCheck;
//   - after page faults alone (a little work touching code it had not run
//     since the last release), the pages and the heap's free memory
//     beyond releaseSlack, at most once every pagesEvery, so that periodic
//     work re-mapping its pages cannot keep the Agent releasing.
//
// While quiet it checks every slowCheck (one getrusage call) and returns
// the heap's free memory beyond releaseSlack (nothing happens when
// nothing was freed); so does it every slowCheck while busy.
const (
	slowCheck    = 5 * time.Second
	fastCheck    = time.Second
	quietChecks  = 2
	quietRate    = 200 // 0.5% of the interval
	quietFaults  = 16
	pagesEvery   = time.Minute
	releaseSlack = 1 << 20
)

// procUsage is what the process used so far: CPU time in nanoseconds and
// minor page faults.
type procUsage struct{ cpu, faults int64 }

// releaseMemory releases memory once start-up is over, then whenever the
// process goes quiet after activity, until ctx is done.
func releaseMemory(ctx context.Context) {
	r := releaser{
		usage: processUsage,
		now:   time.Now,
		all:   func() { debug.FreeOSMemory(); dropExecPages() },
		pages: func() { releaseFree(); dropExecPages() },
		free:  func() { releaseFree() },
	}
	t := time.NewTimer(r.start())
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		t.Reset(r.check())
	}
}

// releaser decides, at each check, what to release and when to check
// again. usage is processUsage; all, pages and free are the three
// releases above. Where dropping pages fails they stay mapped.
type releaser struct {
	usage            func() procUsage
	now              func() time.Time
	all, pages, free func()
	last             procUsage     // at the previous check, after its release
	every            time.Duration // since the previous check
	busy, touched    bool          // CPU used, pages mapped in, since the last release
	quiet            int           // quiet checks since
	pagesAt          time.Time     // the last release of pages after faults alone
	freeAt           time.Time     // the last release of any kind
}

// start counts start-up as activity and returns the time until the first
// check.
func (r *releaser) start() time.Duration {
	r.last, r.every, r.busy, r.freeAt = r.usage(), fastCheck, true, r.now()
	return r.every
}

// check acts on the usage since the previous check and returns the time
// until the next one.
func (r *releaser) check() time.Duration {
	u := r.usage()
	cpu, faults := u.cpu-r.last.cpu, u.faults-r.last.faults
	r.last = u
	if busy, touched := cpu*quietRate > int64(r.every), faults > quietFaults; busy || touched {
		r.busy, r.touched, r.quiet = r.busy || busy, r.touched || touched, 0
		return r.next(r.freeEvery(fastCheck))
	}
	if r.busy || r.touched {
		if r.quiet++; r.quiet < quietChecks {
			return r.next(r.freeEvery(fastCheck))
		}
		switch {
		case r.busy:
			r.all()
		case r.now().Sub(r.pagesAt) >= pagesEvery:
			r.pages()
			r.pagesAt = r.now()
		default:
			r.free()
		}
		r.busy, r.touched, r.quiet = false, false, 0
	} else {
		r.free()
	}
	r.freeAt = r.now()
	r.last = r.usage() // the release's own work is not activity
	return r.next(slowCheck)
}

// freeEvery returns the heap's free memory beyond releaseSlack when the
// last release of any kind is slowCheck old or more, so that activity
// that never pauses for quietChecks checks still hands back what it
// frees; it returns d.
func (r *releaser) freeEvery(d time.Duration) time.Duration {
	if now := r.now(); now.Sub(r.freeAt) >= slowCheck {
		r.free()
		r.freeAt = now
		r.last = r.usage()
	}
	return d
}

func (r *releaser) next(d time.Duration) time.Duration {
	r.every = d
	return d
}

// releaseFree returns the heap's free memory to the system when it holds
// more than releaseSlack, and reports whether it did.
func releaseFree() bool {
	if heapFree() <= releaseSlack {
		return false
	}
	debug.FreeOSMemory()
	return true
}

// heapFree is the heap memory free and not yet returned to the system.
func heapFree() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/free:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}

// memProfiling turns the runtime's heap profiling off unless on: its
// sampled allocation records grow with the variety of call paths a load
// takes and are never freed (about 0.7 MB after a run of every `usp
// bench` workload). `usp agent --pprof` keeps it for /debug/pprof/heap.
func memProfiling(on bool) {
	if !on {
		runtime.MemProfileRate = 0
	}
}

// agentCacheKiB caps the page cache of usp agent's SQLite store: 256 KiB
// against SQLite's 2,000 KiB default took about 3 MB off the Agent's RSS
// after an Add/Delete burst of thousands of rows, at the same CPU per
// request (docs/perf.md).
const agentCacheKiB = 256
