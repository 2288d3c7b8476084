package cli_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/uspkit/uspkit/internal/testenv"
)

// agentDefects are the section-7 failures of `usp agent` that the runner
// finds, with their exact reason: a fix makes TestConformance7 fail until
// the entry goes. There are none.
var agentDefects = map[string]string{}

// TestConformance7 runs the WebSocket cases of TP-469 (section 7), with
// reboots and long waits, against `usp agent` in both WebSocket roles,
// over TCP and over mutual TLS, and checks each case's outcome.
func TestConformance7(t *testing.T) {
	bin := buildUSP(t)
	pki := t.TempDir()
	testenv.NewPKI(t, "proto::uspkit-conformance").WriteFiles(t, pki)
	tlsAgentServer := fmt.Sprintf("    tls:\n      cert: %[1]s/server.pem\n      key: %[1]s/server.key\n      ca: %[1]s/ca.pem\n      client_auth: true\n", pki)
	tlsAgentClient := fmt.Sprintf("    tls:\n      cert: %[1]s/client.pem\n      key: %[1]s/client.key\n      ca: %[1]s/ca.pem\n", pki)
	runnerClientTLS := []string{"--ca", pki + "/ca.pem", "--cert", pki + "/client.pem", "--key", pki + "/client.key"}
	runnerServerTLS := []string{"--ca", pki + "/ca.pem", "--cert", pki + "/server.pem", "--key", pki + "/server.key"}
	server := "7.1:skip 7.2:pass 7.4:skip 7.6:pass 7.7:pass 7.8:skip 7.9:skip 7.10:skip 7.11:pass 7.12:pass"
	client := "7.1:pass 7.2:skip 7.4:pass 7.6:pass 7.7:pass 7.8:pass 7.9:skip 7.10:pass 7.11:pass 7.12:pass"
	for _, c := range []struct {
		name        string
		agentServes bool
		tls         bool
		want        string
	}{
		{"AgentServer", true, false, server},
		{"AgentServerTLS", true, true, server},
		{"AgentClient", false, false, client},
		{"AgentClientTLS", false, true, strings.Replace(client, "7.9:skip", "7.9:pass", 1)},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			agentID := "os::012345-C7" + strings.ToUpper(c.name)
			ctrls := "    - endpoint_id: proto::uspkit-conformance\n      mtps:\n        - protocol: WebSocket\n"
			args := []string{"--agent", agentID, "--run", "7.*", "--reboot", "--long"}
			var r report
			if c.agentServes {
				port := testenv.FreePort(t)
				scheme, tlsConf := "ws", ""
				if c.tls {
					scheme, tlsConf = "wss", tlsAgentServer
					args = append(args, runnerClientTLS...)
				}
				startAgentProcessWith(t, bin, agentID, fmt.Sprintf("  - protocol: WebSocket\n    listen: 127.0.0.1:%d\n    path: /usp\n%s", port, tlsConf), ctrls)
				args = append(args, "--mtp", "ws", "--url", fmt.Sprintf("%s://localhost:%d/usp", scheme, port))
				r = runSection7(t, bin, args, nil)
			} else {
				args = append(args, "--mtp", "ws-server", "--listen", "127.0.0.1:0")
				scheme, tlsConf := "ws", ""
				if c.tls {
					scheme, tlsConf = "wss", tlsAgentClient
					args = append(args, runnerServerTLS...)
				}
				r = runSection7(t, bin, args, func(addr string) {
					port := addr[strings.LastIndexByte(addr, ':')+1:]
					startAgentProcessWith(t, bin, agentID, fmt.Sprintf("  - protocol: WebSocket\n    url: %s://localhost:%s/usp\n%s", scheme, port, tlsConf), ctrls)
				})
			}
			checkSection7(t, r, c.want)
		})
	}
}

// runSection7 runs `usp conformance` with args and returns its report.
// With listening not nil, it is called with the address the runner
// listens on, once it does.
func runSection7(t *testing.T, bin string, args []string, listening func(addr string)) report {
	t.Helper()
	out := filepath.Join(t.TempDir(), "report.json")
	cmd := exec.Command(bin, append([]string{"conformance", "--json", out}, args...)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stdout strings.Builder
	cmd.Stdout = &stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(stderr)
	if listening != nil {
		if !lines.Scan() || !strings.HasPrefix(lines.Text(), "listening on ") {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("runner: %q", lines.Text())
		}
		listening(strings.TrimPrefix(lines.Text(), "listening on "))
	}
	// Wait reads no more once the process ends: read stderr to its end
	// first.
	logged := make(chan struct{})
	go func() {
		defer close(logged)
		for lines.Scan() {
			t.Log("runner:", lines.Text())
		}
		io.Copy(io.Discard, stderr)
	}()
	select {
	case <-logged:
	case <-time.After(9 * time.Minute):
		cmd.Process.Kill()
		<-logged
		cmd.Wait()
		t.Fatal("the runner did not finish within 9 minutes")
	}
	err = cmd.Wait()
	var r report
	b, rerr := os.ReadFile(out)
	if rerr != nil {
		t.Fatalf("no report (%v): %s", err, stdout.String())
	}
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	if (err != nil) != (r.Failed > 0) {
		t.Errorf("exit %v with %d failures", err, r.Failed)
	}
	t.Logf("%d passed, %d failed, %d skipped\n%s", r.Passed, r.Failed, r.Skipped, stdout.String())
	return r
}

// checkSection7 compares a run's outcomes with want ("7.1:pass 7.2:skip
// …"): failures must be agentDefects, skips must say why, and the
// deprecated cases skip.
func checkSection7(t *testing.T, r report, want string) {
	t.Helper()
	got := map[string]string{}
	for _, c := range r.Results {
		got[c.ID] = c.Status
		if c.Status == "skip" && c.Reason == "" {
			t.Errorf("%s skipped without a reason", c.ID)
		}
		if c.Status == "fail" && agentDefects[c.ID] != c.Reason {
			t.Errorf("%s failed: %s", c.ID, c.Reason)
		}
		if c.Status == "fail" {
			t.Logf("%s fails as known: %s", c.ID, c.Reason)
		}
	}
	for _, w := range strings.Fields(want + " 7.3:skip 7.5:skip") {
		id, status, _ := strings.Cut(w, ":")
		if got[id] != status {
			t.Errorf("%s: %s, want %s", id, got[id], status)
		}
	}
	if len(r.Results) != 12 {
		t.Errorf("%d results, want the 12 cases of section 7", len(r.Results))
	}
}
