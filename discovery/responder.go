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

// announcements is how many unsolicited responses a Responder sends at
// start, one second apart, then doubling (RFC 6762 section 8.3 asks for at
// least two).
const announcements = 3

// servicesName is the DNS-SD meta-query name (RFC 6763 section 9).
const servicesName = "_services._dns-sd._udp." + domain

// Responder advertises services with mDNS: it announces them when it
// starts, answers queries for them, and says goodbye when closed
// [R-DIS.3]. Its methods are safe for concurrent use.
type Responder struct {
	g    *group
	opt  *Options
	svcs []Service
	stop context.CancelFunc
	wg   sync.WaitGroup
	once sync.Once
}

// Advertise starts a Responder for the services on the interfaces of o.
// It returns once the sockets are open; the announcements and answers run
// until Close or until ctx is done.
func Advertise(ctx context.Context, o *Options, svcs ...Service) (*Responder, error) {
	for i := range svcs {
		if err := svcs[i].check(); err != nil {
			return nil, err
		}
	}
	if len(svcs) == 0 {
		return nil, errors.New("discovery: nothing to advertise")
	}
	g, err := openGroup(ctx, o)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	r := &Responder{g: g, opt: o, svcs: svcs, stop: cancel}
	r.wg.Go(func() { r.run(ctx) })
	return r, nil
}

// Services returns the advertised services.
func (r *Responder) Services() []Service { return r.svcs }

// Close sends goodbye packets (TTL 0, RFC 6762 section 10.1) and stops.
func (r *Responder) Close() error {
	r.once.Do(func() {
		r.stop()
		r.wg.Wait()
		for _, c := range r.g.conns {
			m := r.announcement(c)
			for _, rr := range append(m.Answer, m.Extra...) {
				rr.Header().Ttl = 0
			}
			if err := c.send(m, netip.AddrPort{}); err != nil {
				r.opt.logger().Debug("mdns: goodbye", "err", err)
			}
		}
		r.g.close()
	})
	return nil
}

func (r *Responder) run(ctx context.Context) {
	wait := time.Second
	next := time.NewTimer(0)
	defer next.Stop()
	sent := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-next.C:
			for _, c := range r.g.conns {
				if err := c.send(r.announcement(c), netip.AddrPort{}); err != nil {
					r.opt.logger().Warn("mdns: announcing", "iface", c.ifi.Name, "err", err)
				}
			}
			if sent++; sent < announcements {
				next.Reset(wait)
				wait *= 2
			}
		case p := <-r.g.in:
			r.answer(p)
		}
	}
}

// announcement is an unsolicited response with every record of every
// service.
func (r *Responder) announcement(c *conn) *dns.Msg {
	m := &dns.Msg{MsgHdr: dns.MsgHdr{Response: true, Authoritative: true}}
	for i := range r.svcs {
		s := &r.svcs[i]
		m.Answer = append(m.Answer, r.ptrs(s)...)
		m.Answer = append(m.Answer, r.srv(s), r.txt(s))
		m.Answer = append(m.Answer, r.addrs(s, c)...)
	}
	return m
}

// answer responds to a query that names one of our records (RFC 6762
// section 6). A query from a port other than 5353 is a legacy unicast
// query and gets a unicast answer with its ID and question (section 6.7).
func (r *Responder) answer(p packet) {
	q := p.msg
	if q.Response || q.Opcode != dns.OpcodeQuery || q.Rcode != 0 {
		return
	}
	m := &dns.Msg{MsgHdr: dns.MsgHdr{Response: true, Authoritative: true}}
	have := map[string]bool{}
	add := func(list *[]dns.RR, rrs ...dns.RR) {
		for _, rr := range rrs {
			if k := rr.String(); !have[k] && !r.known(q, rr) {
				have[k] = true
				*list = append(*list, rr)
			}
		}
	}
	for _, question := range q.Question {
		name := strings.ToLower(question.Name)
		qt := question.Qtype
		for i := range r.svcs {
			s := &r.svcs[i]
			switch {
			case name == servicesName && (qt == dns.TypePTR || qt == dns.TypeANY):
				add(&m.Answer, &dns.PTR{Hdr: hdr(servicesName, dns.TypePTR, otherTTL, false), Ptr: s.Type + "." + domain})
			case r.matchesPTR(s, name) && (qt == dns.TypePTR || qt == dns.TypeANY):
				for _, ptr := range r.ptrs(s) {
					if strings.EqualFold(ptr.Header().Name, name) {
						add(&m.Answer, ptr)
					}
				}
				add(&m.Extra, r.srv(s), r.txt(s))
				add(&m.Extra, r.addrs(s, p.on)...)
			case strings.EqualFold(name, s.InstanceName()):
				if qt == dns.TypeSRV || qt == dns.TypeANY {
					add(&m.Answer, r.srv(s))
					add(&m.Extra, r.addrs(s, p.on)...)
				}
				if qt == dns.TypeTXT || qt == dns.TypeANY {
					add(&m.Answer, r.txt(s))
				}
			case strings.EqualFold(name, s.hostName()) && (qt == dns.TypeA || qt == dns.TypeAAAA || qt == dns.TypeANY):
				for _, rr := range r.addrs(s, p.on) {
					if qt == dns.TypeANY || rr.Header().Rrtype == qt {
						add(&m.Answer, rr)
					}
				}
			}
		}
	}
	if len(m.Answer) == 0 {
		return
	}
	to := netip.AddrPort{}
	if p.from.Port() != uint16(p.on.port) {
		m.Id = q.Id
		m.Question = q.Question
		to = p.from
		for _, rr := range append(m.Answer, m.Extra...) {
			rr.Header().Class &^= 1 << 15
			rr.Header().Ttl = min(rr.Header().Ttl, 10)
		}
	}
	if err := p.on.send(m, to); err != nil {
		r.opt.logger().Warn("mdns: answering", "iface", p.on.ifi.Name, "err", err)
	}
}

// known says whether the query's Known-Answer list holds rr with at least
// half its TTL (RFC 6762 section 7.1).
func (r *Responder) known(q *dns.Msg, rr dns.RR) bool {
	for _, k := range q.Answer {
		if k.Header().Rrtype == rr.Header().Rrtype && k.Header().Ttl >= rr.Header().Ttl/2 && dns.IsDuplicate(k, rr) {
			return true
		}
	}
	return false
}

func (r *Responder) matchesPTR(s *Service, name string) bool {
	if strings.EqualFold(name, s.Type+"."+domain) {
		return true
	}
	for _, st := range s.Subtypes {
		if strings.EqualFold(name, st+"._sub."+s.Type+"."+domain) {
			return true
		}
	}
	return false
}

// ptrs are the service's PTR records, its type's and its subtypes'.
func (r *Responder) ptrs(s *Service) []dns.RR {
	out := []dns.RR{&dns.PTR{Hdr: hdr(s.Type+"."+domain, dns.TypePTR, otherTTL, false), Ptr: s.InstanceName()}}
	for _, st := range s.Subtypes {
		out = append(out, &dns.PTR{Hdr: hdr(st+"._sub."+s.Type+"."+domain, dns.TypePTR, otherTTL, false), Ptr: s.InstanceName()})
	}
	return out
}

func (r *Responder) srv(s *Service) dns.RR {
	return &dns.SRV{Hdr: hdr(s.InstanceName(), dns.TypeSRV, hostTTL, true), Priority: 0, Weight: 1, Port: s.Port, Target: s.hostName()}
}

func (r *Responder) txt(s *Service) dns.RR {
	return &dns.TXT{Hdr: hdr(s.InstanceName(), dns.TypeTXT, otherTTL, true), Txt: s.txt()}
}

// addrs are the A and AAAA records of the service's host: its own
// addresses, else those of the interface answering.
func (r *Responder) addrs(s *Service, c *conn) []dns.RR {
	as := s.Addrs
	if len(as) == 0 && s.Host != "" && isIP(s.Host) {
		as = []netip.Addr{netip.MustParseAddr(s.Host)}
	}
	if len(as) == 0 && s.Host != "" && !isLocal(s.Host) {
		return nil // a name outside .local. is for unicast DNS to resolve
	}
	if len(as) == 0 {
		as = c.addrs()
	}
	var out []dns.RR
	for _, a := range as {
		if a.Is4() || a.Is4In6() {
			out = append(out, &dns.A{Hdr: hdr(s.hostName(), dns.TypeA, hostTTL, true), A: a.Unmap().AsSlice()})
		} else {
			out = append(out, &dns.AAAA{Hdr: hdr(s.hostName(), dns.TypeAAAA, hostTTL, true), AAAA: a.WithZone("").AsSlice()})
		}
	}
	return out
}

// hdr is a record header; unique records carry the cache-flush bit (RFC
// 6762 section 10.2).
func hdr(name string, t uint16, ttl uint32, unique bool) dns.RR_Header {
	class := uint16(dns.ClassINET)
	if unique {
		class |= 1 << 15
	}
	return dns.RR_Header{Name: name, Rrtype: t, Class: class, Ttl: ttl}
}
