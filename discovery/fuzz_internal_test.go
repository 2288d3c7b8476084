package discovery

import (
	"log/slog"
	"net"
	"net/netip"
	"testing"

	"github.com/miekg/dns"
	"golang.org/x/net/ipv4"
)

// FuzzPacket: whatever a packet on the link holds, the browser's and the
// responder's handling of it neither panics nor grows without bound.
func FuzzPacket(f *testing.F) {
	svc := Service{Instance: "os::fuzz.x", Type: AgentWebSocket, Subtypes: []string{"_gateway"}, Port: 5683, Path: "/usp", Name: "n"}
	r := &Responder{opt: &Options{Logger: slog.New(slog.DiscardHandler)}, svcs: []Service{svc}}
	for _, m := range []*dns.Msg{r.announcement(&conn{}), queryFor(svc.InstanceName(), dns.TypeANY), queryFor(AgentWebSocket+".local.", dns.TypePTR),
		queryFor(servicesName, dns.TypePTR)} {
		b, err := m.Pack()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m := new(dns.Msg)
		if m.Unpack(b) != nil {
			return
		}
		br := &browser{o: &Options{Passive: true}, types: map[string]bool{"_usp-agt-ws._tcp": true, "_gateway._sub._usp-agt-ws._tcp": true},
			accept: map[string]bool{"_usp-agt-ws._tcp": true}, insts: map[string]*instance{}, hosts: map[string][]netip.Addr{},
			found: func(Service) {}}
		br.absorb(m, nil)
		br.report()
		if len(br.insts) > maxInstances || len(br.hosts) > maxInstances {
			t.Fatalf("%d instances, %d hosts", len(br.insts), len(br.hosts))
		}
		// The responder's answer goes out on a conn; a closed socket makes
		// the send fail harmlessly.
		pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Skip(err)
		}
		c := &conn{c: pc, pc: ipv4.NewPacketConn(pc), port: DefaultPort}
		pc.Close()
		r.answer(packet{msg: m, from: netip.MustParseAddrPort("127.0.0.1:5353"), on: c})
	})
}

func queryFor(name string, t uint16) *dns.Msg {
	m := new(dns.Msg)
	m.SetQuestion(name, t)
	return m
}
