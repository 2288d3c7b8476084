package agentbench_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/uspkit/uspkit/internal/agentbench"
	"github.com/uspkit/uspkit/internal/testenv"
)

// benchAgentID is the Endpoint ID of the `usp agent` the tests start.
const benchAgentID = "os::012345-BENCH"

// startAgent builds usp and runs `usp agent` with an MQTT MTP on broker
// and a WebSocket server on 127.0.0.1, the Controller "proto::agentbench"
// known on both, and returns its process and WebSocket URL. The process is
// killed when the test ends.
func startAgent(t *testing.T, broker string, extraArgs ...string) (*exec.Cmd, string) {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "usp")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/usp").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	port := testenv.FreePort(t)
	conf := fmt.Sprintf(`endpoint_id: %s
data: %s
log_level: warn
mtps:
  - protocol: MQTT
    url: tcp://%s
    mqtt_version: "5"
    topic: usp/agent/bench
    controller_topic: usp/controller/agentbench
  - protocol: WebSocket
    listen: 127.0.0.1:%d
    path: /usp
factory:
  controllers:
    - endpoint_id: proto::agentbench
      mtps:
        - protocol: MQTT
          topic: usp/controller/agentbench
        - protocol: WebSocket
`, benchAgentID, dir, broker, port)
	cfg := filepath.Join(dir, "agent.yaml")
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, append([]string{"agent", "--config", cfg}, extraArgs...)...)
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || !strings.Contains(line, "ready") {
		t.Fatalf("first line %q: %v", line, err)
	}
	return cmd, fmt.Sprintf("ws://127.0.0.1:%d/usp", port)
}

// TestAgentBench drives `usp agent` over MQTT (mosquitto) and WebSocket
// with every workload at 1, 8 and 64 requests in flight and prints the
// table of docs/perf.md. Without USP_BENCH=1 it is a short check that
// every workload is answered without errors (50 requests a cell, 1 and 8
// in flight).
func TestAgentBench(t *testing.T) {
	mosq := testenv.StartMosquitto(t)
	cmd, wsURL := startAgent(t, mosq.Plain)
	o := &agentbench.Options{Requests: 50, Duration: time.Second, InFlight: []int{1, 8}}
	if os.Getenv("USP_BENCH") == "1" {
		o = &agentbench.Options{Rounds: 2}
	}
	pid := cmd.Process.Pid
	targets := []agentbench.Target{
		{Name: "usp-mqtt", EndpointID: benchAgentID, PID: pid,
			MQTT: &agentbench.MQTTTarget{URL: "tcp://" + mosq.Plain, AgentTopic: "usp/agent/bench"}},
		{Name: "usp-ws", EndpointID: benchAgentID, PID: pid, WebSocket: &agentbench.WebSocketTarget{URL: wsURL}},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	rep, err := agentbench.Run(ctx, targets, o)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	agentbench.Print(&b, rep)
	t.Log("\n" + b.String())
	for _, r := range rep.Results {
		if r.Errors > 0 || r.Requests == 0 {
			t.Errorf("%s %s at %d in flight: %d answered, %d errors (%s)", r.Target, r.Workload, r.InFlight, r.Requests, r.Errors, r.FirstErr)
		}
	}
}
