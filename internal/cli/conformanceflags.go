//go:build !usp_device

package cli

import (
	"crypto/tls"
	"flag"
	"fmt"

	"github.com/uspkit/uspkit/conformance"
	"github.com/uspkit/uspkit/discovery"
)

// bulkDataRunnerFlags are `usp conformance`'s flags for the collector of
// TP-469 section 10.
type bulkDataRunnerFlags struct {
	host, cert, key *string
	interval        *uint
}

func bulkDataFlags(fs *flag.FlagSet) bulkDataRunnerFlags {
	return bulkDataRunnerFlags{
		host:     fs.String("bulkdata-host", "", "section 10: the IP `address` of this host where the agent reaches the runner's collector (default 127.0.0.1)"),
		cert:     fs.String("bulkdata-cert", "", "section 10: certificate `file` of the HTTPS collector, one the agent trusts (without it the HTTPS cases are skipped)"),
		key:      fs.String("bulkdata-key", "", "section 10: key `file` of the HTTPS collector"),
		interval: fs.Uint("bulkdata-interval", 0, "section 10: the profiles' ReportingInterval in `seconds` (default: the plan's max(60, MinReportingInterval))"),
	}
}

func (f bulkDataRunnerFlags) setup() (*conformance.BulkDataSetup, error) {
	s := &conformance.BulkDataSetup{Host: *f.host, Interval: uint32(*f.interval)}
	if *f.cert != "" {
		c, err := tls.LoadX509KeyPair(*f.cert, *f.key)
		if err != nil {
			return nil, fmt.Errorf("--bulkdata-cert: %w", err)
		}
		s.TLS = &tls.Config{Certificates: []tls.Certificate{c}, MinVersion: tls.VersionTLS12}
	}
	return s, nil
}

// discoverySetup is what `usp conformance` hands section 8: the agent's
// mDNS interface and port, and its DHCP lease file; nil when none is given.
func discoverySetup(iface string, port int, lease string) *conformance.DiscoverySetup {
	if iface == "" && port == 0 && lease == "" {
		return nil
	}
	d := &conformance.DiscoverySetup{Lease: lease}
	if iface != "" || port != 0 {
		d.MDNS = &discovery.Options{Interface: iface, Port: port}
	}
	return d
}
