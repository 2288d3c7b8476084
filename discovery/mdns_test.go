package discovery_test

import (
	"context"
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/uspkit/uspkit/discovery"
)

// loopback returns options for mDNS on the loopback interface on a port of
// its own, so that tests never send on a real network and do not hear
// each other.
func loopback(t *testing.T) *discovery.Options {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	port := c.LocalAddr().(*net.UDPAddr).Port
	c.Close()
	return &discovery.Options{Interface: loName(t), Port: port}
}

func loName(t *testing.T) string {
	ifs, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range ifs {
		if i.Flags&net.FlagLoopback != 0 && i.Flags&net.FlagUp != 0 {
			return i.Name
		}
	}
	t.Skip("no loopback interface is up")
	return ""
}

func browseOne(t *testing.T, o *discovery.Options, typ string, want func(discovery.Service) bool) discovery.Service {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	var got discovery.Service
	err := discovery.Browse(ctx, o, []string{typ}, func(s discovery.Service) {
		if want(s) {
			got = s
			cancel()
		}
	})
	if got.Instance == "" {
		t.Fatalf("browsing %s found nothing: %v", typ, err)
	}
	return got
}

// TestControllerAdvertisement: the Controller's records carry the TXT
// attributes of its MTP [R-DIS.8] [R-DIS.11] [R-DIS.11a] [R-MQTT.37], and
// point at the broker's address [R-MQTT.38].
func TestControllerAdvertisement(t *testing.T) {
	o := loopback(t)
	cases := []struct {
		name string
		svc  discovery.Service
	}{
		{"mqtt", discovery.Service{Instance: "proto::uspkit.controller", Type: discovery.ControllerMQTT, Host: "127.0.0.1", Port: 1883,
			Path: "usp/controller"}},
		{"ws-encrypted", discovery.Service{Instance: "os::012345-CTR", Type: discovery.ControllerWebSocket, Port: 8443, Path: "/usp",
			Encrypt: true}},
		{"stomp", discovery.Service{Instance: "self::ctr", Type: discovery.ControllerSTOMP, Host: "broker.local", Addrs: []netip.Addr{netip.MustParseAddr("127.0.0.2")},
			Port: 61613, Path: "/queue/controller", Text: []string{"x-extra=1"}}},
		// A broker named outside .local.: no address records, the name is
		// for unicast DNS.
		{"mqtt-dns-name", discovery.Service{Instance: "proto::dns-named", Type: discovery.ControllerMQTT, Host: "broker.example.test", Port: 8883,
			Path: "usp/c", Encrypt: true}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, err := discovery.Advertise(t.Context(), o, tc.svc)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			got := browseOne(t, o, tc.svc.Type, func(s discovery.Service) bool { return s.Instance == tc.svc.Instance })
			if got.Path != tc.svc.Path || got.Encrypt != tc.svc.Encrypt || got.Port != tc.svc.Port || !got.IsController() {
				t.Errorf("found %+v, want %+v", got, tc.svc)
			}
			if p, ok := got.TXT("path"); !ok || p != tc.svc.Path {
				t.Errorf("TXT path = %q %v [R-DIS.11]", p, ok)
			}
			want := tc.svc.Addrs
			switch {
			case tc.svc.Host == "broker.example.test":
				if len(got.Addrs) != 0 || got.Host != tc.svc.Host {
					t.Errorf("host %q addresses %v, want %s and none", got.Host, got.Addrs, tc.svc.Host)
				}
			case len(want) == 0:
				want = []netip.Addr{netip.MustParseAddr("127.0.0.1")}
				fallthrough
			default:
				if !slices.Contains(got.Addrs, want[0]) {
					t.Errorf("addresses %v, want %v [R-MQTT.38]", got.Addrs, want)
				}
			}
			if !slices.Equal(got.Text, tc.svc.Text) {
				t.Errorf("other TXT attributes %q, want %q", got.Text, tc.svc.Text)
			}
		})
	}
}

// TestAgentAdvertisement: an Agent's TXT record has path and name
// [R-DIS.9] [R-DIS.10] and answers a direct query (TP-469 8.7), and the
// records are announced without being asked (TP-469 8.5).
func TestAgentAdvertisement(t *testing.T) {
	o := loopback(t)
	svc := discovery.Service{Instance: "os::012345-CPE1", Type: discovery.AgentWebSocket, Subtypes: []string{"_gateway"}, Port: 5683, Path: "/usp",
		Name: "kitchen light"}
	// Listen before advertising, so that the announcement is heard.
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 0})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	got := make(chan discovery.Service, 1)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- discovery.Browse(ctx, o, []string{"_gateway._sub." + discovery.AgentWebSocket}, func(s discovery.Service) {
			select {
			case got <- s:
			default:
			}
		})
	}()
	r, err := discovery.Advertise(t.Context(), o, svc)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	select {
	case s := <-got:
		if s.Name != "kitchen light" || s.Path != "/usp" || s.IsController() || s.Protocol() != "WebSocket" {
			t.Errorf("found %+v", s)
		}
	case <-ctx.Done():
		t.Fatal("the agent's service was not found")
	}
	cancel()
	<-done

	// A legacy unicast query (from a port other than the group's) gets a
	// unicast answer with its ID and question (RFC 6762 section 6.7).
	q := new(dns.Msg)
	q.SetQuestion(svc.InstanceName(), dns.TypeTXT)
	q.Id = 4242
	b, _ := q.Pack()
	if _, err := c.WriteTo(b, &net.UDPAddr{IP: net.IPv4(224, 0, 0, 251), Port: o.Port}); err != nil {
		t.Skipf("cannot multicast on the loopback interface: %v", err)
	}
	buf := make([]byte, 9000)
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, _, err := c.ReadFrom(buf)
	if err != nil {
		t.Fatalf("no answer to a direct query (TP-469 8.7): %v", err)
	}
	a := new(dns.Msg)
	if err := a.Unpack(buf[:n]); err != nil {
		t.Fatal(err)
	}
	if a.Id != 4242 || len(a.Answer) != 1 {
		t.Fatalf("answer %v", a)
	}
	txt, ok := a.Answer[0].(*dns.TXT)
	if !ok || !slices.Contains(txt.Txt, "path=/usp") || !slices.Contains(txt.Txt, "name=kitchen light") {
		t.Errorf("TXT answer %v lacks path and name [R-DIS.9]", a.Answer[0])
	}
}

// TestLookupAndResolve: an Agent finds a Controller by its instance name
// and resolves a ".local." host name with mDNS [R-DIS.5].
func TestLookupAndResolve(t *testing.T) {
	o := loopback(t)
	svc := discovery.Service{Instance: "proto::ctr.with.dots", Type: discovery.ControllerWebSocket, Host: "ctr-host.local",
		Addrs: []netip.Addr{netip.MustParseAddr("127.0.0.3")}, Port: 8080, Path: "/usp"}
	r, err := discovery.Advertise(t.Context(), o, svc)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	got, err := discovery.Lookup(ctx, o, svc.Instance, svc.Type)
	if err != nil || got.Port != 8080 || got.Host != "ctr-host.local" {
		t.Fatalf("Lookup = %+v, %v", got, err)
	}
	as, err := discovery.Resolve(ctx, o, "ctr-host.local")
	if err != nil || !slices.Contains(as, netip.MustParseAddr("127.0.0.3")) {
		t.Fatalf("Resolve = %v, %v", as, err)
	}
}

// TestPassiveBrowse: a passive browser sends nothing and still hears a
// responder's unsolicited announcements (TP-469 8.5).
func TestPassiveBrowse(t *testing.T) {
	o := loopback(t)
	passive := *o
	passive.Passive = true
	got := make(chan discovery.Service, 1)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- discovery.Browse(ctx, &passive, []string{discovery.AgentMQTT}, func(s discovery.Service) {
			select {
			case got <- s:
			default:
			}
		})
	}()
	time.Sleep(200 * time.Millisecond) // the browser has joined the group
	r, err := discovery.Advertise(t.Context(), o, discovery.Service{Instance: "os::passive", Type: discovery.AgentMQTT, Host: "127.0.0.1", Port: 1883,
		Path: "usp/agent/os::passive", Name: "x"})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	select {
	case s := <-got:
		if s.Path != "usp/agent/os::passive" {
			t.Errorf("heard %+v", s)
		}
	case <-ctx.Done():
		t.Fatal("the announcement was not heard")
	}
	cancel()
	<-done
}

// TestResponderSurvivesBadPackets: packets that are not DNS messages,
// truncated ones, responses and odd queries are dropped or ignored, and
// the responder still answers afterwards.
func TestResponderSurvivesBadPackets(t *testing.T) {
	o := loopback(t)
	svc := discovery.Service{Instance: "os::sturdy", Type: discovery.AgentWebSocket, Port: 5683, Path: "/usp", Name: "n"}
	r, err := discovery.Advertise(t.Context(), o, svc)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	group := &net.UDPAddr{IP: net.IPv4(224, 0, 0, 251), Port: o.Port}
	weird := new(dns.Msg)
	weird.Question = []dns.Question{{Name: svc.InstanceName(), Qtype: dns.TypeNSEC, Qclass: dns.ClassANY}, {Name: ".", Qtype: dns.TypeANY, Qclass: dns.ClassINET}}
	wb, _ := weird.Pack()
	resp := new(dns.Msg)
	resp.Response = true
	resp.Answer = []dns.RR{&dns.SRV{Hdr: dns.RR_Header{Name: svc.InstanceName(), Rrtype: dns.TypeSRV, Class: dns.ClassINET, Ttl: 0}, Target: "x.local."}}
	rb, _ := resp.Pack()
	for _, b := range [][]byte{nil, {0}, []byte("not dns at all"), wb[:7], wb, rb, make([]byte, 9000)} {
		if _, err := c.WriteTo(b, group); err != nil {
			t.Skipf("cannot multicast on the loopback interface: %v", err)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	got, err := discovery.Lookup(ctx, o, svc.Instance, svc.Type)
	if err != nil || got.Path != "/usp" {
		t.Fatalf("after bad packets: %+v, %v", got, err)
	}
}
