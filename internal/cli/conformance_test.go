package cli_test

import (
	"bufio"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/uspkit/uspkit/internal/testenv"
)

// startAgentProcess runs `usp agent` with the given MTP configuration and
// factory controllers reached over protocol, and waits for its ready line.
func startAgentProcess(t *testing.T, bin, id, mtps, protocol string, controllers ...string) {
	t.Helper()
	startAgentProcessStoppable(t, bin, id, mtps, protocol, controllers...)
}

// startAgentProcessStoppable is startAgentProcess returning a function
// that stops the agent (SIGINT) and returns one that starts it again on
// the same data directory.
func startAgentProcessStoppable(t *testing.T, bin, id, mtps, protocol string, controllers ...string) func() func() {
	t.Helper()
	var ctrls strings.Builder
	for _, c := range controllers {
		fmt.Fprintf(&ctrls, "    - endpoint_id: %s\n      mtps:\n        - protocol: %s\n", c, protocol)
	}
	return startAgentProcessWith(t, bin, id, mtps, ctrls.String())
}

// startAgentProcessWith runs `usp agent` with YAML for its MTPs and its
// factory controllers, logging errors to our stderr.
func startAgentProcessWith(t *testing.T, bin, id, mtps, controllers string) func() func() {
	t.Helper()
	return startAgentProcessLogged(t, bin, id, mtps, controllers, "error", os.Stderr)
}

// startAgentProcessLogged is startAgentProcessWith with the agent's
// log_level and where its stderr goes.
func startAgentProcessLogged(t *testing.T, bin, id, mtps, controllers, level string, stderr io.Writer) func() func() {
	t.Helper()
	dir := t.TempDir()
	conf := fmt.Sprintf("endpoint_id: %s\ndata: %s\nlog_level: %s\nmtps:\n%sfactory:\n  controllers:\n%s", id, dir, level, mtps, controllers)
	cfg := filepath.Join(dir, "agent.yaml")
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	start := func() *exec.Cmd {
		cmd := exec.Command(bin, "agent", "--config", cfg)
		stdout, _ := cmd.StdoutPipe()
		cmd.Stderr = stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		if line, err := bufio.NewReader(stdout).ReadString('\n'); err != nil || !strings.Contains(line, "ready") {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("agent: %q %v", line, err)
		}
		return cmd
	}
	cmd := start()
	t.Cleanup(func() {
		if cmd != nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	return func() func() {
		cmd.Process.Signal(syscall.SIGINT)
		cmd.Wait()
		cmd = nil
		return func() { cmd = start() }
	}
}

// caseResult is one case of the runner's JSON report.
type caseResult struct {
	ID, Title, Tag, Status, Reason string
	Duration                       time.Duration `json:"duration_ns"`
}

type report struct {
	Results                 []caseResult `json:"results"`
	Passed, Failed, Skipped int
}

// checkDoc compares the section of docs/conformance.md for one MTP with a
// run's results; USP_UPDATE_DOCS=1 rewrites the section instead.
func checkDoc(t *testing.T, section string, r report) {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "## %s\n\n%d passed, %d failed, %d skipped.\n\n| Case | Title | Tag | Result | Reason |\n|---|---|---|---|---|\n",
		section, r.Passed, r.Failed, r.Skipped)
	for _, c := range r.Results {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", c.ID, strings.ReplaceAll(c.Title, "|", "\\|"), c.Tag, c.Status, c.Reason)
	}
	want := b.String()
	const path = "../../docs/conformance.md"
	doc, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	text := string(doc)
	start := strings.Index(text, "## "+section+"\n")
	if start < 0 {
		t.Fatalf("docs/conformance.md has no section %q", section)
	}
	end := strings.Index(text[start+3:], "\n## ")
	if end < 0 {
		end = len(text)
	} else {
		end += start + 3 + 1
	}
	if got := text[start:end]; strings.TrimSpace(got) != strings.TrimSpace(want) {
		if os.Getenv("USP_UPDATE_DOCS") == "1" {
			os.WriteFile(path, []byte(text[:start]+want+"\n"+text[end:]), 0o644)
			return
		}
		t.Errorf("docs/conformance.md section %q does not match this run (USP_UPDATE_DOCS=1 rewrites it)", section)
	}
}

// runConformanceProcess runs `usp conformance` and returns its report.
func runConformanceProcess(t *testing.T, bin string, args ...string) report {
	t.Helper()
	out := filepath.Join(t.TempDir(), "report.json")
	cmd := exec.Command(bin, append([]string{"conformance", "--json", out}, args...)...)
	stdout, err := cmd.Output()
	var r report
	b, rerr := os.ReadFile(out)
	if rerr != nil {
		t.Fatalf("no report (%v): %s", err, stdout)
	}
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(stdout)), "\n")
	if last := lines[len(lines)-1]; last != fmt.Sprintf("%d passed, %d failed, %d skipped", r.Passed, r.Failed, r.Skipped) {
		t.Errorf("last line %q", last)
	}
	for _, c := range r.Results {
		if c.Status == "fail" {
			t.Errorf("%s failed: %s", c.ID, c.Reason)
		}
	}
	if (err != nil) != (r.Failed > 0) {
		t.Errorf("exit %v with %d failures", err, r.Failed)
	}
	t.Logf("%d passed, %d failed, %d skipped", r.Passed, r.Failed, r.Skipped)
	slow := slices.Clone(r.Results)
	slices.SortFunc(slow, func(a, b caseResult) int { return cmp.Compare(b.Duration, a.Duration) })
	var sb strings.Builder
	for _, c := range slow[:min(12, len(slow))] {
		fmt.Fprintf(&sb, " %s %v", c.ID, c.Duration.Round(100*time.Millisecond))
	}
	t.Logf("slowest cases:%s", sb.String())
	return r
}

// conformanceSections names, for each MTP of testenv.EachMTP that the
// runner is tested over, its section of docs/conformance.md.
func conformanceSections() map[string]string {
	return map[string]string{
		"WebSocket-AgentServer": "WebSocket",
		"MQTT5":                 "MQTT 5 via mosquitto",
		"MQTT311":               "MQTT 3.1.1 via mosquitto",
		"MQTT5-TLS":             "MQTT 5 over mutual TLS via mosquitto",
		"MQTT311-TLS":           "MQTT 3.1.1 over mutual TLS via mosquitto",
		"STOMP":                 "STOMP",
		"STOMP-TLS":             "STOMP over TLS",
	}
}

// TestConformance runs the TP-469 runner, as its own process, against
// `usp agent` over the MTPs of testenv.EachMTP where the runner reaches
// the agent: WebSocket with the agent as server, MQTT 5 and 3.1.1 through
// mosquitto and STOMP through RabbitMQ, each over TCP and over TLS (the
// brokers' certificates verified against their CA; the agent and the
// runner present client certificates).
//
// A run takes about two minutes per MTP: by default it covers one of each
// family (WebSocket, MQTT 5, STOMP over TLS), the last two without
// mtpServerCases, and checks the WebSocket section of docs/conformance.md;
// USP_CONFORMANCE_ALL=1 runs the whole plan over all seven and checks
// every section.
func TestConformance(t *testing.T) {
	bin := buildUSP(t)
	sections := conformanceSections()
	all := os.Getenv("USP_CONFORMANCE_ALL") != ""
	quick := map[string]bool{"WebSocket-AgentServer": true, "MQTT5": true, "STOMP-TLS": true}
	var names []string
	for _, n := range testenv.MTPNames() {
		if sections[n] != "" && (quick[n] || all) {
			names = append(names, n)
		}
	}
	// The agent trusts the runner's own MQTT and STOMP servers (4.1, 6.11,
	// 11.3) through its system roots (conformancemtp_test.go).
	mtpCerts := t.TempDir()
	writeMTPCerts(t, mtpCerts)
	t.Setenv("SSL_CERT_FILE", filepath.Join(mtpCerts, "ca.pem"))
	testenv.EachMTP(t, func(t *testing.T, m testenv.MTP) {
		e := newMTPEnds(m, "proto::uspkit-conformance")
		mtps, ctrls := agentMTPYAML(m, e)
		// E2E certificates for the TLS12 cases of section 3
		// (conformance3_test.go).
		e2eYAML, e2eArgs := e2eConformance(t, e.agentID, e.ctrlID)
		startAgentProcessWith(t, bin, e.agentID, mtps, ctrls+e2eYAML)
		args := append(append(conformanceArgs(t, m, e), e2eArgs...), mtpCertArgs(mtpCerts)...)
		whole := all || m.Name == "WebSocket-AgentServer"
		if !whole {
			args = append(args, "--skip", mtpServerCases)
		}
		r := runConformanceProcess(t, bin, args...)
		if r.Passed < 100 {
			t.Errorf("only %d cases passed", r.Passed)
		}
		if whole {
			checkDoc(t, sections[m.Name], r)
		}
	}, names...)
}

// mtpServerCases are the cases the runner plays against its own MQTT,
// STOMP and TLS servers, pointing the agent at them: they go the same
// whatever MTP the runner reaches the agent over, and take about 70 s of
// a run. By default TestConformance has them once, over WebSocket (and
// TestConformanceMTPServers again).
const mtpServerCases = "4.1,6.[2-9],6.1[12],11.[2-8],11.1[0-7]"

// conformanceArgs returns the arguments of `usp conformance` that reach
// the agent of e over m.
func conformanceArgs(t *testing.T, m testenv.MTP, e mtpEnds) []string {
	t.Helper()
	args := []string{"--agent", e.agentID, "--id", e.ctrlID, "--second-id", "proto::second"}
	switch {
	case m.Protocol == "WebSocket" && m.AgentListens:
		args = append(args, "--mtp", "ws", "--url", m.URL)
	case m.Protocol == "MQTT":
		args = append(args, "--mtp", "mqtt", "--url", m.URL, "--mqtt-version", m.MQTTVersion, "--topic", e.ctrlAddr, "--agent-topic", e.agentAddr)
	case m.Protocol == "STOMP":
		args = append(args, "--mtp", "stomp", "--addr", m.Addr, "--user", m.Username, "--pass", m.Password,
			"--dest", e.ctrlAddr, "--agent-dest", e.agentAddr)
	default:
		t.Fatalf("no conformance run over %s", m.Name)
	}
	if f := m.TLS; f != nil {
		args = append(args, "--ca", f.CA, "--cert", f.ClientCert, "--key", f.ClientKey)
	}
	return args
}

// TestConformanceWebSocketTLS runs the runner against `usp agent` over
// WebSocket with mutual TLS: the agent verifies the runner's certificate
// and the runner the agent's. The second controller presents a
// certificate of its own Endpoint ID (conformancesecond_test.go). By
// default it runs mutualTLSCases; USP_CONFORMANCE_ALL=1 the whole plan,
// checked against docs/conformance.md.
func TestConformanceWebSocketTLS(t *testing.T) {
	bin := buildUSP(t)
	// As in TestConformance, the agent trusts the runner's MQTT and STOMP
	// servers through its system roots.
	mtpCerts := t.TempDir()
	writeMTPCerts(t, mtpCerts)
	t.Setenv("SSL_CERT_FILE", filepath.Join(mtpCerts, "ca.pem"))
	args := webSocketTLSConformance(t, bin, mtpCerts, mtpEnds{agentID: "os::012345-CONFTLS", ctrlID: "proto::uspkit-conformance"}, "proto::second", "")
	args = append(args, altCertArgs(t, "proto::uspkit-conformance")...) // 9.2 (conformancecert_test.go)
	if os.Getenv("USP_CONFORMANCE_ALL") == "" {
		// By default the cases mutual TLS changes: the security section
		// and those of the second controller, with its own certificate.
		r := runConformanceProcess(t, bin, append(args, "--run", mutualTLSCases)...)
		if r.Passed < 20 {
			t.Errorf("only %d cases passed", r.Passed)
		}
		return
	}
	r := runConformanceProcess(t, bin, args...)
	if r.Passed < 100 {
		t.Errorf("only %d cases passed", r.Passed)
	}
	checkDoc(t, "WebSocket with mutual TLS", r)
}

// webSocketTLSConformance starts `usp agent` (Endpoint ID e.agentID) as
// a WebSocket server with mutual TLS, trusting the runner e.ctrlID, with
// E2E certificates for section 3 and the YAML extra added to its
// configuration, and returns the arguments of `usp conformance` that
// reach it: the runner's certificate names e.ctrlID, the second
// controller's secondID, and the runner's MQTT and STOMP servers present
// the certificate of writeMTPCerts in mtpCerts.
func webSocketTLSConformance(t *testing.T, bin, mtpCerts string, e mtpEnds, secondID, extra string) []string {
	t.Helper()
	pkiDir := t.TempDir()
	pki := testenv.NewPKI(t, e.ctrlID)
	pki.WriteFiles(t, pkiDir)
	port := testenv.FreePort(t)
	tlsConf := fmt.Sprintf("    tls:\n      cert: %s/server.pem\n      key: %s/server.key\n      ca: %s/ca.pem\n      client_auth: true\n", pkiDir, pkiDir, pkiDir)
	e2eYAML, e2eArgs := e2eConformance(t, e.agentID, e.ctrlID)
	startAgentProcessWith(t, bin, e.agentID, fmt.Sprintf("  - protocol: WebSocket\n    listen: 127.0.0.1:%d\n    path: /usp\n%s", port, tlsConf),
		"    - endpoint_id: "+e.ctrlID+"\n      mtps:\n        - protocol: WebSocket\n"+e2eYAML+extra)
	args := []string{"--agent", e.agentID, "--id", e.ctrlID, "--mtp", "ws", "--url", fmt.Sprintf("wss://localhost:%d/usp", port),
		"--ca", pkiDir + "/ca.pem", "--cert", pkiDir + "/client.pem", "--key", pkiDir + "/client.key"}
	args = append(args, secondControllerArgs(t, pki, pkiDir, secondID)...)
	return append(append(args, e2eArgs...), mtpCertArgs(mtpCerts)...)
}

// mutualTLSCases are the cases TestConformanceWebSocketTLS runs by
// default: section 2 (security) and the cases of a second controller.
const mutualTLSCases = "2.*,1.78,1.95,9.2,9.9"
