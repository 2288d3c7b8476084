package cli_test

import (
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The usp binary the process tests run, built once per test binary (see
// buildUSP) into a directory TestMain removes.
var uspBinary struct {
	mu   sync.Mutex
	dir  string
	path string
	err  error
}

// defaultTimeout is what this package's tests get when `go test` runs
// with its default -timeout (10 minutes). The go command itself still
// stops the package a minute after its own -timeout, and the process
// tests of every MTP, broker, conformance section and the web UI take
// longer than that on a 2-core machine busy with other packages: the
// README's test command gives -timeout 30m. A -timeout given on the
// command line is kept.
const defaultTimeout = "25m"

func TestMain(m *testing.M) {
	flag.Parse()
	if f := flag.Lookup("test.timeout"); f != nil && f.Value.String() == (10*time.Minute).String() {
		f.Value.Set(defaultTimeout)
	}
	code := m.Run()
	uspBinary.mu.Lock()
	if uspBinary.dir != "" {
		os.RemoveAll(uspBinary.dir)
	}
	uspBinary.mu.Unlock()
	os.Exit(code)
}

// buildUSP returns the usp binary, building it on first use.
func buildUSP(t *testing.T) string {
	t.Helper()
	uspBinary.mu.Lock()
	defer uspBinary.mu.Unlock()
	if uspBinary.path == "" && uspBinary.err == nil {
		dir, err := os.MkdirTemp("", "uspkit-cli-test-")
		if err != nil {
			t.Fatal(err)
		}
		uspBinary.dir = dir
		bin := filepath.Join(dir, "usp")
		if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/usp").CombinedOutput(); err != nil {
			uspBinary.err = err
			t.Fatalf("build: %v\n%s", err, out)
		}
		uspBinary.path = bin
	}
	if uspBinary.err != nil {
		t.Fatalf("build failed earlier: %v", uspBinary.err)
	}
	return uspBinary.path
}

// interrupt sends SIGINT to a started process and waits for it; if it has
// not ended within limit it is killed (and waited for). It returns what
// Wait returned and whether the process ended in time.
func interrupt(cmd *exec.Cmd, limit time.Duration) (err error, inTime bool) {
	cmd.Process.Signal(syscall.SIGINT)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return err, true
	case <-time.After(limit):
		cmd.Process.Kill()
		return <-done, false
	}
}
