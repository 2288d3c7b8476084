//go:build !usp_device

package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/uspkit/uspkit/sim"
	"github.com/uspkit/uspkit/telemetry"
)

// simBulkFlags are `usp sim`'s Bulk Data flags: the simulated agents
// POST reports to a controller's collector.
type simBulkFlags struct {
	url, key, encoding *string
	interval           *time.Duration
	params             *int
	gzip               *bool
}

func newSimBulkFlags(fs *flag.FlagSet) simBulkFlags {
	return simBulkFlags{
		url:      fs.String("bulkdata", "", "the controller's API `URL`: each agent also POSTs Bulk Data reports to its collector (/bulkdata/ID)"),
		key:      fs.String("bulkdata-key", "", "with --bulkdata: the controller's bulkdata.key `file` (in its data directory), from which the agents' collector passwords are derived"),
		encoding: fs.String("bulkdata-encoding", "JSON", "with --bulkdata: JSON or CSV"),
		interval: fs.Duration("bulkdata-interval", time.Minute, "with --bulkdata: each agent's reporting interval"),
		params:   fs.Int("bulkdata-params", 20, "with --bulkdata: parameters per report"),
		gzip:     fs.Bool("bulkdata-gzip", false, "with --bulkdata: gzip the reports"),
	}
}

// start sends the fleet's reports until the returned function is called,
// which prints what was sent.
func (b simBulkFlags) start(ctx context.Context, f *sim.Fleet, n int, out io.Writer) (func(), error) {
	if *b.url == "" {
		return func() {}, nil
	}
	if *b.encoding != "JSON" && *b.encoding != "CSV" {
		return nil, fmt.Errorf("%w: --bulkdata-encoding %q: want JSON or CSV", errUsage, *b.encoding)
	}
	bd := sim.BulkData{URL: *b.url, Interval: *b.interval, Params: *b.params, Encoding: *b.encoding, Gzip: *b.gzip}
	if *b.key != "" {
		key, err := os.ReadFile(*b.key)
		if err != nil {
			return nil, fmt.Errorf("--bulkdata-key: %w", err)
		}
		c := telemetry.NewCredentials(key)
		bd.Login = func(id string) (string, string) { return c.User(id), c.Password(id) }
	}
	ids := make([]string, n)
	for i := range ids {
		ids[i] = f.ID(i)
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan sim.BulkStats, 1)
	start := time.Now()
	go func() { done <- sim.RunBulkData(ctx, bd, ids) }()
	return func() {
		cancel()
		st := <-done
		s := time.Since(start).Seconds()
		fmt.Fprintf(out, "bulkdata %d reports (%d failed), %d rows, %d bytes in %.1fs: %.0f reports/s, latency p50 %v p99 %v\n",
			st.Reports, st.Failed, st.Rows, st.Bytes, s, float64(st.Reports)/s, st.P50.Round(time.Millisecond), st.P99.Round(time.Millisecond))
	}, nil
}
