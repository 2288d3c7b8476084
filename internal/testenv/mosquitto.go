package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// Mosquitto starts a mosquitto broker for one test, listening on
// 127.0.0.1 without authentication, and returns its address
// ("127.0.0.1:port"). It is stopped, by PID, when the test ends. The test
// is skipped (failed with USP_REQUIRE_EXTERNAL=1) when mosquitto is not
// installed.
func Mosquitto(t testing.TB) string {
	t.Helper()
	bin := LookPath(t, "mosquitto", "mosquitto", "/usr/sbin")
	dir := t.TempDir()
	port := FreePort(t)
	conf := filepath.Join(dir, "mosquitto.conf")
	text := fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\npersistence false\nset_tcp_nodelay true\nlog_dest file %s\n", port, filepath.Join(dir, "log"))
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-c", conf)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	WaitListening(t, addr, 10*time.Second)
	return addr
}
