package cli_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uspkit/uspkit/conformance"
	"github.com/uspkit/uspkit/internal/testenv"
)

// udhcpcScript is the DHCP client's script of the device in
// TestConformanceSection8Netns, as OpenWrt's does it in short: it sets
// the address the lease gives and writes the lease's variables where
// usp agent reads them (discovery.dhcp_lease).
const udhcpcScript = `#!/bin/sh
case "$1" in
deconfig) %[1]s -4 addr flush dev "$interface" ;;
bound|renew)
	%[1]s addr replace "$ip/$mask" dev "$interface"
	env > %[2]s.tmp && mv %[2]s.tmp %[2]s ;;
esac
exit 0
`

// TestConformanceSection8Netns runs the whole of TP-469 section 8 with
// `usp conformance` against `usp agent` on a link of two network
// namespaces: the runner in A serves DHCPv4 and DNS and runs mDNS on its
// end; in B a device runs busybox udhcpc, with the arguments `usp agent
// dhcp-options` gives, and `usp agent`, which reads udhcpc's lease and
// gets its address from it. The agent's Device.Reboot() runs a command
// that makes the device "reboot": udhcpc and the agent start again, the
// lease gone. 8.1 checks udhcpc's option 124 [R-DIS.1], 8.2 a
// provisioning code from the runner's DHCP server [R-DIS.1c], 8.3 the
// DNS-SD lookup of a bare FQDN at the DNS server DHCP gave [R-DIS.7], 8.4
// the mDNS resolution of a ".local." Controller URL [R-DIS.5], 8.5-8.7 the
// agent's mDNS advertisement [R-DIS.8] [R-DIS.9]: all pass.
func TestConformanceSection8Netns(t *testing.T) {
	busybox := testenv.LookPath(t, "busybox", "busybox-static", "/usr/bin", "/bin")
	ip := testenv.LookPath(t, "ip", "iproute2", "/usr/sbin", "/sbin")
	probeNetns(t, ip)
	bin := buildUSP(t)
	p := testenv.NewNetnsPair(t)
	// B's address comes from the runner's DHCP server only: the first one
	// it hands out, AddrB.
	if out, err := exec.Command(ip, "-4", "-n", p.B, "addr", "flush", "dev", p.IfB).CombinedOutput(); err != nil {
		t.Fatalf("ip addr flush: %v %s", err, out)
	}
	dir := t.TempDir()
	lease := filepath.Join(dir, "udhcpc.env")
	script := filepath.Join(dir, "udhcpc.script")
	if err := os.WriteFile(script, fmt.Appendf(nil, udhcpcScript, ip, lease), 0o700); err != nil {
		t.Fatal(err)
	}
	const id, runner = "os::012345-TP469NS", "proto::tp469-section8-netns"
	const wsPort = 7301
	rebootFlag := filepath.Join(dir, "rebooting")
	conf := fmt.Sprintf(`endpoint_id: %s
data: %s
log_level: warn
mtps:
  - protocol: WebSocket
    listen: 0.0.0.0:%d
    path: /usp
factory:
  controllers:
    - endpoint_id: %s
      mtps:
        - protocol: WebSocket
discovery:
  interface: %s
  advertise: true
  name: tp469 agent
  dhcp_lease: %s
  dhcp_poll: 100ms
  role: Full Access
platform:
  reboot_command: [touch, %s]
`, id, dir, wsPort, runner, p.IfB, lease, rebootFlag)
	cfg := filepath.Join(dir, "agent.yaml")
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "agent", "dhcp-options", "--config", cfg).Output()
	if err != nil {
		t.Fatalf("usp agent dhcp-options: %v", err)
	}
	dhcpArgs := strings.Fields(string(out))
	if !strings.Contains(string(out), "-x 0x7c:00000de90403757370") || !strings.Contains(string(out), "-O 125") {
		t.Fatalf("usp agent dhcp-options printed %q", out)
	}

	// The runner first: its DHCP server is up before the device asks.
	ctx, cancel := context.WithTimeout(t.Context(), 8*time.Minute)
	defer cancel()
	report := filepath.Join(dir, "report.json")
	run := p.Command(p.A, bin, "conformance", "--agent", id, "--id", runner, "--mtp", "ws",
		"--url", fmt.Sprintf("ws://%s:%d/usp", p.AddrB, wsPort), "--reboot", "--run", "8.*",
		"--mdns-interface", p.IfA, "--dhcp-interface", p.IfA, "--json", report)
	stderr, _ := run.StderrPipe()
	var runOut strings.Builder
	run.Stdout = &runOut
	if err := run.Start(); err != nil {
		t.Fatal(err)
	}
	runDone := make(chan struct{}) // closed when the runner has ended, with runErr
	var runErr error
	ready := make(chan string, 1)
	var runLog strings.Builder
	var logMu sync.Mutex
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			logMu.Lock()
			runLog.WriteString(sc.Text() + "\n")
			logMu.Unlock()
			if strings.HasPrefix(sc.Text(), "dhcp server on") {
				select {
				case ready <- sc.Text():
				default:
				}
			}
		}
		runErr = run.Wait()
		close(runDone)
	}()
	defer func() {
		select {
		case <-runDone:
		default:
			run.Process.Kill()
			<-runDone
		}
	}()
	select {
	case <-ready:
	case <-runDone:
		logMu.Lock()
		defer logMu.Unlock()
		t.Fatalf("usp conformance ended before serving DHCP: %v\n%s", runErr, runLog.String())
	case <-time.After(30 * time.Second):
		t.Fatal("usp conformance did not start its DHCP server")
	}

	dev := &netnsDevice{p: p, busybox: busybox, bin: bin, cfg: cfg, lease: lease, script: script, flag: rebootFlag, dhcpArgs: dhcpArgs}
	devDone := make(chan error, 1)
	go func() { devDone <- dev.run(ctx) }()
	defer func() { cancel(); <-devDone }()

	select {
	case <-runDone:
		if runErr != nil {
			logMu.Lock()
			defer logMu.Unlock()
			t.Fatalf("usp conformance: %v\n%s%s", runErr, runOut.String(), runLog.String())
		}
	case <-ctx.Done():
		t.Fatalf("usp conformance did not end in time; device: %d boots", dev.boots())
	}
	b, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Results []caseResult `json:"results"`
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Results) != 7 {
		t.Fatalf("%d results: %+v", len(rep.Results), rep.Results)
	}
	for _, r := range rep.Results {
		t.Logf("%s %s: %s %s (%v)", r.ID, r.Title, r.Status, r.Reason, r.Duration.Round(time.Millisecond))
		if conformance.Status(r.Status) != conformance.Pass {
			t.Errorf("%s %s: %s (%s), want pass", r.ID, r.Title, r.Status, r.Reason)
		}
	}
	if n := dev.boots(); n < 6 {
		t.Errorf("the device booted %d times; 8.1-8.6 reboot it 5 times", n)
	}
}

// probeNetns skips the test loudly (fails it with USP_REQUIRE_EXTERNAL=1)
// when this host cannot create network namespaces: not root, or a
// container without the right.
func probeNetns(t *testing.T, ip string) {
	t.Helper()
	msg := ""
	if os.Geteuid() != 0 {
		msg = "SKIP: network namespaces need root"
	} else {
		name := fmt.Sprintf("uspP-%d", os.Getpid()%100000)
		if out, err := exec.Command(ip, "netns", "add", name).CombinedOutput(); err != nil {
			msg = fmt.Sprintf("SKIP: cannot create a network namespace: %v %s", err, strings.TrimSpace(string(out)))
		} else {
			exec.Command(ip, "netns", "del", name).Run()
		}
	}
	if msg == "" {
		return
	}
	if testenv.RequireExternal() {
		t.Fatalf("%s (USP_REQUIRE_EXTERNAL=1)", msg)
	}
	t.Skip(msg)
}

// netnsDevice is the device of TestConformanceSection8Netns in namespace
// B: busybox udhcpc and usp agent, started again when the agent's reboot
// command has run.
type netnsDevice struct {
	p                                *testenv.NetnsPair
	busybox, bin, cfg, lease, script string
	flag                             string
	dhcpArgs                         []string

	mu sync.Mutex
	n  int
}

func (d *netnsDevice) boots() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.n
}

// run boots the device until ctx is done or the agent ends without a
// reboot; it stops both processes (by their PIDs) before returning.
func (d *netnsDevice) run(ctx context.Context) error {
	for ctx.Err() == nil {
		os.Remove(d.lease) // the lease is in RAM: a reboot loses it
		os.Remove(d.flag)
		args := append([]string{"udhcpc", "-f", "-i", d.p.IfB, "-s", d.script, "-t", "30", "-T", "1", "-A", "1"}, d.dhcpArgs...)
		dhcp := d.p.Command(d.p.B, d.busybox, args...)
		dhcp.Stdout, dhcp.Stderr = io.Discard, io.Discard
		if err := dhcp.Start(); err != nil {
			return err
		}
		agent := d.p.Command(d.p.B, d.bin, "agent", "--config", d.cfg)
		agent.Stderr = os.Stderr
		if err := agent.Start(); err != nil {
			dhcp.Process.Kill()
			dhcp.Wait()
			return err
		}
		d.mu.Lock()
		d.n++
		d.mu.Unlock()
		done := make(chan error, 1)
		go func() { done <- agent.Wait() }()
		var err error
		select {
		case err = <-done:
		case <-ctx.Done():
			agent.Process.Kill()
			err = <-done
		}
		dhcp.Process.Kill()
		dhcp.Wait()
		if _, serr := os.Stat(d.flag); serr != nil {
			if ctx.Err() != nil {
				return nil
			}
			return errors.Join(errors.New("the agent ended without a reboot"), err)
		}
	}
	return nil
}
