package discovery

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// maxQueryInterval caps the doubling interval between queries (RFC 6762
// section 5.2 continuous querying).
const maxQueryInterval = time.Minute

// maxInstances bounds the instances a Browse remembers, so that a noisy
// network cannot grow it without end.
const maxInstances = 256

// Browse looks for services of the given types (ControllerMQTT, …) on the
// interfaces of o until ctx is done. It queries with doubling intervals
// (RFC 6762 section 5.2), listens to every response on the link including
// unsolicited announcements, asks for a missing SRV, TXT or address, and
// calls found, from one goroutine, with each instance once it has an SRV
// and a TXT record and an address, and again whenever one of them changes.
// An instance whose records are withdrawn (TTL 0) is passed with Port 0.
// Browse returns ctx's error, or an error opening the sockets.
func Browse(ctx context.Context, o *Options, types []string, found func(Service)) error {
	if len(types) == 0 {
		return errors.New("discovery: no service type to browse")
	}
	g, err := openGroup(ctx, o)
	if err != nil {
		return err
	}
	defer g.close()
	b := &browser{g: g, o: o, types: map[string]bool{}, accept: map[string]bool{}, insts: map[string]*instance{}, hosts: map[string][]netip.Addr{}, found: found}
	for _, t := range types {
		t = strings.ToLower(t)
		b.types[t] = true
		// A subtype's instances are of its base type.
		if _, base, ok := strings.Cut(t, "._sub."); ok {
			t = base
		}
		b.accept[t] = true
	}
	return b.run(ctx)
}

// Lookup resolves one service instance by name (a Controller's Endpoint ID
// and type), the way an Agent finds a LAN Controller that does not publish
// PTR records, and returns it once it has SRV, TXT and an address.
func Lookup(ctx context.Context, o *Options, id, serviceType string) (Service, error) {
	g, err := openGroup(ctx, o)
	if err != nil {
		return Service{}, err
	}
	defer g.close()
	var out Service
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	st := strings.ToLower(serviceType)
	b := &browser{g: g, o: o, types: map[string]bool{st: true}, accept: map[string]bool{st: true}, insts: map[string]*instance{},
		hosts: map[string][]netip.Addr{}, found: func(s Service) {
			if s.Instance == id && s.Port != 0 {
				out = s
				cancel()
			}
		}}
	s := Service{Instance: id, Type: serviceType}
	b.only = s.InstanceName()
	b.inst(id, strings.ToLower(serviceType))
	err = b.run(ctx)
	if out.Port != 0 {
		return out, nil
	}
	return Service{}, err
}

// Resolve returns the addresses of a host name in ".local." with mDNS
// [R-DIS.5].
func Resolve(ctx context.Context, o *Options, host string) ([]netip.Addr, error) {
	host = strings.ToLower(dns.Fqdn(host))
	if !strings.HasSuffix(host, "."+domain) {
		return nil, errors.New("discovery: " + host + " is not in .local.")
	}
	g, err := openGroup(ctx, o)
	if err != nil {
		return nil, err
	}
	defer g.close()
	b := &browser{g: g, o: o, hosts: map[string][]netip.Addr{}}
	q := &dns.Msg{}
	q.Question = []dns.Question{{Name: host, Qtype: dns.TypeA, Qclass: dns.ClassINET}, {Name: host, Qtype: dns.TypeAAAA, Qclass: dns.ClassINET}}
	wait := time.Second
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-t.C:
			b.sendAll(q)
			t.Reset(wait)
			wait = min(2*wait, maxQueryInterval)
		case p := <-g.in:
			b.absorb(p.msg, p.on)
			if as := b.hosts[host]; len(as) > 0 {
				return as, nil
			}
		}
	}
}

// instance is what a browser knows of one service instance.
type instance struct {
	svc      Service
	srv, txt bool
	asked    time.Time
	reported string
}

type browser struct {
	g      *group
	o      *Options
	types  map[string]bool // the PTR names queried
	accept map[string]bool // the service types of the instances kept
	only   string          // an instance name, for Lookup
	insts  map[string]*instance
	hosts  map[string][]netip.Addr
	found  func(Service)
}

func (b *browser) run(ctx context.Context) error {
	wait := time.Second
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			b.sendAll(b.query())
			t.Reset(wait)
			wait = min(2*wait, maxQueryInterval)
		case p := <-b.g.in:
			b.absorb(p.msg, p.on)
			b.report()
		}
	}
}

// query asks for the types' PTR records, with the instances already known
// as Known Answers (RFC 6762 section 7.1), or for one instance.
func (b *browser) query() *dns.Msg {
	q := &dns.Msg{}
	if b.only != "" {
		q.Question = []dns.Question{{Name: b.only, Qtype: dns.TypeSRV, Qclass: dns.ClassINET}, {Name: b.only, Qtype: dns.TypeTXT, Qclass: dns.ClassINET}}
		return q
	}
	for t := range b.types {
		q.Question = append(q.Question, dns.Question{Name: t + "." + domain, Qtype: dns.TypePTR, Qclass: dns.ClassINET})
	}
	for _, in := range b.insts {
		if in.srv && in.txt {
			q.Answer = append(q.Answer, &dns.PTR{Hdr: hdr(in.svc.Type+"."+domain, dns.TypePTR, otherTTL, false), Ptr: in.svc.InstanceName()})
		}
	}
	return q
}

func (b *browser) sendAll(q *dns.Msg) {
	if b.o != nil && b.o.Passive {
		return
	}
	for _, c := range b.g.conns {
		if err := c.send(q, netip.AddrPort{}); err != nil {
			b.o.logger().Warn("mdns: querying", "iface", c.ifi.Name, "err", err)
		}
	}
}

// inst returns the record of an instance of a browsed type, making it.
func (b *browser) inst(name, typ string) *instance {
	key := strings.ToLower(name) + "." + typ
	in := b.insts[key]
	if in == nil {
		if len(b.insts) >= maxInstances {
			return nil
		}
		in = &instance{svc: Service{Instance: name, Type: typ}}
		b.insts[key] = in
	}
	return in
}

// absorb takes the records of a response (answers and additional records
// alike, RFC 6762 section 6).
func (b *browser) absorb(m *dns.Msg, on *conn) {
	if !m.Response {
		return
	}
	zone := ""
	if on != nil {
		zone = on.ifi.Name
	}
	rrs := append(append([]dns.RR{}, m.Answer...), m.Extra...)
	for _, rr := range rrs {
		h := rr.Header()
		switch v := rr.(type) {
		case *dns.A:
			a, _ := netip.AddrFromSlice(v.A.To4())
			b.addHost(h.Name, a, h.Ttl)
		case *dns.AAAA:
			a, _ := netip.AddrFromSlice(v.AAAA)
			if a.IsLinkLocalUnicast() {
				// A link-local address is only usable with its interface.
				a = a.WithZone(zone)
			}
			b.addHost(h.Name, a, h.Ttl)
		}
	}
	for _, rr := range rrs {
		h := rr.Header()
		switch v := rr.(type) {
		case *dns.PTR:
			if b.types[strings.ToLower(strings.TrimSuffix(h.Name, "."+domain))] {
				if name, typ, ok := splitInstance(v.Ptr); ok && b.accept[typ] {
					in := b.inst(name, typ)
					if in != nil && h.Ttl == 0 {
						in.srv, in.svc.Port = false, 0
					}
				}
			}
		case *dns.SRV:
			if name, typ, ok := splitInstance(h.Name); ok && b.accept[typ] {
				if in := b.inst(name, typ); in != nil {
					in.srv = h.Ttl > 0
					in.svc.Port, in.svc.Host = v.Port, strings.TrimSuffix(v.Target, ".")
					if h.Ttl == 0 {
						in.svc.Port = 0
					}
				}
			}
		case *dns.TXT:
			if name, typ, ok := splitInstance(h.Name); ok && b.accept[typ] {
				if in := b.inst(name, typ); in != nil {
					in.txt = true
					in.svc.setTXT(v.Txt)
				}
			}
		}
	}
}

func (b *browser) addHost(name string, a netip.Addr, ttl uint32) {
	if !a.IsValid() {
		return
	}
	name = strings.ToLower(name)
	as := b.hosts[name]
	if ttl == 0 {
		var keep []netip.Addr
		for _, x := range as {
			if x != a.Unmap() {
				keep = append(keep, x)
			}
		}
		b.hosts[name] = keep
		return
	}
	for _, x := range as {
		if x == a.Unmap() {
			return
		}
	}
	if len(b.hosts) < maxInstances {
		b.hosts[name] = append(as, a.Unmap())
	}
}

// report passes on what is complete and asks for what is missing.
func (b *browser) report() {
	q := &dns.Msg{}
	now := time.Now()
	for _, in := range b.insts {
		withdrawn := !in.srv && in.reported != "" && in.svc.Port == 0
		if withdrawn {
			in.reported = ""
			b.found(in.svc)
			continue
		}
		host := strings.ToLower(in.svc.Host) + "."
		addrs := b.hosts[host]
		// A target outside .local. is resolved with unicast DNS, by the
		// caller; mDNS need not give its address.
		needAddr := isLocal(in.svc.Host) && len(addrs) == 0
		if !in.srv || !in.txt || needAddr {
			if now.Sub(in.asked) > time.Second {
				in.asked = now
				name := in.svc.InstanceName()
				if !in.srv {
					q.Question = append(q.Question, dns.Question{Name: name, Qtype: dns.TypeSRV, Qclass: dns.ClassINET})
				}
				if !in.txt {
					q.Question = append(q.Question, dns.Question{Name: name, Qtype: dns.TypeTXT, Qclass: dns.ClassINET})
				}
				if in.srv && needAddr {
					q.Question = append(q.Question, dns.Question{Name: host, Qtype: dns.TypeA, Qclass: dns.ClassINET})
				}
			}
			continue
		}
		s := in.svc
		s.Addrs = append([]netip.Addr(nil), addrs...)
		if k := s.key(); k != in.reported {
			in.reported = k
			b.found(s)
		}
	}
	if len(q.Question) > 0 {
		b.sendAll(q)
	}
}
