package discovery_test

import (
	"context"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/uspkit/uspkit/discovery"
)

// zone is a DNS server on 127.0.0.1 answering from a fixed set of records,
// as a unicast DNS-SD zone for a Controller.
func zone(t *testing.T, records ...string) string {
	t.Helper()
	var rrs []dns.RR
	for _, r := range records {
		rr, err := dns.NewRR(r)
		if err != nil {
			t.Fatal(err)
		}
		rrs = append(rrs, rr)
	}
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(q)
		for _, rr := range rrs {
			for _, qq := range q.Question {
				if strings.EqualFold(rr.Header().Name, qq.Name) && rr.Header().Rrtype == qq.Qtype {
					m.Answer = append(m.Answer, rr)
				}
			}
		}
		if len(m.Answer) == 0 {
			m.Rcode = dns.RcodeNameError
		}
		w.WriteMsg(m)
	})}
	started := make(chan struct{})
	srv.NotifyStartedFunc = func() { close(started) }
	go srv.ActivateAndServe()
	<-started
	t.Cleanup(func() { srv.Shutdown() })
	return pc.LocalAddr().String()
}

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
	server := zone(t, ctrZone...)
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
