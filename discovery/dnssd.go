package discovery

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// maxDNSAnswers bounds the PTR records followed for one service type.
const maxDNSAnswers = 16

// LookupDNS asks a unicast DNS server for the DNS-SD records of the
// Controllers a bare FQDN names [R-DIS.7]: for each service type, the PTR
// records of "<type>.<fqdn>", then each instance's SRV and TXT records and
// its target's A and AAAA records (RFC 6763). server is "host:port"; ""
// means the first nameserver of /etc/resolv.conf. It returns the complete
// services found, and an error only when none was and a query failed.
func LookupDNS(ctx context.Context, server, fqdn string, types []string) ([]Service, error) {
	if server == "" {
		cfg, err := dns.ClientConfigFromFile("/etc/resolv.conf")
		if err != nil || len(cfg.Servers) == 0 {
			return nil, fmt.Errorf("discovery: no DNS server: %v", err)
		}
		server = net.JoinHostPort(cfg.Servers[0], cfg.Port)
	}
	q := &dnsQuerier{server: server, c: &dns.Client{Timeout: 3 * time.Second}}
	var out []Service
	var errs []error
	for _, t := range types {
		ptrs, err := q.ask(ctx, t+"."+dns.Fqdn(fqdn), dns.TypePTR)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for i, rr := range ptrs {
			ptr, ok := rr.(*dns.PTR)
			if !ok || i >= maxDNSAnswers {
				continue
			}
			s, err := q.instance(ctx, ptr.Ptr, t)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			out = append(out, s)
		}
	}
	if len(out) == 0 && len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

type dnsQuerier struct {
	server string
	c      *dns.Client
}

func (q *dnsQuerier) ask(ctx context.Context, name string, t uint16) ([]dns.RR, error) {
	m := new(dns.Msg)
	m.SetQuestion(name, t)
	m.RecursionDesired = true
	r, _, err := q.c.ExchangeContext(ctx, m, q.server)
	if err != nil {
		return nil, fmt.Errorf("discovery: %s %s: %w", dns.TypeToString[t], name, err)
	}
	if r.Rcode != dns.RcodeSuccess && r.Rcode != dns.RcodeNameError {
		return nil, fmt.Errorf("discovery: %s %s: %s", dns.TypeToString[t], name, dns.RcodeToString[r.Rcode])
	}
	return append(r.Answer, r.Extra...), nil
}

// instance reads one service instance: its SRV, TXT and address records.
// The instance's label is its Endpoint ID [R-DIS.8].
func (q *dnsQuerier) instance(ctx context.Context, name, typ string) (Service, error) {
	i := strings.Index(strings.ToLower(name), "."+strings.ToLower(typ)+".")
	if i <= 0 {
		return Service{}, fmt.Errorf("discovery: %s is not an instance of %s", name, typ)
	}
	s := Service{Instance: unescapeLabel(name[:i]), Type: typ}
	rrs, err := q.ask(ctx, name, dns.TypeSRV)
	if err != nil {
		return s, err
	}
	txts, err := q.ask(ctx, name, dns.TypeTXT)
	if err != nil {
		return s, err
	}
	for _, rr := range append(rrs, txts...) {
		switch v := rr.(type) {
		case *dns.SRV:
			if strings.EqualFold(v.Hdr.Name, name) && s.Port == 0 {
				s.Host, s.Port = strings.TrimSuffix(v.Target, "."), v.Port
			}
		case *dns.TXT:
			if strings.EqualFold(v.Hdr.Name, name) {
				s.setTXT(v.Txt)
			}
		}
	}
	if s.Port == 0 {
		return s, fmt.Errorf("discovery: no SRV record for %s", name)
	}
	for _, t := range []uint16{dns.TypeA, dns.TypeAAAA} {
		as, err := q.ask(ctx, dns.Fqdn(s.Host), t)
		if err != nil {
			continue
		}
		for _, rr := range as {
			switch v := rr.(type) {
			case *dns.A:
				if a, ok := netip.AddrFromSlice(v.A.To4()); ok {
					s.Addrs = append(s.Addrs, a)
				}
			case *dns.AAAA:
				if a, ok := netip.AddrFromSlice(v.AAAA); ok {
					s.Addrs = append(s.Addrs, a)
				}
			}
		}
	}
	if len(s.Addrs) == 0 {
		return s, fmt.Errorf("discovery: no address for %s", s.Host)
	}
	return s, nil
}
