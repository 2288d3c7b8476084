//go:build !usp_device

package cli

import (
	"context"
	"fmt"
	"io"
	"net"

	"github.com/uspkit/uspkit/conformance"
)

// dhcpSetup starts the runner's DHCPv4 server on iface and its DNS server
// on the same address (port 53, given in option 6) for section 8, into d
// (created when nil); "" starts nothing. The returned function stops them.
func dhcpSetup(ctx context.Context, d *conformance.DiscoverySetup, iface string, stderr io.Writer) (*conformance.DiscoverySetup, func(), error) {
	if iface == "" {
		return d, func() {}, nil
	}
	log := newLogger(stderr, "warn")
	srv, err := conformance.ListenDHCP(ctx, iface, log)
	if err != nil {
		return d, nil, err
	}
	dns, err := conformance.ListenDNS(ctx, net.JoinHostPort(srv.Addr().String(), "53"), log)
	if err != nil {
		srv.Close()
		return d, nil, err
	}
	srv.SetDNS(srv.Addr())
	if d == nil {
		d = &conformance.DiscoverySetup{}
	}
	d.DHCP, d.DNS = srv, dns
	fmt.Fprintf(stderr, "dhcp server on %s (%s), dns server on %s\n", iface, srv.Addr(), dns.Addr())
	return d, func() { dns.Close(); srv.Close() }, nil
}
