package cli_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/uspkit/uspkit/internal/testenv"
)

// TestConformanceFirmware runs TP-469 9.3 to 9.8 against `usp agent`
// (build 1.0.0-a, firmware banks on) with the runner serving build
// 2.0.0-b: 9.3 upgrades to it with AutoActivate, 9.4 and 9.5 activate the
// other bank (each a restart of the agent process on the other binary),
// 9.6 sends a bad checksum, 9.7 a download into the active bank (refused:
// the agent has two banks), 9.8 cancels a pending activation.
func TestConformanceFirmware(t *testing.T) {
	binA, binB := buildVersioned(t, "1.0.0-a"), buildVersioned(t, "2.0.0-b")
	port := testenv.FreePort(t)
	const agentID = "os::012345-CONFFW"
	mtps := fmt.Sprintf("  - protocol: WebSocket\n    listen: 127.0.0.1:%d\n    path: /usp\n", port)
	ctrls := "    - endpoint_id: proto::uspkit-conformance\n      mtps:\n        - protocol: WebSocket\nfirmware:\n  confirm_timeout: 30s\n"
	startAgentProcessWith(t, binA, agentID, mtps, ctrls)
	r := runConformanceProcess(t, binA, "--agent", agentID, "--mtp", "ws", "--url", fmt.Sprintf("ws://127.0.0.1:%d/usp", port),
		"--run", "9.3,9.4,9.5,9.6,9.7,9.8", "--reboot", "--firmware-image", binB, "--firmware-version", "2.0.0-b")
	passed := map[string]bool{}
	for _, c := range r.Results {
		if c.Status == "pass" {
			passed[c.ID] = true
		} else {
			t.Logf("%s %s: %s", c.ID, c.Status, c.Reason)
		}
	}
	for _, id := range strings.Fields("9.3 9.4 9.5 9.6 9.7 9.8") {
		if !passed[id] {
			t.Errorf("%s did not pass", id)
		}
	}
}
