package cli

import (
	"context"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// Memory release of usp agent: the Go runtime returns freed heap to the
// operating system gradually, so a process that served a burst of
// requests keeps a resident heap sized for the burst for minutes. A
// device Agent is idle most of the time; every releaseEvery it hands back
// what the heap holds free beyond releaseSlack, at the cost of one
// collection when that happens (none while idle and nothing was freed).
const (
	releaseEvery = 10 * time.Second
	releaseSlack = 1 << 20
)

// releaseMemory returns free heap memory to the system every releaseEvery
// until ctx is done, and unmaps the executable's pages (dropExecPages)
// after an interval in which the process was idle.
func releaseMemory(ctx context.Context) {
	t := time.NewTicker(releaseEvery)
	defer t.Stop()
	last := processCPU()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		releaseFree()
		now := processCPU()
		if now-last < idleCPU {
			dropExecPages() // best effort: where it fails, the pages stay mapped
			now = processCPU()
		}
		last = now
	}
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

// agentCacheKiB caps the page cache of usp agent's SQLite store: 256 KiB
// against SQLite's 2,000 KiB default took about 3 MB off the Agent's RSS
// after an Add/Delete burst of thousands of rows, at the same CPU per
// request (docs/perf.md).
const agentCacheKiB = 256
