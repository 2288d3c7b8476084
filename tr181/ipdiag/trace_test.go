package ipdiag_test

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/uspkit/uspkit/tr181/ipdiag"
	"github.com/uspkit/uspkit/usperr"
)

// TestTraceRouteLoopback: a trace to the host itself ends at the first
// hop, which is the destination (its port unreachable answer).
func TestTraceRouteLoopback(t *testing.T) {
	for _, icmp := range []bool{false, true} {
		f := newFixture(t, &ipdiag.Options{TraceICMP: icmp})
		for _, host := range []string{"127.0.0.1", "::1"} {
			t.Run(fmt.Sprintf("%s ICMP %v", host, icmp), func(t *testing.T) {
				if host == "::1" && !hasIPv6Loopback() {
					t.Skip("SKIP: no IPv6 loopback")
				}
				out := f.mustRun(t, "Device.IP.Diagnostics.TraceRoute()", map[string]string{"Host": host, "ProtocolVersion": "Any",
					"NumberOfTries": "1", "Timeout": "2000", "MaxHopCount": "5"})
				if out["Status"] != "Complete" || out["RouteHops.1.HostAddress"] != host || out["RouteHops.2.HostAddress"] != "" {
					t.Fatalf("%v\n%s", out, f.log)
				}
				if names, _ := net.LookupAddr(host); len(names) > 0 && out["RouteHops.1.Host"] != strings.TrimSuffix(names[0], ".") {
					t.Errorf("RouteHops.1.Host %q, want the name %q", out["RouteHops.1.Host"], names[0])
				}
			})
		}
	}
}

// TestTraceRouteDefaults: without NumberOfTries, Timeout, DataBlockSize
// and MaxHopCount the trace uses TR-181's defaults: a silent first hop
// gets 3 probes 5000 ms apart (TP-469 1.92), each of 38 bytes.
func TestTraceRouteDefaults(t *testing.T) {
	if testing.Short() {
		t.Skip("SKIP: waits 15 s (-short)")
	}
	port := 41000 + int(time.Now().UnixNano()%4000)
	f := newFixture(t, &ipdiag.Options{TracePort: port})
	type probe struct {
		at   time.Time
		size int
	}
	got := make(chan probe, 8)
	for i := range 3 { // listening on the probes' ports keeps them unanswered
		c, err := net.ListenPacket("udp4", "127.0.0.1:"+strconv.Itoa(port+i))
		if err != nil {
			t.Skipf("SKIP: port %d: %v", port+i, err)
		}
		defer c.Close()
		go func() {
			b := make([]byte, 2048)
			n, _, err := c.ReadFrom(b)
			if err == nil {
				got <- probe{time.Now(), n}
			}
		}()
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := f.run(t, ctx, "Device.IP.Diagnostics.TraceRoute()", map[string]string{"Host": "127.0.0.1", "ProtocolVersion": "Any"})
		done <- err
	}()
	var ps []probe
	for len(ps) < 3 {
		select {
		case p := <-got:
			ps = append(ps, p)
		case <-time.After(8 * time.Second):
			t.Fatalf("%d probes", len(ps))
		}
	}
	for i, p := range ps {
		if p.size != 38 {
			t.Errorf("probe %d: %d bytes, want 38", i, p.size)
		}
		if i > 0 {
			gap := p.at.Sub(ps[i-1].at)
			t.Logf("probe %d: %v after the one before", i+1, gap)
			if gap < 4950*time.Millisecond || gap > 5050*time.Millisecond {
				t.Errorf("probe %d came %v after the one before, want 5000 ms ±1%%", i, gap)
			}
		}
	}
	cancel() // Cancel() ends the trace at once
	select {
	case err := <-done:
		if usperr.Code(err) != usperr.CodeCommandCanceled {
			t.Errorf("a cancelled trace ended with %v, want 7023", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("the trace went on after its context ended")
	}
}

// TestHardCap: a test that its inputs would let run for minutes ends at
// the Diag's MaxDuration with a command failure (7022).
func TestHardCap(t *testing.T) {
	port := 45000 + int(time.Now().UnixNano()%4000)
	c, err := net.ListenPacket("udp4", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		t.Skipf("SKIP: port %d: %v", port, err)
	}
	defer c.Close()
	f := newFixture(t, &ipdiag.Options{TracePort: port, MaxDuration: 300 * time.Millisecond})
	start := time.Now()
	_, err = f.run(t, context.Background(), "Device.IP.Diagnostics.TraceRoute()", map[string]string{"Host": "127.0.0.1", "ProtocolVersion": "IPv4",
		"Timeout": "60000"})
	if err == nil || !strings.Contains(err.Error(), "time limit") {
		t.Errorf("err %v", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("took %v", took)
	}
}
