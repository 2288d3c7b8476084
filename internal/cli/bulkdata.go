//go:build !usp_nobulk

package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"time"

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
	// CA is a PEM file of the certificates that HTTPS collectors are
	// verified against, instead of the system's roots [R-BULK.6].
	CA string `yaml:"ca"`
}

// newBulkData returns the Agent's Bulk Data service as c configures it.
// Failed reports of PersistAcrossReboot profiles are kept in dir.
func newBulkData(c *bulkDataConfig, dir string, log *slog.Logger) (*bulkdata.Service, error) {
	o := &bulkdata.Options{MinReportingInterval: 60, Logger: log, Dir: dir}
	if c != nil {
		if c.MinReportingInterval != nil {
			o.MinReportingInterval = *c.MinReportingInterval
		}
		o.Disabled = c.Disabled
		if c.CA != "" {
			pem, err := os.ReadFile(c.CA)
			if err != nil {
				return nil, fmt.Errorf("bulk_data.ca: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("bulk_data.ca: no certificate in %s", c.CA)
			}
			tr := http.DefaultTransport.(*http.Transport).Clone()
			tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
			o.Client = &http.Client{Transport: tr, Timeout: 30 * time.Second}
		}
	}
	return bulkdata.New(o), nil
}

// runBulkData sends the reports of a's Bulk Data profiles until the
// returned function is called; it returns once the service stopped.
func runBulkData(ctx context.Context, bd *bulkdata.Service, a *agent.Agent) (stop func()) {
	bd.SetCaller(a.Caller) // a profile collects what its Controller may read
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		bd.Run(ctx, a.Engine(), a.Emit)
	}()
	return func() { cancel(); <-done }
}
