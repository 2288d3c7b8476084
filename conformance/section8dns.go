package conformance

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// dnsMaxQueries bounds the questions a DNSServer records.
const dnsMaxQueries = 1024

// DNSQuery is one question a DNSServer received.
type DNSQuery struct {
	Name string // lower case, fully qualified
	Type uint16
	From netip.AddrPort
	At   time.Time
}

// DNSController is what a DNSServer says of one Controller with DNS-SD
// (RFC 6763) under a domain: a PTR record for its service type, the SRV
// and TXT records of its instance (named by its Endpoint ID [R-DIS.8]) and
// the A record of its host.
type DNSController struct {
	// Domain is the FQDN the DHCP server gives ("tp469.test").
	Domain string
	// EndpointID names the instance.
	EndpointID string
	// Type is the service type ("_usp-ctr-ws._tcp").
	Type string
	// Host is the SRV target, in Domain; Addr its address.
	Host string
	Addr netip.Addr
	Port uint16
	// Path is the TXT "path" attribute.
	Path string
}

// instance is the DNS-SD Service Instance Name, the Endpoint ID's dots
// and backslashes escaped (RFC 6763 section 4.3).
func (c *DNSController) instance() string {
	label := strings.NewReplacer(`\`, `\\`, ".", `\.`).Replace(c.EndpointID)
	return label + "." + c.Type + "." + dns.Fqdn(c.Domain)
}

// DNSServer is the runner's own unicast DNS server for case 8.3: it
// answers the DNS-SD questions of one Controller that the case sets and
// records every question. Names of other domains are refused. Its methods
// are safe for concurrent use.
type DNSServer struct {
	srv  *dns.Server
	addr netip.AddrPort
	log  *slog.Logger
	done chan struct{}

	mu      sync.Mutex
	ctrl    *DNSController
	queries []DNSQuery
}

// ListenDNS starts a DNSServer on addr (UDP, "10.1.2.1:53") until Close or
// until ctx is done.
func ListenDNS(ctx context.Context, addr string, log *slog.Logger) (*DNSServer, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var lc net.ListenConfig
	pc, err := lc.ListenPacket(ctx, "udp", addr)
	if err != nil {
		return nil, fmt.Errorf("conformance: dns: %w", err)
	}
	s := &DNSServer{addr: pc.LocalAddr().(*net.UDPAddr).AddrPort(), log: log, done: make(chan struct{})}
	started := make(chan struct{})
	s.srv = &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(s.serve), NotifyStartedFunc: func() { close(started) }}
	go func() {
		defer close(s.done)
		if err := s.srv.ActivateAndServe(); err != nil {
			log.Warn("dns: stopped", "err", err)
		}
	}()
	select {
	case <-started:
	case <-s.done:
		return nil, fmt.Errorf("conformance: dns on %s did not start", addr)
	}
	context.AfterFunc(ctx, func() { s.Close() })
	return s, nil
}

// Addr is where the server listens.
func (s *DNSServer) Addr() netip.AddrPort { return s.addr }

// Close stops the server and waits for it.
func (s *DNSServer) Close() error {
	err := s.srv.Shutdown()
	<-s.done
	return err
}

// SetController sets the Controller the server answers for; nil answers
// none.
func (s *DNSServer) SetController(c *DNSController) {
	s.mu.Lock()
	s.ctrl = c
	s.mu.Unlock()
}

// Queries returns the questions received at or after since.
func (s *DNSServer) Queries(since time.Time) []DNSQuery {
	return recordedSince(&s.mu, &s.queries, since, func(q DNSQuery) time.Time { return q.At })
}

func (s *DNSServer) serve(w dns.ResponseWriter, q *dns.Msg) {
	r := new(dns.Msg)
	r.SetReply(q)
	r.Authoritative = true
	from, _ := netip.ParseAddrPort(w.RemoteAddr().String())
	s.mu.Lock()
	c := s.ctrl
	for _, question := range q.Question {
		if len(s.queries) < dnsMaxQueries {
			s.queries = append(s.queries, DNSQuery{Name: strings.ToLower(question.Name), Type: question.Qtype, From: from, At: time.Now()})
		}
	}
	s.mu.Unlock()
	if len(q.Question) != 1 || c == nil || !dns.IsSubDomain(dns.Fqdn(c.Domain), strings.ToLower(q.Question[0].Name)) {
		r.Rcode = dns.RcodeRefused
		s.write(w, r)
		return
	}
	question := q.Question[0]
	name, qt := strings.ToLower(question.Name), question.Qtype
	typeName := strings.ToLower(c.Type + "." + dns.Fqdn(c.Domain))
	inst := c.instance()
	host := strings.ToLower(dns.Fqdn(c.Host))
	const ttl = 60
	h := func(t uint16) dns.RR_Header {
		return dns.RR_Header{Name: question.Name, Rrtype: t, Class: dns.ClassINET, Ttl: ttl}
	}
	switch {
	case name == typeName:
		if qt == dns.TypePTR || qt == dns.TypeANY {
			r.Answer = append(r.Answer, &dns.PTR{Hdr: h(dns.TypePTR), Ptr: inst})
		}
	case strings.EqualFold(name, inst):
		if qt == dns.TypeSRV || qt == dns.TypeANY {
			r.Answer = append(r.Answer, &dns.SRV{Hdr: h(dns.TypeSRV), Priority: 0, Weight: 1, Port: c.Port, Target: dns.Fqdn(c.Host)})
		}
		if qt == dns.TypeTXT || qt == dns.TypeANY {
			r.Answer = append(r.Answer, &dns.TXT{Hdr: h(dns.TypeTXT), Txt: []string{"path=" + c.Path}})
		}
	case name == host:
		if (qt == dns.TypeA || qt == dns.TypeANY) && c.Addr.Is4() {
			r.Answer = append(r.Answer, &dns.A{Hdr: h(dns.TypeA), A: c.Addr.AsSlice()})
		}
	default:
		r.Rcode = dns.RcodeNameError
	}
	s.write(w, r)
}

func (s *DNSServer) write(w dns.ResponseWriter, r *dns.Msg) {
	if err := w.WriteMsg(r); err != nil {
		s.log.Warn("dns: answering", "err", err)
	}
}
