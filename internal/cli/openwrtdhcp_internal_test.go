package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/uspkit/uspkit/discovery"
)

const openwrtUdhcpc = "../../packaging/openwrt/usp-agent/files/usp-agent.udhcpc"

// TestOpenWrtDHCPDiscovery: with discovery.dhcp on, the init script gives
// the agent the lease file the udhcpc hook writes; the hook keeps the
// lease's variables there at bound and renew (the agent reads option 125
// and the DNS servers from it) and removes them at deconfig; and the init
// script puts what `usp-agent dhcp-options` prints into the interface's
// sendopts and reqopts, keeping the options of others, and brings the
// interface up only when they change [R-DIS.1].
func TestOpenWrtDHCPDiscovery(t *testing.T) {
	sysfs := t.TempDir()
	os.MkdirAll(filepath.Join(sysfs, "class/net/eth0"), 0o755)
	os.WriteFile(filepath.Join(sysfs, "class/net/eth0/address"), []byte("a4:2b:b0:01:02:0f\n"), 0o644)
	for _, sh := range shells(t) {
		t.Run(filepath.Base(sh[0]), func(t *testing.T) {
			if c, _ := mapUCI(t, sh, nil, sysfs); c.Discovery != nil {
				t.Errorf("discovery on by default: %+v", c.Discovery)
			}
			c, _ := mapUCI(t, sh, map[string]string{"discovery.dhcp": "1"}, sysfs)
			if c.Discovery == nil || c.Discovery.DHCPLease != "/var/run/usp-agent/dhcp.env" {
				t.Fatalf("discovery: %+v", c.Discovery)
			}

			lease := filepath.Join(t.TempDir(), "run", "dhcp.env")
			hook := func(event string, env ...string) {
				cmd := exec.Command(sh[0], append(sh[1:], openwrtUdhcpc, event)...)
				cmd.Env = append([]string{"USP_AGENT_DHCP_LEASE=" + lease, "PATH=" + os.Getenv("PATH")}, env...)
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Fatalf("hook %s: %v %s", event, err, out)
				}
			}
			hook("bound", "interface=wan", "dns=10.9.0.53", "opt125=00000de90d190b7773733a2f2f632f757370")
			f, err := os.Open(lease)
			if err != nil {
				t.Fatal(err)
			}
			l, err := discovery.ReadLease(f)
			f.Close()
			if err != nil || l.Interface != "wan" || l.V4.ControllerURL != "wss://c/usp" || len(l.DNS) != 1 {
				t.Errorf("lease read back: %+v %v", l, err)
			}
			hook("deconfig")
			if _, err := os.Stat(lease); !os.IsNotExist(err) {
				t.Errorf("the lease stays after deconfig: %v", err)
			}

			// usp_agent_dhcp with shims of the agent, uci and ifup.
			dir := t.TempDir()
			prog := filepath.Join(dir, "usp-agent")
			os.WriteFile(prog, []byte("#!/bin/sh\necho '-x 0x7c:00000de90403757370 -x 0x7d:00000de900 -O 125'\n"), 0o700)
			script := `
uci() {
	case "$2" in
	get) cat "$DIR/$3" 2>/dev/null ;;
	set) printf '%s' "${3#*=}" > "$DIR/${3%%=*}" ;;
	commit) : ;;
	esac
}
ifup() { echo "$1" >> "$DIR/ifup"; }
. "$USP_INIT"
printf '%s' 'lease:3600 0x7d:0000 0x3d:01' > "$DIR/network.wan.sendopts"
usp_agent_dhcp wan
usp_agent_dhcp wan
`
			cmd := exec.Command(sh[0], append(sh[1:], "-c", script)...)
			cmd.Env = append(os.Environ(), "DIR="+dir, "USP_INIT="+openwrtInit, "USP_AGENT_PROG="+prog)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("usp_agent_dhcp: %v %s", err, out)
			}
			read := func(name string) string { b, _ := os.ReadFile(filepath.Join(dir, name)); return string(b) }
			if got, want := read("network.wan.sendopts"), "lease:3600 0x3d:01 0x7c:00000de90403757370 0x7d:00000de900"; got != want {
				t.Errorf("sendopts %q, want %q", got, want)
			}
			if got := read("network.wan.reqopts"); got != "125" {
				t.Errorf("reqopts %q, want 125", got)
			}
			if got := read("ifup"); strings.Count(got, "wan") != 1 {
				t.Errorf("ifup calls %q, want one (the second run changes nothing)", got)
			}
		})
	}
}
