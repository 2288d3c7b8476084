package cli_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uspkit/uspkit/internal/testenv"
	"github.com/uspkit/uspkit/tr181/firmware"
)

// lockedBuffer collects a process's stderr.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestAgentFirmwareNotConnectedRollsBack: a new image that runs but does
// not bring an MTP Up within firmware.confirm_timeout (its MQTT broker is
// unreachable) restarts the agent process into the previous bank, which
// reports the roll-back.
func TestAgentFirmwareNotConnectedRollsBack(t *testing.T) {
	binA, binB := buildVersioned(t, "1.0.0-a"), buildVersioned(t, "2.0.0-b")
	dir := t.TempDir()
	// The banks as an earlier Download() and a Set of BootFirmwareImage
	// left them: bank 2 holds build B and is the boot image.
	fl, err := firmware.OpenDir(filepath.Join(dir, "firmware"), binA, &firmware.DirOptions{Version: "1.0.0-a"})
	if err != nil {
		t.Fatal(err)
	}
	img, _ := os.Open(binB)
	defer img.Close()
	ctx := context.Background()
	if err := fl.Write(ctx, 2, img); err != nil {
		t.Fatal(err)
	}
	if v, err := fl.Validate(ctx, 2); err != nil || v.Version != "2.0.0-b" {
		t.Fatalf("validate: %v %v", v, err)
	}
	if err := fl.SetBoot(ctx, 2); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf("endpoint_id: os::012345-FWCONFIRM\ndata: %s\nlog_level: info\nmtps:\n  - protocol: MQTT\n    url: tcp://127.0.0.1:%d\n"+
		"    topic: usp/agent/fwconfirm\n    controller_topic: usp/controller/x\nfirmware:\n  confirm_timeout: 2s\n", dir, testenv.FreePort(t))
	cfg := filepath.Join(dir, "agent.yaml")
	os.WriteFile(cfg, []byte(conf), 0o600)
	cmd := exec.Command(binA, "agent", "--config", cfg)
	stdout, _ := cmd.StdoutPipe()
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer interrupt(cmd, 5*time.Second)
	lines := bufio.NewScanner(stdout)
	exe := func() string { p, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", cmd.Process.Pid)); return p }
	if !lines.Scan() || !strings.Contains(lines.Text(), "ready") {
		t.Fatalf("first ready line: %q\n%s", lines.Text(), stderr.String())
	}
	if got := exe(); got != fl.File(2) {
		t.Fatalf("the agent runs %s, want bank 2's binary", got)
	}
	// Two seconds without an MTP Up: the process becomes bank 1's binary.
	if !lines.Scan() || !strings.Contains(lines.Text(), "ready") {
		t.Fatalf("no ready line after the roll-back: %q\n%s", lines.Text(), stderr.String())
	}
	if got := exe(); got != fl.File(1) {
		t.Fatalf("after the roll-back the agent runs %s, want bank 1's binary", got)
	}
	if log := stderr.String(); !strings.Contains(log, "did not connect") || !strings.Contains(log, "rolled back") {
		t.Fatalf("the roll-back is not logged:\n%s", log)
	}
}
