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
	"testing"
	"time"

	"github.com/uspkit/uspkit/internal/testenv"
	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/mtp/mqtt"
)

// TestAgentFilesAtRest: `usp agent` restricts an existing 0755 data
// directory to 0700, keeps agent.db, its -wal/-shm and secret.key at
// 0600, and stores its MQTT password sealed: the password bytes are not
// in agent.db, yet the restarted agent logs in with it.
func TestAgentFilesAtRest(t *testing.T) {
	const user, pass = "agent-rest", "agent-rest-pw-8d1f0c2e77"
	mq := testenv.StartMosquittoWith(t, &testenv.MosquittoOptions{User: user, Password: pass})
	if mq.Auth == "" {
		t.Skip("mosquitto_passwd is not installed: no password listener")
	}
	bin := buildUSP(t)
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755) // whatever the umask
	const ctlTopic = "usp/controller/rest"
	conf := fmt.Sprintf(`endpoint_id: os::012345-REST1
data: %s
log_level: warn
store: sqlite
mtps:
  - protocol: MQTT
    url: tcp://%s
    username: %s
    password: %s
    topic: usp/agent/rest
    controller_topic: %s
factory:
  controllers:
    - endpoint_id: proto::rest-ctl
      mtps:
        - protocol: MQTT
          topic: %s
`, dir, mq.Auth, user, pass, ctlTopic, ctlTopic)
	cfg := filepath.Join(t.TempDir(), "agent.yaml")
	os.WriteFile(cfg, []byte(conf), 0o600)
	run := func() (stop func()) {
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
		return func() {
			if _, inTime := interrupt(cmd, 10*time.Second); !inTime {
				t.Error("agent did not stop on SIGINT")
			}
		}
	}
	run()()

	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("data directory: %v, %v; want mode 700", fi.Mode().Perm(), err)
	}
	var all []byte
	for _, name := range []string{"agent.db", "agent.db-wal", "agent.db-shm", "secret.key"} {
		p := filepath.Join(dir, name)
		fi, err := os.Stat(p)
		if os.IsNotExist(err) && name != "agent.db" && name != "secret.key" {
			continue // SQLite removes -wal and -shm on a clean close
		}
		if err != nil {
			t.Fatal(err)
		}
		if m := fi.Mode().Perm(); m != 0o600 {
			t.Errorf("%s: mode %o, want 600", name, m)
		}
		if name != "secret.key" {
			b, _ := os.ReadFile(p)
			all = append(all, b...)
		}
	}
	if bytes.Contains(all, []byte(pass)) {
		t.Error("the MQTT password is in agent.db in plain text")
	}
	if !bytes.Contains(all, []byte(user)) {
		t.Error("test set-up: the MQTT username is not in agent.db either")
	}

	// The restarted agent reads the sealed password and logs in: its
	// MQTTConnect record reaches the controller's topic.
	got := make(chan struct{}, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ctl := mqtt.NewClient(&mqtt.Options{URL: "tcp://" + mq.Auth, EndpointID: "proto::rest-ctl", Username: user, Password: pass, Topic: ctlTopic})
	go ctl.Serve(ctx, mtp.HandlerFunc(func(context.Context, mtp.Inbound) {
		select {
		case got <- struct{}{}:
		default:
		}
	}))
	defer ctl.Close()
	time.Sleep(300 * time.Millisecond) // let the subscription settle
	stop := run()
	defer stop()
	select {
	case <-got:
	case <-time.After(15 * time.Second):
		t.Fatal("the restarted agent sent nothing: it did not log in with its stored password")
	}
}

// TestControllerFilesAtRest: `usp controller` restricts an existing 0755
// data directory to 0700 and keeps controller.db, its -wal/-shm and the
// token files at 0600.
func TestControllerFilesAtRest(t *testing.T) {
	bin := buildUSP(t)
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	startControllerProc(t, bin, dir, "")
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("data directory: %v, %v; want mode 700", fi.Mode().Perm(), err)
	}
	for _, name := range []string{"controller.db", "controller.db-wal", "controller.db-shm", "tokens.json", "admin.token"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if m := fi.Mode().Perm(); m != 0o600 {
			t.Errorf("%s: mode %o, want 600", name, m)
		}
	}
}
