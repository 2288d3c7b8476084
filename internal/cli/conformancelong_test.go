package cli_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/uspkit/uspkit/internal/testenv"
)

// longBulkInterval is the bulk data ReportingInterval of the long run in
// seconds: the agent's minimum is 1 s, and the runner uses at least 60 s
// where the plan's waits need it (10.7).
const longBulkInterval = 5

// TestConformanceLong runs the whole TP-469 plan with long waits and
// reboots (`usp conformance --long --reboot`) against `usp agent` over
// one MTP of each family TestConformance uses (WebSocket with the agent
// as server, MQTT 5 through mosquitto, STOMP over TLS through RabbitMQ)
// and checks that no case fails. A reboot restarts the agent process on
// its own data directory (restart.go), so the cases behind the reboot
// gate run as they would on a device.
//
// A run takes several minutes per MTP: it runs only with
// USP_CONFORMANCE_LONG=1, and one MTP at a time with -run
// 'TestConformanceLong/<name>'. USP_UPDATE_DOCS=1 writes each run's long
// and reboot cases to docs/conformance-long.md.
func TestConformanceLong(t *testing.T) {
	if os.Getenv("USP_CONFORMANCE_LONG") != "1" {
		t.Skip("the long conformance runs take minutes: set USP_CONFORMANCE_LONG=1")
	}
	bin := buildUSP(t)
	sections := conformanceSections()
	names := []string{"WebSocket-AgentServer", "MQTT5", "STOMP-TLS"}
	mtpCerts := t.TempDir()
	writeMTPCerts(t, mtpCerts)
	t.Setenv("SSL_CERT_FILE", filepath.Join(mtpCerts, "ca.pem"))
	testenv.EachMTP(t, func(t *testing.T, m testenv.MTP) {
		e := newMTPEnds(m, "proto::uspkit-conformance")
		mtps, ctrls := agentMTPYAML(m, e)
		e2eYAML, e2eArgs := e2eConformance(t, e.agentID, e.ctrlID)
		// The runner's HTTPS collector presents the certificate the
		// agent trusts for the runner's own MQTT and STOMP servers.
		bulk := fmt.Sprintf("bulk_data:\n  min_reporting_interval: 1\n  ca: %s\n", filepath.Join(mtpCerts, "ca.pem"))
		startAgentProcessWith(t, bin, e.agentID, mtps, ctrls+e2eYAML+bulk)
		args := append(append(conformanceArgs(t, m, e), e2eArgs...), mtpCertArgs(mtpCerts)...)
		args = append(args, "--long", "--reboot", "--timeout", "5m",
			"--bulkdata-interval", fmt.Sprint(longBulkInterval),
			"--bulkdata-cert", filepath.Join(mtpCerts, "server.pem"), "--bulkdata-key", filepath.Join(mtpCerts, "server.key"))
		start := time.Now()
		r := runConformanceProcess(t, bin, args...)
		took := time.Since(start).Round(time.Second)
		if r.Failed != 0 {
			t.Errorf("%d cases failed", r.Failed)
		}
		for _, c := range r.Results {
			if c.Status == "skip" && longGated(c.Reason) {
				t.Errorf("%s skipped behind a gate the run opens: %s", c.ID, c.Reason)
			}
		}
		fmt.Fprintf(os.Stderr, "%s: %d passed, %d failed, %d skipped in %v\n", sections[m.Name], r.Passed, r.Failed, r.Skipped, took)
		writeLongDoc(t, sections[m.Name], r, took)
	}, names...)
}

// longGated reports whether a skip reason is that of the long-wait or
// reboot gate, which --long --reboot opens.
func longGated(reason string) bool {
	return strings.Contains(reason, "run with long waits") || strings.Contains(reason, "run with reboots")
}

// longDoc is the file the long runs are recorded in, apart from
// docs/conformance.md so that its regeneration is untouched.
const longDoc = "../../docs/conformance-long.md"

// writeLongDoc records, with USP_UPDATE_DOCS=1, the run's counts and the
// results of its long and reboot cases (those the default run skips
// behind the gates) in the section of docs/conformance-long.md for the
// MTP; other sections are kept.
func writeLongDoc(t *testing.T, section string, r report, took time.Duration) {
	t.Helper()
	if os.Getenv("USP_UPDATE_DOCS") != "1" {
		return
	}
	gated := defaultGatedCases(section)
	var b strings.Builder
	fmt.Fprintf(&b, "## %s\n\nWhole plan with `--long --reboot --bulkdata-interval %d`, run on %s: **%d passed, %d failed, %d skipped** in %d s.\n\n",
		section, longBulkInterval, time.Now().UTC().Format(time.DateOnly), r.Passed, r.Failed, r.Skipped, int(took.Seconds()))
	b.WriteString("### Long and reboot cases\n\n| Case | Title | Tag | Result | Reason |\n|---|---|---|---|---|\n")
	for _, c := range r.Results {
		if !gated[c.ID] {
			continue
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", c.ID, strings.ReplaceAll(c.Title, "|", "\\|"), c.Tag, c.Status, strings.ReplaceAll(c.Reason, "|", "\\|"))
	}
	want := b.String()
	text := longDocHeader
	if doc, err := os.ReadFile(longDoc); err == nil {
		text = string(doc)
	}
	start := strings.Index(text, "## "+section+"\n")
	if start < 0 {
		text = strings.TrimRight(text, "\n") + "\n\n" + want
	} else {
		end := strings.Index(text[start+3:], "\n## ")
		if end < 0 {
			end = len(text)
		} else {
			end += start + 3 + 1
		}
		text = text[:start] + want + "\n" + text[end:]
	}
	if err := os.WriteFile(longDoc, []byte(strings.TrimRight(text, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

const longDocHeader = `# TP-469 long and reboot cases

The default conformance runs (docs/conformance.md) skip the cases that
wait for more than 20 seconds or reboot the agent. TestConformanceLong
(internal/cli/conformancelong_test.go) runs the whole plan with
` + "`--long --reboot`" + ` against ` + "`usp agent`" + ` over one MTP of each family;
each section below gives the run's counts and the cases that the default
run skips behind those gates. Regenerate with:

    USP_CONFORMANCE_LONG=1 USP_UPDATE_DOCS=1 go test ./internal/cli -run 'TestConformanceLong/<MTP>' -count=1 -timeout 60m
`

// defaultGatedCases returns the cases that the section of
// docs/conformance.md for the MTP skips behind the long-wait or reboot
// gate.
func defaultGatedCases(section string) map[string]bool {
	out := map[string]bool{}
	doc, err := os.ReadFile("../../docs/conformance.md")
	if err != nil {
		return out
	}
	text := string(doc)
	start := strings.Index(text, "## "+section+"\n")
	if start < 0 {
		return out
	}
	text = text[start+3:]
	if end := strings.Index(text, "\n## "); end >= 0 {
		text = text[:end]
	}
	for line := range strings.SplitSeq(text, "\n") {
		f := strings.Split(line, " | ")
		if len(f) < 5 || !strings.HasPrefix(f[0], "| ") {
			continue
		}
		id, status, reason := strings.TrimPrefix(f[0], "| "), f[3], strings.Join(f[4:], " | ")
		if status == "skip" && longGated(reason) {
			out[id] = true
		}
	}
	return out
}
