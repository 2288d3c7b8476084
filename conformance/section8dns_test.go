package conformance_test

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/uspkit/uspkit/conformance"
	"github.com/uspkit/uspkit/discovery"
)

// TestDNSServer: the runner's DNS server gives the DNS-SD records of its
// Controller to discovery.LookupDNS, the Agent's lookup of a bare FQDN
// [R-DIS.7] (an Endpoint ID with dots escaped in the instance name
// [R-DIS.8]), records the questions, and refuses names outside its domain.
func TestDNSServer(t *testing.T) {
	s, err := conformance.ListenDNS(t.Context(), "127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	addr := netip.MustParseAddr("127.0.0.7")
	s.SetController(&conformance.DNSController{Domain: "tp469.test", EndpointID: "proto::runner.dnssd", Type: discovery.ControllerWebSocket,
		Host: "controller.tp469.test", Addr: addr, Port: 8443, Path: "/usp"})
	since := time.Now()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	svcs, err := discovery.LookupDNS(ctx, s.Addr().String(), "tp469.test", []string{discovery.ControllerWebSocket, discovery.ControllerMQTT})
	if err != nil || len(svcs) != 1 {
		t.Fatalf("LookupDNS: %+v %v", svcs, err)
	}
	got := svcs[0]
	if p, _ := got.TXT("path"); got.Instance != "proto::runner.dnssd" || got.Port != 8443 || p != "/usp" || len(got.Addrs) != 1 || got.Addrs[0] != addr {
		t.Errorf("service %+v", got)
	}
	asked := map[uint16]bool{}
	for _, q := range s.Queries(since) {
		asked[q.Type] = true
	}
	for _, typ := range []uint16{dns.TypePTR, dns.TypeSRV, dns.TypeTXT, dns.TypeA} {
		if !asked[typ] {
			t.Errorf("no %s question recorded: %+v", dns.TypeToString[typ], s.Queries(since))
		}
	}
	m := new(dns.Msg)
	m.SetQuestion("example.org.", dns.TypeA)
	r, err := dns.Exchange(m, s.Addr().String())
	if err != nil || r.Rcode != dns.RcodeRefused {
		t.Errorf("a name outside the domain: %v %v", r, err)
	}
	s.SetController(nil)
	m.SetQuestion("_usp-ctr-ws._tcp.tp469.test.", dns.TypePTR)
	if r, err := dns.Exchange(m, s.Addr().String()); err != nil || r.Rcode != dns.RcodeRefused || len(r.Answer) != 0 {
		t.Errorf("without a controller: %v %v", r, err)
	}
}
