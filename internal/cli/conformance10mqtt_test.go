package cli_test

import (
	"testing"

	"github.com/uspkit/uspkit/internal/testenv"
)

// TestConformanceBulkDataMQTT runs TP-469 10.13 against `usp agent`
// whose MTP is an MQTT client of mosquitto: with MQTT 5.0 and 3.1.1 the
// agent has MQTT in Device.BulkData.Protocols and publishes two reports
// through that client on the plan's topic as it is (no reply-to suffix),
// which the runner's own subscriber receives.
func TestConformanceBulkDataMQTT(t *testing.T) {
	bin := buildUSP(t)
	want := map[string]string{"MQTT5": "pass", "MQTT5-TLS": "pass", "MQTT311": "pass"}
	testenv.EachMTP(t, func(t *testing.T, m testenv.MTP) {
		e := newMTPEnds(m, "proto::uspkit-conformance")
		mtps, ctrls := agentMTPYAML(m, e)
		startAgentProcessWith(t, bin, e.agentID, mtps, ctrls+"bulk_data:\n  min_reporting_interval: 1\n")
		r := runConformanceProcess(t, bin, append(conformanceArgs(t, m, e), "--run", "10.13", "--bulkdata-interval", "2")...)
		if len(r.Results) != 1 || r.Results[0].Status != want[m.Name] {
			t.Fatalf("10.13: %+v, want %s", r.Results, want[m.Name])
		}
		t.Logf("10.13 %s: %s", r.Results[0].Status, r.Results[0].Reason)
	}, "MQTT5", "MQTT5-TLS", "MQTT311")
}
