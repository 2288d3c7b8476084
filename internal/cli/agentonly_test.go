//go:build linux

package cli_test

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/uspkit/uspkit/internal/testenv"
)

// idleRSSGoal is the idle VmRSS, in KiB, that usp-agent stays within:
// OB-USP-Agent's with one MQTT MTP measured on the same machine was
// 9.2-13.6 MB (docs/perf.md).
const idleRSSGoal = 14 * 1024

// TestAgentOnlyIdleRSS builds cmd/usp-agent, runs it with a WebSocket MTP
// and checks that its VmRSS settles within idleRSSGoal once idle (the
// executable's pages dropped after an idle interval, agentpages.go).
func TestAgentOnlyIdleRSS(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "usp-agent")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/usp-agent").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	port := testenv.FreePort(t)
	conf := fmt.Sprintf(`endpoint_id: os::012345-IDLE1
data: %s
log_level: warn
mtps:
  - protocol: WebSocket
    listen: 127.0.0.1:%d
    path: /usp
factory:
  controllers:
    - endpoint_id: proto::ctl-idle
`, dir, port)
	cfgPath := filepath.Join(dir, "agent.yaml")
	if err := os.WriteFile(cfgPath, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--config", cfgPath)
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer interrupt(cmd, 10*time.Second)
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || !strings.Contains(line, "ready") {
		t.Fatalf("first line %q: %v", line, err)
	}
	start := vmRSS(cmd.Process.Pid)
	rss := start
	for deadline := time.Now().Add(35 * time.Second); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		if rss = vmRSS(cmd.Process.Pid); rss > 0 && rss <= idleRSSGoal {
			break
		}
	}
	t.Logf("usp-agent VmRSS: %d KiB at start, %d KiB idle", start, rss)
	if rss == 0 || rss > idleRSSGoal {
		t.Errorf("idle VmRSS %d KiB, want at most %d", rss, idleRSSGoal)
	}
}
