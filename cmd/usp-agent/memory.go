package main

import (
	"runtime/debug"
	"strconv"
)

// Memory settings of usp-agent on a device with little RAM, applied when
// the environment does not choose its own (GOGC, GOMEMLIMIT; docs/config.md):
//
//   - gcPercent is Go's own: the heap is collected when it has doubled
//     since the last collection. GOGC=50 kept 2.3 MB less after a burst
//     but, with GOMEMLIMIT=16MiB, made an Add 3× and a Delete 10× dearer in
//     CPU once thousands of Subscriptions had grown the live heap toward
//     the limit (docs/perf.md); the idle RSS stays under its 12 MiB budget
//     with Go's own (8.4 MB after the same burst).
//   - memoryLimit is the soft limit past which the runtime collects and
//     returns memory more eagerly: twice the largest live heap measured
//     under load, so the collector does not run back to back in normal
//     use, and a bound on a 64 MB device. It bounds memory only while the
//     live heap is under it; a Get of a large table may still go over.
const (
	gcPercent   = 100
	memoryLimit = 32 << 20
)

// memorySettings are the settings applied to the runtime: what the
// environment (getenv) does not set gets the defaults above.
type memorySettings struct {
	GCPercent   int   // -1: left as GOGC set it
	MemoryLimit int64 // -1: left as GOMEMLIMIT set it
}

// memoryDefaults returns the settings for an environment read through
// getenv.
func memoryDefaults(getenv func(string) string) memorySettings {
	s := memorySettings{GCPercent: -1, MemoryLimit: -1}
	if getenv("GOGC") == "" {
		s.GCPercent = gcPercent
	}
	if getenv("GOMEMLIMIT") == "" {
		s.MemoryLimit = memoryLimit
	}
	return s
}

// apply sets the runtime's collector to s.
func (s memorySettings) apply() {
	if s.GCPercent >= 0 {
		debug.SetGCPercent(s.GCPercent)
	}
	if s.MemoryLimit >= 0 {
		debug.SetMemoryLimit(s.MemoryLimit)
	}
}

// String is s as the environment variables that would set it.
func (s memorySettings) String() string {
	gc, ml := "(environment)", "(environment)"
	if s.GCPercent >= 0 {
		gc = strconv.Itoa(s.GCPercent)
	}
	if s.MemoryLimit >= 0 {
		ml = strconv.FormatInt(s.MemoryLimit>>20, 10) + "MiB"
	}
	return "GOGC=" + gc + " GOMEMLIMIT=" + ml
}
