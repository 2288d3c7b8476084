package discovery_test

import (
	"context"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/uspkit/uspkit/discovery"
	"github.com/uspkit/uspkit/internal/testenv"
)

// ctrZone are the records of TR-369's "Example Controller Unicast DNS-SD
// Resource Records", on loopback addresses.
var ctrZone = []string{
	`_usp-ctr-ws._tcp.ctl.example.test. 60 IN PTR proto::ctr\.one._usp-ctr-ws._tcp.example.test.`,
	`proto::ctr\.one._usp-ctr-ws._tcp.example.test. 60 IN SRV 0 1 8443 host.example.test.`,
	`proto::ctr\.one._usp-ctr-ws._tcp.example.test. 60 IN TXT "path=/usp" "encrypt"`,
	`host.example.test. 60 IN A 127.0.0.9`,
}

// TestLookupDNS: a bare FQDN leads to the Controller's DNS-SD records over
// unicast DNS [R-DIS.7] (TP-469 8.3's metric).
func TestLookupDNS(t *testing.T) {
	server := testenv.DNSZone(t, ctrZone...)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	got, err := discovery.LookupDNS(ctx, server, "ctl.example.test", []string{discovery.ControllerWebSocket, discovery.ControllerMQTT})
	if err != nil || len(got) != 1 {
		t.Fatalf("LookupDNS = %+v, %v", got, err)
	}
	s := got[0]
	if s.Instance != "proto::ctr.one" || s.Port != 8443 || s.Path != "/usp" || !s.Encrypt || !slices.Equal(s.Addrs, []netip.Addr{netip.MustParseAddr("127.0.0.9")}) {
		t.Errorf("service %+v", s)
	}
	if got, err := discovery.LookupDNS(ctx, server, "nothing.example.test", []string{discovery.ControllerWebSocket}); err != nil || len(got) != 0 {
		t.Errorf("a name without records: %+v, %v", got, err)
	}
}
