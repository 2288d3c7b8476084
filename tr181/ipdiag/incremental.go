package ipdiag

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/uspkit/uspkit/datamodel"
)

// maxIncremental bounds the IncrementalResult rows of a transfer test
// (DownloadDiagnosticsMaxIncrementalResult): 999 one-second intervals fit
// in the longest time-based test.
const maxIncremental = 999

// increments measures a time-based transfer in intervals (TR-143
// section 4.3): TimeBasedTestMeasurementInterval seconds each, starting
// TimeBasedTestMeasurementOffset seconds after the test's BOM. It learns
// the BOM from the first connection that has one, then reads the
// Interface's counters at every interval's edge.
type increments struct {
	interval, offset time.Duration
	ifname           string

	once  sync.Once
	mu    sync.Mutex
	first time.Time // the earliest BOM of all connections
	bom   chan time.Time
	stop  chan struct{}
	done  chan struct{}
	start time.Time
	edges []ifCounters // at start, start+interval, …; written by run only
}

func newIncrements(sp *transferSpec, interval, offset time.Duration) *increments {
	if sp.duration <= 0 || interval <= 0 {
		return nil
	}
	return &increments{interval: interval, offset: offset, ifname: sp.ifname, bom: make(chan time.Time, 1),
		stop: make(chan struct{}), done: make(chan struct{})}
}

// began tells a connection's BOM; the first one told starts the
// intervals' clock, the earliest is the test's BOM.
func (in *increments) began(t time.Time) {
	if in == nil {
		return
	}
	in.mu.Lock()
	if in.first.IsZero() || t.Before(in.first) {
		in.first = t
	}
	in.mu.Unlock()
	in.once.Do(func() { in.bom <- t })
}

// run waits for the BOM, then notes the counters at each interval's edge
// until n intervals have passed or the test ends.
func (in *increments) run(n int) {
	defer close(in.done)
	var bom time.Time
	select {
	case bom = <-in.bom:
	case <-in.stop:
		return
	}
	in.start = bom.Add(in.offset)
	for i := 0; i <= n; i++ {
		edge := in.start.Add(time.Duration(i) * in.interval)
		t := time.NewTimer(time.Until(edge))
		select {
		case <-t.C:
			in.edges = append(in.edges, readCounters(in.ifname))
		case <-in.stop:
			t.Stop()
			if time.Until(edge) <= 5*sampleEvery { // the test ended at this edge
				in.edges = append(in.edges, readCounters(in.ifname))
			}
			return
		}
	}
}

// finish stops the measuring and waits for it.
func (in *increments) finish() {
	if in == nil {
		return
	}
	close(in.stop)
	<-in.done
}

// write adds IncrementalResult.{i} for every interval that ended by eom,
// totalled across the connections.
func (in *increments) write(w datamodel.ResponseWriter, testName string, rs []*xfer, eom time.Time) {
	if in == nil || in.start.IsZero() {
		return
	}
	in.mu.Lock()
	start := in.first.Add(in.offset) // the edges were read within moments of these
	in.mu.Unlock()
	for i := 0; i < maxIncremental; i++ {
		a, b := start.Add(time.Duration(i)*in.interval), start.Add(time.Duration(i+1)*in.interval)
		if b.After(eom.Add(5*sampleEvery)) || i+1 >= len(in.edges) {
			return
		}
		var test uint64
		for _, x := range rs {
			test += x.between(a, b)
		}
		rx, tx := delta(in.edges[i], in.edges[i+1])
		p := "IncrementalResult." + strconv.Itoa(i+1) + "."
		w.SetValue(p+testName, strconv.FormatUint(test, 10))
		w.SetValue(p+"TotalBytesReceived", strconv.FormatUint(rx, 10))
		w.SetValue(p+"TotalBytesSent", strconv.FormatUint(tx, 10))
		w.SetValue(p+"StartTime", dateTime(a))
		w.SetValue(p+"EndTime", dateTime(b))
	}
}

// incrementsFor starts measuring intervals when the test asks for them.
func incrementsFor(ctx context.Context, sp *transferSpec, in args) *increments {
	inc := newIncrements(sp, time.Duration(in.uint("TimeBasedTestMeasurementInterval", 0))*time.Second,
		time.Duration(in.uint("TimeBasedTestMeasurementOffset", 0))*time.Second)
	if inc != nil {
		n := min(int((sp.duration-inc.offset)/inc.interval), maxIncremental)
		go inc.run(max(n, 0))
	}
	return inc
}
