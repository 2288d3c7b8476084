package cli_test

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/uspkit/uspkit/internal/testenv"
)

// TestConformanceBulkData runs TP-469 section 10 against `usp agent`
// with a 1 s minimum reporting interval: the runner's HTTP and HTTPS
// collectors (a certificate from a CA the agent's bulk_data.ca names)
// receive the reports, and the Push! events arrive over WebSocket.
func TestConformanceBulkData(t *testing.T) {
	bin := buildUSP(t)
	pkiDir := t.TempDir()
	testenv.NewPKI(t, "proto::uspkit-conformance").WriteFiles(t, pkiDir)
	port := testenv.FreePort(t)
	const agentID = "os::012345-CONFBULK"
	mtps := fmt.Sprintf("  - protocol: WebSocket\n    listen: 127.0.0.1:%d\n    path: /usp\n", port)
	ctrls := "    - endpoint_id: proto::uspkit-conformance\n      mtps:\n        - protocol: WebSocket\n" +
		fmt.Sprintf("bulk_data:\n  min_reporting_interval: 1\n  ca: %s/ca.pem\n", pkiDir)
	startAgentProcessWith(t, bin, agentID, mtps, ctrls)
	r := runConformanceProcess(t, bin, "--agent", agentID, "--mtp", "ws", "--url", fmt.Sprintf("ws://127.0.0.1:%d/usp", port),
		"--run", "10.*", "--bulkdata-interval", "1", "--bulkdata-cert", pkiDir+"/server.pem", "--bulkdata-key", pkiDir+"/server.key")
	passed := map[string]bool{}
	for _, c := range r.Results {
		if c.Status == "pass" {
			passed[c.ID] = true
		} else {
			t.Logf("%s %s: %s", c.ID, c.Status, c.Reason)
		}
	}
	for _, id := range strings.Fields("10.1 10.2 10.3 10.4 10.5 10.6 10.8 10.9 10.10 10.11 10.12") {
		if !passed[id] {
			t.Errorf("%s did not pass", id)
		}
	}
	// 10.7 waits for retries at a 60 s interval: about two minutes.
	if os.Getenv("USP_BULK_RETRY") != "1" {
		t.Log("10.7 not run: set USP_BULK_RETRY=1")
		return
	}
	r = runConformanceProcess(t, bin, "--agent", agentID, "--mtp", "ws", "--url", fmt.Sprintf("ws://127.0.0.1:%d/usp", port),
		"--run", "10.7", "--long", "--timeout", "4m")
	if len(r.Results) != 1 || r.Results[0].Status != "pass" {
		t.Errorf("10.7: %+v", r.Results)
	}
}
