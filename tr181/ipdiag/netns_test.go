package ipdiag_test

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/uspkit/uspkit/internal/testenv"
	"github.com/uspkit/uspkit/tr181/ipdiag"
	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"
)

// routed is three network namespaces, A and B each joined to R by a veth
// pair, R forwarding between them: A (10.201.N.2) — R — B (10.202.N.2).
type routed struct {
	ip        string
	A, R, B   string
	ifA       string // A's end of its link to R
	rA, addrB string // R's address towards A; B's address
	addrA, rB string
	ifRA, ifB string
	ifRB      string
	n         int
}

func newRouted(t *testing.T) *routed {
	t.Helper()
	ip := testenv.LookPath(t, "ip", "iproute2", "/usr/sbin", "/sbin")
	if os.Geteuid() != 0 {
		if testenv.RequireExternal() {
			t.Fatal("network namespaces need root (USP_REQUIRE_EXTERNAL=1)")
		}
		t.Skip("SKIP: network namespaces need root")
	}
	tag := fmt.Sprintf("%d-%04x", os.Getpid()%100000, rand.IntN(1<<16))
	n := rand.IntN(250)
	r := &routed{ip: ip, A: "dgA-" + tag, R: "dgR-" + tag, B: "dgB-" + tag, ifA: "dga" + tag,
		addrA: fmt.Sprintf("10.201.%d.2", n), rA: fmt.Sprintf("10.201.%d.1", n),
		rB: fmt.Sprintf("10.202.%d.1", n), addrB: fmt.Sprintf("10.202.%d.2", n)}
	ifRA, ifB, ifRB := "dgra"+tag, "dgb"+tag, "dgrb"+tag
	r.ifRA, r.ifB, r.ifRB, r.n = ifRA, ifB, ifRB, n
	for _, ns := range []string{r.A, r.R, r.B} {
		r.run(t, "netns", "add", ns)
		t.Cleanup(func() { _ = exec.Command(ip, "netns", "del", ns).Run() })
		r.run(t, "-n", ns, "link", "set", "lo", "up")
	}
	r.run(t, "link", "add", r.ifA, "netns", r.A, "type", "veth", "peer", "name", ifRA, "netns", r.R)
	r.run(t, "link", "add", ifB, "netns", r.B, "type", "veth", "peer", "name", ifRB, "netns", r.R)
	for _, x := range [][3]string{{r.A, r.ifA, r.addrA}, {r.R, ifRA, r.rA}, {r.R, ifRB, r.rB}, {r.B, ifB, r.addrB}} {
		r.run(t, "-n", x[0], "addr", "add", x[2]+"/24", "dev", x[1])
		r.run(t, "-n", x[0], "link", "set", x[1], "up")
	}
	r.run(t, "-n", r.A, "route", "add", "default", "via", r.rA)
	r.run(t, "-n", r.B, "route", "add", "default", "via", r.rB)
	r.exec(t, r.R, "sysctl", "-qw", "net.ipv4.ip_forward=1")
	return r
}

// ipv6 adds IPv6 to the namespaces (fd00:201:N::/64 between A and R,
// fd00:202:N::/64 between R and B) and returns R's address towards A and
// B's, or skips the test without IPv6.
func (r *routed) ipv6(t *testing.T) (rA, b string) {
	t.Helper()
	p1, p2 := fmt.Sprintf("fd00:201:%x::", r.n), fmt.Sprintf("fd00:202:%x::", r.n)
	for _, x := range [][3]string{{r.A, r.ifA, p1 + "2"}, {r.R, r.ifRA, p1 + "1"}, {r.R, r.ifRB, p2 + "1"}, {r.B, r.ifB, p2 + "2"}} {
		if out, err := exec.Command(r.ip, "-n", x[0], "addr", "add", x[2]+"/64", "dev", x[1], "nodad").CombinedOutput(); err != nil {
			t.Skipf("SKIP: no IPv6 here: %v %s", err, out)
		}
	}
	r.run(t, "-n", r.A, "-6", "route", "add", "default", "via", p1+"1")
	r.run(t, "-n", r.B, "-6", "route", "add", "default", "via", p2+"1")
	if err := r.exec(t, r.R, "sysctl", "-qw", "net.ipv6.conf.all.forwarding=1"); err != nil {
		t.Skipf("SKIP: no IPv6 forwarding: %v", err)
	}
	// Canonical forms, as the results give them (fd00:201:0:: is fd00:201::).
	return net.ParseIP(p1 + "1").String(), net.ParseIP(p2 + "2").String()
}

func (r *routed) run(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command(r.ip, args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func (r *routed) exec(t *testing.T, ns string, args ...string) error {
	t.Helper()
	out, err := exec.Command(r.ip, append([]string{"netns", "exec", ns}, args...)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

// netem delays (and loses) what A sends towards R until the test ends; it
// skips the test, saying why, when tc (Debian's iproute2) or the kernel's
// netem queueing discipline (sch_netem) is missing. A kernel module is not
// something a test run can install, so USP_REQUIRE_EXTERNAL=1 does not turn
// this skip into a failure.
func (r *routed) netem(t *testing.T, spec ...string) {
	t.Helper()
	tc, err := exec.LookPath("tc")
	if err != nil {
		tc = "/usr/sbin/tc"
	}
	if err := r.exec(t, r.A, append([]string{tc, "qdisc", "add", "dev", r.ifA, "root", "netem"}, spec...)...); err != nil {
		t.Skipf("SKIP: tc netem unavailable (Debian's iproute2 for tc, the kernel's sch_netem module): %v", err)
	}
	t.Cleanup(func() { _ = r.exec(t, r.A, tc, "qdisc", "del", "dev", r.ifA, "root") })
}

// in runs f on a thread that has joined namespace ns: the sockets f opens
// live there. The thread is dropped afterwards, not reused.
func in(t *testing.T, ns string, f func()) {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		fd, err := unix.Open("/var/run/netns/"+ns, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			done <- err
			return
		}
		err = unix.Setns(fd, unix.CLONE_NEWNET)
		unix.Close(fd)
		if err != nil {
			done <- err
			return
		}
		defer func() { done <- nil }()
		f()
	}()
	if err := <-done; err != nil {
		t.Fatalf("join %s: %v", ns, err)
	}
}

// TestNetnsPing: IPPing() from A reaches B through R, through a raw
// socket and through an unprivileged ping socket; across a link that
// delays by 50 ms and loses 20% (subtest netem: tc netem, skipped where
// the kernel lacks it) it measures round trips of at least 50 ms and
// counts the losses.
func TestNetnsPing(t *testing.T) {
	r := newRouted(t)
	for _, kind := range []string{"raw", "ping socket"} {
		t.Run(kind, func(t *testing.T) { netnsPing(t, r, kind, false) })
	}
	t.Run("netem", func(t *testing.T) {
		r.netem(t, "delay", "50ms", "loss", "20%")
		for _, kind := range []string{"raw", "ping socket"} {
			t.Run(kind, func(t *testing.T) { netnsPing(t, r, kind, true) })
		}
	})
	t.Run("unanswered", func(t *testing.T) { // B stops answering echo requests
		if err := r.exec(t, r.B, "sysctl", "-qw", "net.ipv4.icmp_echo_ignore_all=1"); err != nil {
			t.Fatal(err)
		}
		f := newFixture(t, nil)
		var out map[string]string
		start := time.Now()
		in(t, r.A, func() {
			out = f.mustRun(t, "Device.IP.Diagnostics.IPPing()", map[string]string{"Host": r.addrB, "ProtocolVersion": "IPv4",
				"NumberOfRepetitions": "4", "Timeout": "200", "DataBlockSize": "64"})
		})
		if out["Status"] != "Complete" || out["SuccessCount"] != "0" || out["FailureCount"] != "4" || out["AverageResponseTime"] != "0" {
			t.Errorf("%v", out)
		}
		if took := time.Since(start); took < 800*time.Millisecond || took > 2*time.Second {
			t.Errorf("4 echoes with a 200 ms timeout took %v", took)
		}
	})
}

// netnsPing pings B from A 40 times through a raw socket or a ping
// socket; lossy: the link delays by 50 ms and loses 20%.
func netnsPing(t *testing.T, r *routed, kind string, lossy bool) {
	if kind == "ping socket" {
		if err := r.exec(t, r.A, "sysctl", "-qw", "net.ipv4.ping_group_range=0 2147483647"); err != nil {
			t.Skipf("SKIP: %v", err)
		}
	}
	f := newFixture(t, nil)
	var out map[string]string
	in(t, r.A, func() {
		out = f.mustRun(t, "Device.IP.Diagnostics.IPPing()", map[string]string{"Host": r.addrB, "ProtocolVersion": "IPv4",
			"NumberOfRepetitions": "40", "Timeout": "500", "DataBlockSize": "64"})
	})
	if out["Status"] != "Complete" || out["IPAddressUsed"] != r.addrA {
		t.Fatalf("%v", out)
	}
	okN, failN := atoi(t, out["SuccessCount"]), atoi(t, out["FailureCount"])
	mn, avg := atoi(t, out["MinimumResponseTime"]), atoi(t, out["AverageResponseTime"])
	t.Logf("%d answered, %d lost, RTT min %d ms avg %d ms max %s ms", okN, failN, mn, avg, out["MaximumResponseTime"])
	switch {
	case okN+failN != 40:
		t.Errorf("SuccessCount %d FailureCount %d, want 40 in all", okN, failN)
	case lossy && (failN < 1 || failN > 20):
		t.Errorf("FailureCount %d, want about 20%% of 40", failN)
	case lossy && (mn < 50 || avg > 200):
		t.Errorf("MinimumResponseTime %d ms AverageResponseTime %d ms, want ≥ 50 ms", mn, avg)
	case !lossy && failN != 0:
		t.Errorf("FailureCount %d on a clean link", failN)
	}
	if want := "raw=" + fmt.Sprint(kind == "raw"); !strings.Contains(f.log.String(), want) {
		t.Errorf("the log does not say %s:\n%s", want, f.log)
	}
}

// TestNetnsTraceRoute: a trace from A to B sees R, then B; with one hop
// allowed it ends in Error_MaxHopCountExceeded; from R, which has no
// route beyond its links, it is Error_NoRouteToHost.
//
// Over a link that delays by 20 ms (subtests netem: tc netem, skipped
// where the kernel lacks it) every round trip is at least 20 ms.
//
// Each probe kind gets its own namespaces: R's ICMP errors towards A are
// rate-limited (a burst of 6, then one a second).
func TestNetnsTraceRoute(t *testing.T) {
	for _, probe := range []string{"UDP", "ICMP raw", "ICMP ping socket"} {
		for _, delayed := range []bool{false, true} {
			name := probe
			if delayed {
				name = probe + " netem"
			}
			t.Run(name, func(t *testing.T) { netnsTrace(t, probe, delayed) })
		}
	}
}

// netnsTrace traces from A to B with probe in namespaces of its own;
// delayed: the link from A delays by 20 ms.
func netnsTrace(t *testing.T, probe string, delayed bool) {
	r := newRouted(t)
	if delayed {
		r.netem(t, "delay", "20ms")
	}
	if probe == "ICMP ping socket" {
		for _, ns := range []string{r.A, r.R} {
			if err := r.exec(t, ns, "sysctl", "-qw", "net.ipv4.ping_group_range=0 2147483647"); err != nil {
				t.Skipf("SKIP: %v", err)
			}
		}
	}
	f := newFixture(t, &ipdiag.Options{TraceICMP: probe != "UDP"})
	traceAtoB(t, r, f, delayed)
}

func traceAtoB(t *testing.T, r *routed, f *fixture, delayed bool) {
	var full, short, none map[string]string
	in(t, r.A, func() {
		full = f.mustRun(t, "Device.IP.Diagnostics.TraceRoute()", map[string]string{"Host": r.addrB, "ProtocolVersion": "IPv4",
			"NumberOfTries": "2", "Timeout": "1000", "MaxHopCount": "8"})
		short = f.mustRun(t, "Device.IP.Diagnostics.TraceRoute()", map[string]string{"Host": r.addrB, "ProtocolVersion": "IPv4",
			"NumberOfTries": "1", "Timeout": "1000", "MaxHopCount": "1"})
	})
	in(t, r.R, func() {
		none = f.mustRun(t, "Device.IP.Diagnostics.TraceRoute()", map[string]string{"Host": "10.250.0.1", "ProtocolVersion": "IPv4",
			"NumberOfTries": "1", "Timeout": "500", "MaxHopCount": "3"})
	})
	if full["Status"] != "Complete" || full["RouteHops.1.HostAddress"] != r.rA || full["RouteHops.2.HostAddress"] != r.addrB ||
		full["RouteHops.3.HostAddress"] != "" {
		t.Errorf("A to B: %v", full)
	}
	for _, h := range []string{"1", "2"} {
		for _, rt := range strings.Split(full["RouteHops."+h+".RTTimes"], ",") {
			if n := atoi(t, rt); delayed && (n < 20 || n > 500) {
				t.Errorf("hop %s RTTimes %s, want ≥ 20 ms each", h, full["RouteHops."+h+".RTTimes"])
			}
		}
	}
	if short["Status"] != "Error_MaxHopCountExceeded" || short["RouteHops.1.HostAddress"] != r.rA {
		t.Errorf("A to B in one hop: %v", short)
	}
	if none["Status"] != "Error_NoRouteToHost" {
		t.Errorf("R to nowhere: %v", none)
	}
}

// TestNetnsDSCPAndInterface: IPPing()'s echo requests carry the DSCP asked
// for (B sees the TOS byte), and leave through the interface the Interface
// argument's row names (A's veth reaches B; the loopback interface does
// not).
func TestNetnsDSCPAndInterface(t *testing.T) {
	r := newRouted(t)
	f := newFixture(t, nil)
	if err := f.set(t, "Device.IP.Interface.1.", map[string]string{"Name": r.ifA}); err != nil {
		t.Fatal(err)
	}
	tos := make(chan int, 8)
	in(t, r.B, func() { // a raw socket in B sees the requests with their IP header
		c, err := net.ListenPacket("ip4:icmp", "0.0.0.0")
		if err != nil {
			t.Fatal(err)
		}
		rc, err := ipv4.NewRawConn(c)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { rc.Close() })
		go func() {
			b := make([]byte, 1500)
			for {
				h, p, _, err := rc.ReadFrom(b)
				if err != nil {
					return
				}
				if len(p) > 0 && p[0] == 8 { // echo request
					tos <- h.TOS
				}
			}
		}()
	})
	var out, lo map[string]string
	in(t, r.A, func() {
		out = f.mustRun(t, "Device.IP.Diagnostics.IPPing()", map[string]string{"Interface": "Device.IP.Interface.1.", "Host": r.addrB,
			"ProtocolVersion": "IPv4", "NumberOfRepetitions": "1", "Timeout": "1000", "DataBlockSize": "16", "DSCP": "46"})
	})
	if out["Status"] != "Complete" || out["SuccessCount"] != "1" {
		t.Fatalf("%v", out)
	}
	select {
	case v := <-tos:
		if v>>2 != 46 {
			t.Errorf("TOS %#x, want DSCP 46 (%#x)", v, 46<<2)
		}
	case <-time.After(2 * time.Second):
		t.Error("B saw no echo request")
	}
	if err := f.set(t, "Device.IP.Interface.1.", map[string]string{"Name": "lo"}); err != nil {
		t.Fatal(err)
	}
	in(t, r.A, func() {
		lo = f.mustRun(t, "Device.IP.Diagnostics.IPPing()", map[string]string{"Interface": "Device.IP.Interface.1.", "Host": r.addrB,
			"ProtocolVersion": "IPv4", "NumberOfRepetitions": "1", "Timeout": "300", "DataBlockSize": "16"})
	})
	if lo["SuccessCount"] == "1" {
		t.Errorf("an echo bound to lo reached B: %v", lo)
	}
}

// TestNetnsPingSocketIPv6: where net.ipv4.ping_group_range lets the
// process in (it covers ICMPv6 too), IPPing() and an ICMP TraceRoute()
// to ::1 go through unprivileged ping sockets.
func TestNetnsPingSocketIPv6(t *testing.T) {
	r := newRouted(t)
	if err := r.exec(t, r.A, "sysctl", "-qw", "net.ipv4.ping_group_range=0 2147483647"); err != nil {
		t.Skipf("SKIP: %v", err)
	}
	f := newFixture(t, &ipdiag.Options{TraceICMP: true})
	var ping, trace map[string]string
	in(t, r.A, func() {
		ping = f.mustRun(t, "Device.IP.Diagnostics.IPPing()", map[string]string{"Host": "::1", "ProtocolVersion": "IPv6",
			"NumberOfRepetitions": "2", "Timeout": "1000", "DataBlockSize": "32"})
		trace = f.mustRun(t, "Device.IP.Diagnostics.TraceRoute()", map[string]string{"Host": "::1", "ProtocolVersion": "IPv6",
			"NumberOfTries": "1", "Timeout": "1000"})
	})
	if ping["Status"] != "Complete" || ping["SuccessCount"] != "2" {
		t.Errorf("ping: %v", ping)
	}
	if trace["Status"] != "Complete" || trace["RouteHops.1.HostAddress"] != "::1" {
		t.Errorf("trace: %v", trace)
	}
	if strings.Contains(f.log.String(), "raw=true") || !strings.Contains(f.log.String(), "raw=false") {
		t.Errorf("not through a ping socket:\n%s", f.log)
	}
}

// TestNetnsTraceRouteIPv6: over IPv6 a trace from A to B sees R (its
// ICMPv6 time exceeded) and then B (port unreachable), with UDP and with
// ICMPv6 echo probes.
func TestNetnsTraceRouteIPv6(t *testing.T) {
	for _, icmp := range []bool{false, true} {
		t.Run(fmt.Sprintf("ICMP %v", icmp), func(t *testing.T) {
			r := newRouted(t)
			rA, b := r.ipv6(t)
			f := newFixture(t, &ipdiag.Options{TraceICMP: icmp})
			var out map[string]string
			in(t, r.A, func() {
				// Neighbour discovery first: probes sent while it runs may
				// be lost, and the trace would show a silent hop.
				ping := f.mustRun(t, "Device.IP.Diagnostics.IPPing()", map[string]string{"Host": b, "ProtocolVersion": "IPv6",
					"NumberOfRepetitions": "3", "Timeout": "2000", "DataBlockSize": "8"})
				t.Logf("ping before: %s answered", ping["SuccessCount"])
				out = f.mustRun(t, "Device.IP.Diagnostics.TraceRoute()", map[string]string{"Host": b, "ProtocolVersion": "IPv6",
					"NumberOfTries": "2", "Timeout": "1000", "MaxHopCount": "8"})
			})
			if out["Status"] != "Complete" || out["RouteHops.1.HostAddress"] != rA || out["RouteHops.2.HostAddress"] != b {
				t.Errorf("%v", out)
			}
		})
	}
}

// TestNetnsCapabilities: Device.IP.Diagnostics. says IPv6 tests are
// supported only where the host has IPv6.
func TestNetnsCapabilities(t *testing.T) {
	r := newRouted(t)
	f := newFixture(t, nil)
	var with, without map[string]string
	in(t, r.A, func() { with = f.get(t, "Device.IP.Diagnostics.") })
	if err := r.exec(t, r.A, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"); err != nil {
		t.Skipf("SKIP: %v", err)
	}
	if err := r.exec(t, r.A, "sysctl", "-qw", "net.ipv6.conf.lo.disable_ipv6=1"); err != nil {
		t.Skipf("SKIP: %v", err)
	}
	in(t, r.A, func() { without = f.get(t, "Device.IP.Diagnostics.") })
	if with["IPv4PingSupported"] != "true" || with["IPv6PingSupported"] != "true" || with["DownloadTransports"] != "HTTP,FTP" {
		t.Errorf("with IPv6: %v", with)
	}
	if without["IPv4TraceRouteSupported"] != "true" || without["IPv6TraceRouteSupported"] != "false" {
		t.Errorf("without IPv6: %v", without)
	}
}
