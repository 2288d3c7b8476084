package cli_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/uspkit/uspkit/conformance"
	"github.com/uspkit/uspkit/internal/testenv"
)

// TestConformanceSection8 runs TP-469 section 8 with `usp conformance`
// against `usp agent` with
// mDNS on the loopback interface and a DHCP lease file: 8.2, 8.4, 8.5,
// 8.6 and 8.7 pass (8.4, 8.5 and 8.6 reboot the agent); 8.1 and 8.3, which
// need the runner's DHCP server, are skipped with their reason
// (TestConformanceSection8Netns runs them).
func TestConformanceSection8(t *testing.T) {
	bin := buildUSP(t)
	iface, port := mdnsLoopback(t)
	wsPort := testenv.FreePort(t)
	lease := filepath.Join(t.TempDir(), "lease.env")
	const id, runner = "os::012345-TP469S8", "proto::tp469-section8"
	mtps := fmt.Sprintf("  - protocol: WebSocket\n    listen: 127.0.0.1:%d\n    path: /usp\n", wsPort)
	extra := fmt.Sprintf("    - endpoint_id: %s\n      mtps:\n        - protocol: WebSocket\n"+
		"discovery:\n  interface: %s\n  port: %d\n  advertise: true\n  name: tp469 agent\n  dhcp_lease: %s\n  dhcp_poll: 100ms\n", runner, iface, port, lease)
	startAgentProcessWith(t, bin, id, mtps, extra)
	out := filepath.Join(t.TempDir(), "report.json")
	cmd := exec.Command(bin, "conformance", "--agent", id, "--id", runner, "--mtp", "ws", "--url", fmt.Sprintf("ws://127.0.0.1:%d/usp", wsPort),
		"--reboot", "--run", "8.*", "--mdns-interface", iface, "--mdns-port", fmt.Sprint(port), "--dhcp-lease", lease, "--json", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("usp conformance: %v\n%s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var rep report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	res := rep.Results
	want := map[string]conformance.Status{"8.1": conformance.Skip, "8.2": conformance.Pass, "8.3": conformance.Skip, "8.4": conformance.Pass,
		"8.5": conformance.Pass, "8.6": conformance.Pass, "8.7": conformance.Pass}
	if len(res) != len(want) {
		t.Fatalf("%d results: %+v", len(res), res)
	}
	for _, r := range res {
		if conformance.Status(r.Status) != want[r.ID] {
			t.Errorf("%s %s: %s (%s), want %s", r.ID, r.Title, r.Status, r.Reason, want[r.ID])
		}
		if conformance.Status(r.Status) == conformance.Skip && r.Reason == "" {
			t.Errorf("%s skipped without a reason", r.ID)
		}
	}
}
