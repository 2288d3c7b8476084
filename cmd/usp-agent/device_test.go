package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestDeviceRefusesSQLite: the device build, which has no SQLite, and no
// bbolt without the usp_bolt tag, says so and exits 1 when its
// configuration asks for store: sqlite or store: bolt, instead of
// starting on another store.
func TestDeviceRefusesSQLite(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the agent")
	}
	bin := buildDevice(t, t.TempDir(), []string{"GOARCH=" + runtime.GOARCH})
	for _, tc := range []struct{ store, want string }{
		{"sqlite", "not in the device build"},
		{"bolt", "build it with the usp_bolt tag"},
	} {
		t.Run(tc.store, func(t *testing.T) {
			dir := privateTemp(t)
			cfg := filepath.Join(dir, "agent.yaml")
			os.WriteFile(cfg, []byte("endpoint_id: os::012345-NOSTORE\ndata: "+dir+"\nstore: "+tc.store+"\n"), 0o600)
			cmd := exec.Command(bin, "--config", cfg)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			done := make(chan error, 1)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done:
				var ee *exec.ExitError
				if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(stderr.String(), tc.want) {
					t.Errorf("exit %v, stderr %q; want status 1 and %q", err, stderr.String(), tc.want)
				}
			case <-time.After(30 * time.Second):
				cmd.Process.Kill()
				<-done
				t.Fatalf("the agent started with store: %s", tc.store)
			}
		})
	}
}
