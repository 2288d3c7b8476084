package testenv

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"
)

// RequireExternal reports whether tests must fail, not skip, when an
// external program they need is missing: CI sets USP_REQUIRE_EXTERNAL=1.
func RequireExternal() bool {
	return os.Getenv("USP_REQUIRE_EXTERNAL") == "1"
}

// LookPath finds an external program, or skips the test loudly (fails it
// when RequireExternal) naming the program and how to install it.
func LookPath(t testing.TB, name, pkg string, dirs ...string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, d := range dirs {
		p := d + "/" + name
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p
		}
	}
	msg := fmt.Sprintf("SKIP: %s not found; install Debian's %s to run this test", name, pkg)
	if RequireExternal() {
		t.Fatalf("%s (USP_REQUIRE_EXTERNAL=1)", msg)
	}
	t.Skip(msg)
	return ""
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago, for
// external programs that cannot be told to pick one themselves.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// WaitListening waits until addr accepts TCP connections.
func WaitListening(t testing.TB, addr string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s is not listening after %v: %v", addr, timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Main runs the tests and then fails the run if goroutines started by them
// are still running (after a grace period for ones that are exiting).
func Main(m *testing.M) {
	before := runtime.NumGoroutine()
	code := m.Run()
	if code == 0 {
		if leaked := leaks(before); leaked != "" {
			fmt.Fprintf(os.Stderr, "leaked goroutines:\n%s\n", leaked)
			code = 1
		}
	}
	os.Exit(code)
}

func leaks(before int) string {
	deadline := time.Now().Add(5 * time.Second)
	for {
		if runtime.NumGoroutine() <= before {
			return ""
		}
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "testing.(*M).Run") || strings.Contains(g, "testenv.leaks") ||
			strings.Contains(g, "os/signal.signal_recv") || strings.Contains(g, "created by os/signal.Notify") ||
			strings.Contains(g, "runtime.goexit") && strings.Contains(g, "signal.") {
			continue
		}
		out = append(out, g)
	}
	return strings.Join(out, "\n\n")
}
