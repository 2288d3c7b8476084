package cli_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

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
// factory controllers.
func startAgentProcessWith(t *testing.T, bin, id, mtps, controllers string) func() func() {
	t.Helper()
	dir := t.TempDir()
	conf := fmt.Sprintf("endpoint_id: %s\ndata: %s\nlog_level: error\nmtps:\n%sfactory:\n  controllers:\n%s", id, dir, mtps, controllers)
	cfg := filepath.Join(dir, "agent.yaml")
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	start := func() *exec.Cmd {
		cmd := exec.Command(bin, "agent", "--config", cfg)
		stdout, _ := cmd.StdoutPipe()
		cmd.Stderr = os.Stderr
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

type report struct {
	Results []struct {
		ID, Title, Tag, Status, Reason string
	} `json:"results"`
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
	return r
}

// TestConformanceWebSocket runs the TP-469 runner, as its own process,
// against `usp agent` over the WebSocket MTP.
func TestConformanceWebSocket(t *testing.T) {
	bin := buildUSP(t)
	port := testenv.FreePort(t)
	startAgentProcess(t, bin, "os::012345-CONF1", fmt.Sprintf("  - protocol: WebSocket\n    listen: 127.0.0.1:%d\n    path: /usp\n", port),
		"WebSocket", "proto::uspkit-conformance")
	r := runConformanceProcess(t, bin, "--agent", "os::012345-CONF1", "--mtp", "ws", "--url", fmt.Sprintf("ws://127.0.0.1:%d/usp", port),
		"--second-id", "proto::second")
	if r.Passed < 100 {
		t.Errorf("only %d cases passed", r.Passed)
	}
	checkDoc(t, "WebSocket", r)
}

// TestConformanceSTOMP runs the TP-469 runner against `usp agent` over
// STOMP through RabbitMQ.
func TestConformanceSTOMP(t *testing.T) {
	r := testenv.RabbitMQ(t)
	bin := buildUSP(t)
	agentDest := "/queue/usp.agent.conf"
	startAgentProcess(t, bin, "os::012345-CONF2", fmt.Sprintf("  - protocol: STOMP\n    addr: %s\n    vhost: /\n    username: guest\n    password: guest\n    destination: %s\n",
		r.Stomp, agentDest), "STOMP", "proto::uspkit-conformance")
	rep := runConformanceProcess(t, bin, "--agent", "os::012345-CONF2", "--mtp", "stomp", "--addr", r.Stomp, "--user", "guest", "--pass", "guest",
		"--dest", "/queue/usp.conformance", "--agent-dest", agentDest, "--second-id", "proto::second")
	if rep.Passed < 100 {
		t.Errorf("only %d cases passed", rep.Passed)
	}
	checkDoc(t, "STOMP", rep)
}

// TestConformanceMQTT runs the TP-469 runner against `usp agent` over MQTT
// 5 and 3.1.1 through mosquitto.
func TestConformanceMQTT(t *testing.T) {
	bin := buildUSP(t)
	for _, v := range []string{"5", "3.1.1"} {
		t.Run(v, func(t *testing.T) {
			addr := testenv.Mosquitto(t)
			agentTopic := "usp/agent/conf"
			id := "os::012345-CONFMQ" + strings.ReplaceAll(v, ".", "")
			startAgentProcessWith(t, bin, id,
				fmt.Sprintf("  - protocol: MQTT\n    url: tcp://%s\n    topic: %s\n    mqtt_version: \"%s\"\n    controller_topic: usp/controller/conformance\n", addr, agentTopic, v),
				"    - endpoint_id: proto::uspkit-conformance\n      mtps:\n        - protocol: MQTT\n          topic: usp/controller/conformance\n")
			rep := runConformanceProcess(t, bin, "--agent", id, "--mtp", "mqtt", "--url", "tcp://"+addr, "--mqtt-version", v,
				"--agent-topic", agentTopic, "--second-id", "proto::second")
			if rep.Passed < 100 {
				t.Errorf("only %d cases passed", rep.Passed)
			}
			checkDoc(t, "MQTT "+v+" via mosquitto", rep)
		})
	}
}

// TestConformanceWebSocketTLS runs the runner against `usp agent` over
// WebSocket with mutual TLS: the agent verifies the runner's certificate
// and the runner the agent's.
func TestConformanceWebSocketTLS(t *testing.T) {
	bin := buildUSP(t)
	pkiDir := t.TempDir()
	testenv.NewPKI(t, "proto::uspkit-conformance").WriteFiles(t, pkiDir)
	port := testenv.FreePort(t)
	tlsConf := fmt.Sprintf("    tls:\n      cert: %s/server.pem\n      key: %s/server.key\n      ca: %s/ca.pem\n      client_auth: true\n", pkiDir, pkiDir, pkiDir)
	startAgentProcess(t, bin, "os::012345-CONFTLS", fmt.Sprintf("  - protocol: WebSocket\n    listen: 127.0.0.1:%d\n    path: /usp\n%s", port, tlsConf),
		"WebSocket", "proto::uspkit-conformance")
	r := runConformanceProcess(t, bin, "--agent", "os::012345-CONFTLS", "--mtp", "ws", "--url", fmt.Sprintf("wss://localhost:%d/usp", port),
		"--ca", pkiDir+"/ca.pem", "--cert", pkiDir+"/client.pem", "--key", pkiDir+"/client.key")
	if r.Passed < 100 {
		t.Errorf("only %d cases passed", r.Passed)
	}
	checkDoc(t, "WebSocket with mutual TLS", r)
}
