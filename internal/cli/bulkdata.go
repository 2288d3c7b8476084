package cli

import (
	"context"
	"log/slog"

	"github.com/uspkit/uspkit/agent"
	"github.com/uspkit/uspkit/tr181/bulkdata"
)

// bulkDataConfig is the `bulk_data:` section of `usp agent`'s file.
type bulkDataConfig struct {
	// MinReportingInterval is Device.BulkData.MinReportingInterval in
	// seconds; absent means 60, 0 means no minimum.
	MinReportingInterval *uint32 `yaml:"min_reporting_interval"`
	// Disabled starts with Device.BulkData.Enable false.
	Disabled bool `yaml:"disabled"`
}

// newBulkData returns the Agent's Bulk Data service as c configures it.
func newBulkData(c *bulkDataConfig, log *slog.Logger) *bulkdata.Service {
	o := &bulkdata.Options{MinReportingInterval: 60, Logger: log}
	if c != nil {
		if c.MinReportingInterval != nil {
			o.MinReportingInterval = *c.MinReportingInterval
		}
		o.Disabled = c.Disabled
	}
	return bulkdata.New(o)
}

// runBulkData sends the reports of a's Bulk Data profiles until the
// returned function is called; it returns once the service stopped.
func runBulkData(ctx context.Context, bd *bulkdata.Service, a *agent.Agent) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		bd.Run(ctx, a.Engine(), a.Emit)
	}()
	return func() { cancel(); <-done }
}
