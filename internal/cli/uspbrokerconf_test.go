package cli_test

import (
	"os"
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
	r := runConformanceProcess(t, b.bin, args...)
	status := map[string]string{}
	for _, c := range r.Results {
		status[c.ID] = c.Status
	}
	for _, id := range []string{"1.76", "1.92", "1.97", "1.98"} {
		if status[id] != "pass" {
			t.Errorf("%s: %s", id, status[id])
		}
	}
	if !subset && r.Passed < 100 {
		t.Errorf("only %d cases passed", r.Passed)
	}
	// The diagnostics are the Service's: the Broker's supported data model
	// has only their parents.
	if got := getParams(t, b.ctl, b.id, "Device.IP.Diagnostics.IPv4TraceRouteSupported"); got["Device.IP.Diagnostics.IPv4TraceRouteSupported"] != "true" {
		t.Errorf("through the Broker: %v", got)
	}
}
