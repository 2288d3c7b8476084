package conformance_test

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/uspkit/uspkit/conformance"
	"github.com/uspkit/uspkit/discovery"
	"github.com/uspkit/uspkit/internal/testenv"
)

// TestVendorClasses reads the vendor-class-data of option 124 (RFC 3925
// section 3) for one enterprise; malformed data is an error, not a crash.
func TestVendorClasses(t *testing.T) {
	for _, tc := range []struct {
		name, hex string
		want      []string
		bad       bool
	}{
		{"bbf usp", "00000de90403757370", []string{"usp"}, false},
		{"two enterprises", "0000000904036162630000" + "0de9080361626303757370", []string{"abc", "usp"}, false},
		{"other enterprise only", "000000090403757370", nil, false},
		{"empty", "", nil, false},
		{"short header", "00000d", nil, true},
		{"data past the end", "00000de9090375", nil, true},
		{"class past the end", "00000de9020575", nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, _ := hex.DecodeString(tc.hex)
			got, err := conformance.VendorClasses(b, discovery.EnterpriseBBF)
			if (err != nil) != tc.bad || fmt.Sprint(got) != fmt.Sprint(tc.want) && !tc.bad {
				t.Errorf("VendorClasses(%s) = %q, %v", tc.hex, got, err)
			}
		})
	}
	if got, _ := conformance.VendorClasses(discovery.VendorClassV4(), discovery.EnterpriseBBF); fmt.Sprint(got) != "[usp]" {
		t.Errorf("discovery.VendorClassV4 reads as %q", got)
	}
}

// TestDHCPServer: busybox udhcpc in one network namespace gets an address,
// the DNS server and the BBF options of option 125 from the runner's DHCP
// server in the other, which records the client's DISCOVER and REQUEST
// with their option 124 [R-DIS.1].
func TestDHCPServer(t *testing.T) {
	busybox := testenv.LookPath(t, "busybox", "busybox-static", "/usr/bin", "/bin")
	p := testenv.NewNetnsPair(t)
	if out, err := exec.Command("ip", "-4", "-n", p.B, "addr", "flush", "dev", p.IfB).CombinedOutput(); err != nil {
		t.Fatalf("ip addr flush: %v %s", err, out)
	}
	srv := p.Command(p.A, os.Args[0], "-test.run=^TestDHCPServerHelper$")
	srv.Env = append(os.Environ(), "USP_DHCP_HELPER="+p.IfA)
	srv.Stderr = os.Stderr
	stdin, _ := srv.StdinPipe()
	stdout, _ := srv.StdoutPipe()
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { stdin.Close(); srv.Wait() }()
	lines := bufio.NewReader(stdout)
	if l, err := lines.ReadString('\n'); err != nil || l != "serving\n" {
		t.Fatalf("dhcp helper: %q %v", l, err)
	}
	dir := t.TempDir()
	env := filepath.Join(dir, "lease.env")
	script := filepath.Join(dir, "script")
	if err := os.WriteFile(script, fmt.Appendf(nil, "#!/bin/sh\n[ \"$1\" = bound ] && env > %s\nexit 0\n", env), 0o700); err != nil {
		t.Fatal(err)
	}
	cli := p.Command(p.B, busybox, "udhcpc", "-f", "-q", "-n", "-i", p.IfB, "-s", script, "-t", "5", "-T", "1",
		"-x", fmt.Sprintf("0x7c:%x", discovery.VendorClassV4()), "-O", "125")
	done := make(chan error, 1)
	if err := cli.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cli.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("udhcpc: %v", err)
		}
	case <-time.After(30 * time.Second):
		cli.Process.Kill()
		<-done
		t.Fatal("udhcpc got no lease in 30 s")
	}
	b, err := os.ReadFile(env)
	if err != nil {
		t.Fatal(err)
	}
	l, err := discovery.ReadLease(strings.NewReader(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	if l.V4.ControllerURL != "tp469.test" || l.V4.EndpointID != "proto::dhcp" || len(l.DNS) != 1 || l.DNS[0].String() != p.AddrA {
		t.Errorf("lease: %+v\n%s", l, b)
	}
	if !strings.Contains(string(b), "ip="+p.AddrB+"\n") || !strings.Contains(string(b), "serverid="+p.AddrA+"\n") {
		t.Errorf("lease without ip=%s and serverid=%s:\n%s", p.AddrB, p.AddrA, b)
	}
	stdin.Close()
	rest, _ := lines.ReadString('\n')
	if rest != "requests 1 3 usp usp\n" {
		t.Errorf("the server recorded %q, want a DISCOVER and a REQUEST with option 124 \"usp\"", rest)
	}
}

// TestDHCPServerHelper is the server process of TestDHCPServer; it does
// nothing in a normal run. It serves until its stdin closes, then prints
// the type and option 124 classes of each request.
func TestDHCPServerHelper(t *testing.T) {
	iface := os.Getenv("USP_DHCP_HELPER")
	if iface == "" {
		return
	}
	since := time.Now()
	s, err := conformance.ListenDHCP(t.Context(), iface, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.SetDNS(s.Addr())
	if err := s.SetVendorInfo(&discovery.VendorInfo{ControllerURL: "tp469.test", EndpointID: "proto::dhcp"}); err != nil {
		t.Fatal(err)
	}
	fmt.Println("serving")
	var buf [1]byte
	os.Stdin.Read(buf[:])
	var types, classes []string
	for _, m := range s.Requests(since) {
		types = append(types, fmt.Sprint(m.Type))
		c, _ := conformance.VendorClasses(m.Options[discovery.OptionV4VendorClass], discovery.EnterpriseBBF)
		classes = append(classes, strings.Join(c, ","))
	}
	fmt.Printf("requests %s %s\n", strings.Join(types, " "), strings.Join(classes, " "))
}
