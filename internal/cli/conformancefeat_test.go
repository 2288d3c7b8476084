package cli_test

import (
	"os"
	"strings"
	"testing"

	"github.com/uspkit/uspkit/internal/testenv"
)

// TestConformanceAgentFeatures runs against `usp agent` over MQTT 5
// (mosquitto) the TP-469 cases of the agent's optional features:
// Subscription TriggerAction (1.93, 1.94), SecuredRoles with a second
// controller (2.27), OnBoardingComplete (1.101) and, with
// USP_CONFORMANCE_LONG=1, OnBoardingRestartTime (1.102 and 1.103, about
// three and a half minutes of waiting).
func TestConformanceAgentFeatures(t *testing.T) {
	bin := buildUSP(t)
	ids := "1.93 1.94 1.101 2.27"
	long := os.Getenv("USP_CONFORMANCE_LONG") == "1"
	if long {
		ids += " 1.102 1.103"
	}
	testenv.EachMTP(t, func(t *testing.T, m testenv.MTP) {
		e := newMTPEnds(m, "proto::uspkit-conformance")
		mtps, ctrls := agentMTPYAML(m, e)
		startAgentProcessWith(t, bin, e.agentID, mtps, ctrls)
		args := append(conformanceArgs(t, m, e), "--run", strings.Join(strings.Fields(ids), ","))
		if long {
			args = append(args, "--long", "--timeout", "4m")
		}
		r := runConformanceProcess(t, bin, args...)
		passed := map[string]bool{}
		for _, c := range r.Results {
			if c.Status == "pass" {
				passed[c.ID] = true
			} else {
				t.Logf("%s %s: %s", c.ID, c.Status, c.Reason)
			}
		}
		for _, id := range strings.Fields(ids) {
			if !passed[id] {
				t.Errorf("%s did not pass", id)
			}
		}
		if !long {
			t.Log("1.102 and 1.103 not run: set USP_CONFORMANCE_LONG=1")
		}
	}, "MQTT5")
}
