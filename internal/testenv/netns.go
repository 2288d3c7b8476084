package testenv

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// NetnsPair is two network namespaces joined by a veth pair, each end up
// with an address of 10.199.N.0/24 and multicast on, and loopback up in
// both: a private link for tests that need one (mDNS between two hosts).
type NetnsPair struct {
	// A and B are the namespaces' names.
	A, B string
	// IfA and IfB are the veth ends in A and in B.
	IfA, IfB string
	// AddrA and AddrB are their IPv4 addresses.
	AddrA, AddrB string
}

// NewNetnsPair creates a NetnsPair for the test and deletes it when the
// test ends. The test is skipped (failed with USP_REQUIRE_EXTERNAL=1)
// without root or without the ip command (Debian's iproute2).
func NewNetnsPair(t testing.TB) *NetnsPair {
	t.Helper()
	ip := LookPath(t, "ip", "iproute2", "/usr/sbin", "/sbin")
	if os.Geteuid() != 0 {
		msg := "SKIP: network namespaces need root"
		if RequireExternal() {
			t.Fatalf("%s (USP_REQUIRE_EXTERNAL=1)", msg)
		}
		t.Skip(msg)
	}
	// The process id and a random number tell pairs apart, across test
	// processes and within one.
	tag := fmt.Sprintf("%d-%04x", os.Getpid()%100000, rand.IntN(1<<16))
	p := &NetnsPair{A: "uspA-" + tag, B: "uspB-" + tag, IfA: "uva" + tag, IfB: "uvb" + tag} // at most 15 characters
	sub := rand.IntN(250)
	p.AddrA, p.AddrB = fmt.Sprintf("10.199.%d.1", sub), fmt.Sprintf("10.199.%d.2", sub)
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(ip, args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	run("netns", "add", p.A)
	t.Cleanup(func() { _ = exec.Command(ip, "netns", "del", p.A).Run() })
	run("netns", "add", p.B)
	t.Cleanup(func() { _ = exec.Command(ip, "netns", "del", p.B).Run() })
	run("link", "add", p.IfA, "netns", p.A, "type", "veth", "peer", "name", p.IfB, "netns", p.B)
	for _, x := range [][3]string{{p.A, p.IfA, p.AddrA}, {p.B, p.IfB, p.AddrB}} {
		run("-n", x[0], "link", "set", "lo", "up")
		run("-n", x[0], "addr", "add", x[2]+"/24", "dev", x[1])
		run("-n", x[0], "link", "set", x[1], "multicast", "on", "up")
	}
	return p
}

// Command is a command run inside namespace ns (A or B).
func (p *NetnsPair) Command(ns, name string, args ...string) *exec.Cmd {
	ip, err := exec.LookPath("ip")
	if err != nil {
		ip = "/usr/sbin/ip"
	}
	return exec.Command(ip, append([]string{"netns", "exec", ns, name}, args...)...)
}
