package cli_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestConformanceObjectsInService runs the TP-469 runner, unchanged,
// through `usp agent` as a USP Broker that leaves Device.IP.Diagnostics.
// and Device.DNS.Diagnostics. (TraceRoute(), IPPing(), ...) to a `usp
// service`, which registers them with its example object: case 1.92 runs
// the asynchronous TraceRoute() in the Service through the Broker's
// Request object, and the GetSupportedDM cases on Device. (1.76, 1.97,
// 1.98) merge the Service's objects, commands and events with the
// Broker's. Device.LocalAgent, which the other cases exercise, stays the
// Broker's. By default those cases only; USP_CONFORMANCE_ALL=1 runs the
// whole plan.
func TestConformanceObjectsInService(t *testing.T) {
	b := startUSPBrokerWith(t, "", "    - endpoint_id: proto::uspkit-conformance\n      mtps:\n        - protocol: MQTT\n          topic: usp/controller/conformance\n",
		"  leave_diagnostics: true\n")
	b.serviceWith(t, "DIAG", "Device.X_USPKIT_Example.", true, "diagnostics: true\n")
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		got := getParams(t, b.ctl, b.id, "Device.USPServices.")
		var paths string
		for k, v := range got {
			if strings.HasSuffix(k, ".DataModelPaths") {
				paths = v
			}
		}
		if paths == "Device.X_USPKIT_Example.,Device.IP.Diagnostics.,Device.DNS.Diagnostics." {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the Service did not register its objects: %v", got)
		}
	}
	args := []string{"--agent", b.id, "--mtp", "mqtt", "--url", "tcp://" + b.mq, "--topic", "usp/controller/conformance",
		"--agent-topic", "usp/agent/uspbroker", "--second-id", "proto::second"}
	subset := os.Getenv("USP_CONFORMANCE_ALL") == ""
	if subset {
		args = append(args, "--run", "1.76,1.92,1.97,1.98")
	}
	r, err := runConformance(b.bin, args...)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d passed, %d failed, %d skipped", r.Passed, r.Failed, r.Skipped)
	for _, c := range r.Results {
		if c.Status == "fail" && c.ID != "1.92" {
			t.Errorf("%s failed: %s", c.ID, c.Reason)
		}
	}
	status, reason := map[string]string{}, map[string]string{}
	for _, c := range r.Results {
		status[c.ID], reason[c.ID] = c.Status, c.Reason
	}
	// 1.92 holds three UDP ports for the probes, which another test on the
	// machine may hold for a moment, and wants them 5000 ms ±1% apart,
	// which a loaded machine's scheduler may miss: it runs again, at most
	// three times, each outcome logged.
	busy := func() bool { return status["1.92"] == "skip" && strings.Contains(reason["1.92"], "UDP port") }
	late := func() bool {
		return status["1.92"] == "fail" && strings.Contains(reason["1.92"], "after the one before it")
	}
	for try := 0; busy() || late(); try++ {
		t.Logf("1.92 attempt %d: %s (%s)", try+1, status["1.92"], reason["1.92"])
		if try == 3 {
			if busy() {
				t.Skipf("SKIP: 1.92 could not run: %s", reason["1.92"])
			}
			break
		}
		time.Sleep(2 * time.Second)
		rr, err := runConformance(b.bin, append(args[:len(args):len(args)], "--run", "1.92")...)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range rr.Results {
			status[c.ID], reason[c.ID] = c.Status, c.Reason
		}
	}
	for _, id := range []string{"1.76", "1.92", "1.97", "1.98"} {
		if status[id] != "pass" {
			t.Errorf("%s: %s (%s)", id, status[id], reason[id])
		}
	}
	if !subset && r.Passed < 100 {
		t.Errorf("only %d cases passed", r.Passed)
	}
	// The diagnostics answer through the Broker from the Service (whose
	// registration of them the Broker accepted above: it would refuse
	// paths it implements itself).
	if got := getParams(t, b.ctl, b.id, "Device.IP.Diagnostics.IPv4TraceRouteSupported"); got["Device.IP.Diagnostics.IPv4TraceRouteSupported"] != "true" {
		t.Errorf("through the Broker: %v", got)
	}
}

// runConformance runs `usp conformance` and returns its report, failures
// included.
func runConformance(bin string, args ...string) (report, error) {
	dir, err := os.MkdirTemp("", "uspconf")
	if err != nil {
		return report{}, err
	}
	defer os.RemoveAll(dir)
	out := filepath.Join(dir, "report.json")
	stdout, runErr := exec.Command(bin, append([]string{"conformance", "--json", out}, args...)...).Output()
	var r report
	b, err := os.ReadFile(out)
	if err != nil {
		return r, fmt.Errorf("no report (%v): %s", runErr, stdout)
	}
	return r, json.Unmarshal(b, &r)
}
