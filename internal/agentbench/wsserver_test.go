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
	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/mtp/ws"
)

// startDialingAgent builds usp and runs `usp agent` whose only MTP is a
// WebSocket client to url, with the Controller "proto::agentbench" reached
// over it. The process is killed when the test ends.
func startDialingAgent(t *testing.T, id, url string) *exec.Cmd {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "usp")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/usp").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	conf := fmt.Sprintf(`endpoint_id: %s
data: %s
log_level: warn
mtps:
  - protocol: WebSocket
    url: %s
factory:
  controllers:
    - endpoint_id: proto::agentbench
      mtps:
        - protocol: WebSocket
`, id, dir, url)
	cfg := filepath.Join(dir, "agent.yaml")
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "agent", "--config", cfg)
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
	return cmd
}

// TestAgentBenchAgentDials: with WebSocketTarget.Listen the load client is
// a WebSocket server (TR-369 [R-WS.6]) that `usp agent`, a WebSocket
// client, connects to, as it would to its Controller; every workload is
// answered over that connection. Another Endpoint connecting first is not
// taken for the Agent: requests go to the Agent's own session, addressed by
// the Endpoint ID of its handshake [R-WS.10b].
func TestAgentBenchAgentDials(t *testing.T) {
	port := testenv.FreePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	url := "ws://" + addr + "/usp"
	const id = "os::012345-WSDIAL"

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	type result struct {
		rep *agentbench.Report
		err error
	}
	done := make(chan result, 1)
	go func() {
		rep, err := agentbench.Run(ctx, []agentbench.Target{{Name: "usp-ws-dial", EndpointID: id,
			WebSocket: &agentbench.WebSocketTarget{Listen: addr}}},
			&agentbench.Options{Requests: 50, Duration: time.Second, InFlight: []int{1, 8}})
		done <- result{rep, err}
	}()

	// A bystander connects before the Agent: it must not count as the
	// Agent. It retries until the load client's server listens.
	upc := make(chan struct{}, 1)
	bystander := ws.NewClient(&ws.Options{URL: url, EndpointID: "proto::bystander", MinWait: 50 * time.Millisecond,
		OnState: func(_ context.Context, _ mtp.Peer, s mtp.State, _ error) {
			if s == mtp.StateUp {
				select {
				case upc <- struct{}{}:
				default:
				}
			}
		}})
	go bystander.Serve(ctx, mtp.HandlerFunc(func(context.Context, mtp.Inbound) {
		t.Error("the bystander got a Record")
	}))
	defer bystander.Close()
	select {
	case <-upc:
	case <-time.After(10 * time.Second):
		t.Fatal("the bystander could not connect to the load client's server")
	case r := <-done:
		t.Fatalf("run ended before the Agent connected: %v", r.err)
	}

	startDialingAgent(t, id, url)
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	var b strings.Builder
	agentbench.Print(&b, r.rep)
	t.Log("\n" + b.String())
	if len(r.rep.Results) == 0 {
		t.Fatal("no results")
	}
	for _, res := range r.rep.Results {
		if res.Errors > 0 || res.Requests == 0 {
			t.Errorf("%s %s at %d in flight: %d answered, %d errors (%s)", res.Target, res.Workload, res.InFlight, res.Requests, res.Errors, res.FirstErr)
		}
	}
}
