package discovery

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// maxHostQueries bounds the questions a HostResponder keeps.
const maxHostQueries = 256

// HostQuery is one mDNS question for a HostResponder's name.
type HostQuery struct {
	// From is the querier's address and port.
	From netip.AddrPort
	// Type is the question's type (dns.TypeA, dns.TypeAAAA, dns.TypeANY).
	Type uint16
	// At is when it arrived.
	At time.Time
}

// HostResponder answers the mDNS questions for the addresses of one host
// name in ".local." and records who asked. It announces nothing: an Endpoint
// that needs the name has to ask for it [R-DIS.5]. Its methods are safe for
// concurrent use.
type HostResponder struct {
	g     *group
	name  string
	addrs []netip.Addr
	stop  context.CancelFunc
	wg    sync.WaitGroup
	once  sync.Once

	mu      sync.Mutex
	queries []HostQuery
}

// AnswerHost starts a HostResponder for host (in ".local.") with addrs on
// the interfaces of o; an empty addrs answers with the addresses of the
// interface the question came on. It runs until Close or until ctx is done.
func AnswerHost(ctx context.Context, o *Options, host string, addrs ...netip.Addr) (*HostResponder, error) {
	name := strings.ToLower(dns.Fqdn(host))
	if !strings.HasSuffix(name, "."+domain) || name == domain {
		return nil, errors.New("discovery: " + host + " is not a name in .local.")
	}
	g, err := openGroup(ctx, o)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	h := &HostResponder{g: g, name: name, addrs: addrs, stop: cancel}
	h.wg.Go(func() { h.run(ctx, o) })
	return h, nil
}

// Queries returns the questions for the name heard so far, oldest first.
func (h *HostResponder) Queries() []HostQuery {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]HostQuery(nil), h.queries...)
}

// Close stops answering.
func (h *HostResponder) Close() error {
	h.once.Do(func() {
		h.stop()
		h.wg.Wait()
		h.g.close()
	})
	return nil
}

func (h *HostResponder) run(ctx context.Context, o *Options) {
	for {
		select {
		case <-ctx.Done():
			return
		case p := <-h.g.in:
			h.answer(p, o)
		}
	}
}

// answer responds to the questions of p that name the host (RFC 6762
// section 6), by unicast to a legacy querier (section 6.7).
func (h *HostResponder) answer(p packet, o *Options) {
	q := p.msg
	if q.Response || q.Opcode != dns.OpcodeQuery {
		return
	}
	m := &dns.Msg{MsgHdr: dns.MsgHdr{Response: true, Authoritative: true}}
	for _, question := range q.Question {
		qt := question.Qtype
		if !strings.EqualFold(question.Name, h.name) || qt != dns.TypeA && qt != dns.TypeAAAA && qt != dns.TypeANY {
			continue
		}
		h.mu.Lock()
		if len(h.queries) < maxHostQueries {
			h.queries = append(h.queries, HostQuery{From: p.from, Type: qt, At: time.Now()})
		}
		h.mu.Unlock()
		as := h.addrs
		if len(as) == 0 {
			as = p.on.addrs()
		}
		for _, a := range as {
			switch {
			case (a.Is4() || a.Is4In6()) && qt != dns.TypeAAAA:
				m.Answer = append(m.Answer, &dns.A{Hdr: hdr(h.name, dns.TypeA, hostTTL, true), A: a.Unmap().AsSlice()})
			case a.Is6() && !a.Is4In6() && qt != dns.TypeA:
				m.Answer = append(m.Answer, &dns.AAAA{Hdr: hdr(h.name, dns.TypeAAAA, hostTTL, true), AAAA: a.WithZone("").AsSlice()})
			}
		}
	}
	if len(m.Answer) == 0 {
		return
	}
	to := netip.AddrPort{}
	if p.from.Port() != uint16(p.on.port) {
		m.Id, m.Question, to = q.Id, q.Question, p.from
		for _, rr := range m.Answer {
			rr.Header().Class &^= 1 << 15
			rr.Header().Ttl = min(rr.Header().Ttl, 10)
		}
	}
	if err := p.on.send(m, to); err != nil {
		o.logger().Warn("mdns: answering", "iface", p.on.ifi.Name, "err", err)
	}
}
