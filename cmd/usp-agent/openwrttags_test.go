package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const openwrtMakefile = "../../packaging/openwrt/usp-agent/Makefile"

// openwrtTags evaluates the OpenWrt Makefile's GO_PKG_TAGS with GNU make
// for the menuconfig options set (CONFIG_…=y), with comma and space as
// OpenWrt's rules.mk defines them.
func openwrtTags(t *testing.T, set ...string) string {
	t.Helper()
	mk, err := os.ReadFile(openwrtMakefile)
	if err != nil {
		t.Fatal(err)
	}
	var keep []string
	in := false
	for _, l := range strings.Split(string(mk), "\n") {
		if strings.HasPrefix(l, "USP_AGENT_TAGS:=") || strings.HasPrefix(l, "GO_PKG_TAGS:=") {
			in = true
		}
		if in {
			keep = append(keep, l)
			in = strings.HasSuffix(l, "\\")
		}
	}
	if len(keep) == 0 {
		t.Fatal("the Makefile sets no GO_PKG_TAGS")
	}
	var b strings.Builder
	b.WriteString("empty:=\nspace:=$(empty) $(empty)\ncomma:=,\n")
	for _, c := range set {
		b.WriteString(c + ":=y\n")
	}
	b.WriteString(strings.Join(keep, "\n") + "\nprint:\n\t@echo '$(GO_PKG_TAGS)'\n")
	f := filepath.Join(t.TempDir(), "Makefile")
	if err := os.WriteFile(f, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("make", "-s", "-f", f, "print").CombinedOutput()
	if err != nil {
		t.Fatalf("make: %v\n%s", err, out)
	}
	return strings.TrimSpace(string(out))
}

// TestOpenWrtFeatureTags checks the OpenWrt package's Features menu: every
// option on is the device build as documented, every one off the minimal
// CPE that TestSizeBudget measures, and the bbolt option adds usp_bolt.
func TestOpenWrtFeatureTags(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("no make")
	}
	all := []string{"CONFIG_USP_AGENT_DIAGNOSTICS", "CONFIG_USP_AGENT_SOFTWARE_MODULES", "CONFIG_USP_AGENT_HOST",
		"CONFIG_USP_AGENT_BULKDATA", "CONFIG_USP_AGENT_DISCOVERY", "CONFIG_USP_AGENT_STOMP", "CONFIG_USP_AGENT_WEBSOCKET"}
	for _, tc := range []struct {
		name string
		set  []string
		want string
	}{
		{"every feature", all, "usp_device,usp_noproto"},
		{"minimal CPE", nil, "usp_device," + strings.Join(minimalTags(), ",")},
		{"no diagnostics", all[1:], "usp_device,usp_noproto,usp_nodiag"},
		{"bolt", append(all[:len(all):len(all)], "CONFIG_USP_AGENT_BOLT"), "usp_device,usp_noproto,usp_bolt"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := openwrtTags(t, tc.set...); got != tc.want {
				t.Errorf("GO_PKG_TAGS %q, want %q", got, tc.want)
			}
		})
	}
}
