package discovery_test

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/uspkit/uspkit/discovery"
)

// TestAnswerHost: a HostResponder gives the addresses of its ".local." name
// to Resolve [R-DIS.5] and records the questions, and only those for its
// name; a name outside ".local." is refused.
func TestAnswerHost(t *testing.T) {
	o := loopback(t)
	o.Network = "udp4"
	want := netip.MustParseAddr("127.0.0.9")
	h, err := discovery.AnswerHost(t.Context(), o, "Runner-8.local", want)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	as, err := discovery.Resolve(ctx, o, "runner-8.local.")
	if err != nil || len(as) != 1 || as[0] != want {
		t.Fatalf("Resolve: %v %v, want [%v]", as, err, want)
	}
	qs := h.Queries()
	if len(qs) == 0 || qs[0].Type != dns.TypeA || !qs[0].From.IsValid() {
		t.Fatalf("queries recorded: %+v", qs)
	}
	short, cancel2 := context.WithTimeout(t.Context(), 1500*time.Millisecond)
	defer cancel2()
	if as, err := discovery.Resolve(short, o, "other.local."); err == nil {
		t.Errorf("another name was answered: %v", as)
	}
	for _, q := range h.Queries()[len(qs):] {
		if q.Type == dns.TypeA {
			t.Errorf("a question for another name was recorded: %+v", q)
		}
	}
	for _, bad := range []string{"runner.example.com", "local."} {
		if _, err := discovery.AnswerHost(t.Context(), o, bad); err == nil {
			t.Errorf("AnswerHost(%q) accepted a name outside .local.", bad)
		}
	}
}
