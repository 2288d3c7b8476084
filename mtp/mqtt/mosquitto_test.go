package mqtt_test

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/uspkit/uspkit/internal/testenv"
)

// One mosquitto serves the tests of this binary that do not kill it. It
// starts on first use (a fuzzing run starts none) and dies with the test
// process: its process group is led by a small shell that holds the read
// end of a pipe whose write end only this process has, and that kills
// its group by PID (kill -KILL 0) when the pipe closes, which the kernel
// does when this process exits however it exits (testenv.Main's os.Exit,
// a panic, a -timeout). Nothing here starts a goroutine, so the leak
// check of testenv.Main is not disturbed. Tests that kill the broker
// start their own with newMosquitto, which t.Cleanup kills by PID.
var shared struct {
	mu  sync.Mutex
	m   *mosquitto
	err error
}

// mosquitto is a running broker and how to restart it.
type mosquitto struct {
	bin   string
	dir   string
	rmDir string // removed by the reaper when this process exits
	PKI   *testenv.PKI
	// Listeners, each 127.0.0.1:port.
	Plain string // plaintext, anonymous
	MTLS  string // TLS with a client certificate required (mutual TLS)
	TLS   string // TLS, server certificate only
	Auth  string // plaintext with a password file; "" without mosquitto_passwd
	// User and Password are accepted on Auth.
	User, Password string

	mu sync.Mutex
	g  *group
}

// sharedMosquitto returns the shared broker, starting it if need be; it
// skips the test when mosquitto is not installed.
func sharedMosquitto(t testing.TB) *mosquitto {
	t.Helper()
	bin := testenv.LookPath(t, "mosquitto", "mosquitto", "/usr/sbin")
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.m == nil && shared.err == nil {
		dir, err := os.MkdirTemp("", "uspkit-mosquitto-")
		if err != nil {
			t.Fatal(err)
		}
		shared.m, shared.err = startMosquitto(t, bin, dir, dir, false)
	}
	if shared.err != nil {
		t.Fatalf("mosquitto: %v", shared.err)
	}
	return shared.m
}

// newMosquitto starts a broker of the test's own, killed at its end;
// persist keeps sessions and queued messages on disk across restarts.
func newMosquitto(t testing.TB, persist bool) *mosquitto {
	t.Helper()
	bin := testenv.LookPath(t, "mosquitto", "mosquitto", "/usr/sbin")
	m, err := startMosquitto(t, bin, t.TempDir(), "", persist)
	if err != nil {
		t.Fatalf("mosquitto: %v", err)
	}
	t.Cleanup(func() { m.Kill(t) })
	return m
}

func startMosquitto(t testing.TB, bin, dir, rmDir string, persist bool) (*mosquitto, error) {
	m := &mosquitto{bin: bin, dir: dir, rmDir: rmDir, PKI: testenv.NewPKI(t, "proto::uspkit-mqtt-test")}
	m.PKI.WriteFiles(t, dir)
	addr := func() string { return "127.0.0.1:" + strconv.Itoa(testenv.FreePort(t)) }
	m.Plain, m.MTLS, m.TLS = addr(), addr(), addr()
	if err := m.writePasswords(); err != nil {
		t.Logf("SKIP password listener: %v", err)
	} else {
		m.Auth = addr()
	}
	if err := os.WriteFile(filepath.Join(dir, "mosquitto.conf"), []byte(m.config(persist)), 0o600); err != nil {
		return nil, err
	}
	if err := m.start(); err != nil {
		return nil, err
	}
	return m, nil
}

// writePasswords makes the password file with mosquitto_passwd, if there
// is one.
func (m *mosquitto) writePasswords() error {
	tool, err := exec.LookPath("mosquitto_passwd")
	if err != nil {
		return fmt.Errorf("mosquitto_passwd not found (Debian's mosquitto package has it): %w", err)
	}
	m.User, m.Password = "agent", "s3cret:pass word"
	out, err := exec.Command(tool, "-c", "-b", filepath.Join(m.dir, "passwd"), m.User, m.Password).CombinedOutput()
	if err != nil {
		return fmt.Errorf("mosquitto_passwd: %v: %s", err, out)
	}
	return nil
}

func (m *mosquitto) config(persist bool) string {
	port := func(a string) string { _, p, _ := net.SplitHostPort(a); return p }
	var b bytes.Buffer
	if os.Geteuid() == 0 {
		b.WriteString("user root\n") // keep the rights to read our files
	}
	fmt.Fprintf(&b, "per_listener_settings true\nlog_dest stderr\nlog_type error\nlog_type warning\n")
	fmt.Fprintf(&b, "max_queued_messages 100000\nmax_inflight_messages 100\nset_tcp_nodelay true\n")
	if persist {
		fmt.Fprintf(&b, "persistence true\npersistence_location %s/\nautosave_interval 1\nautosave_on_changes true\n", m.dir)
	} else {
		b.WriteString("persistence false\n")
	}
	fmt.Fprintf(&b, "\nlistener %s 127.0.0.1\nallow_anonymous true\n", port(m.Plain))
	tlsFiles := fmt.Sprintf("cafile %[1]s/ca.pem\ncertfile %[1]s/server.pem\nkeyfile %[1]s/server.key\n", m.dir)
	fmt.Fprintf(&b, "\nlistener %s 127.0.0.1\nallow_anonymous true\n%srequire_certificate true\n", port(m.MTLS), tlsFiles)
	fmt.Fprintf(&b, "\nlistener %s 127.0.0.1\nallow_anonymous true\n%srequire_certificate false\n", port(m.TLS), tlsFiles)
	if m.Auth != "" {
		fmt.Fprintf(&b, "\nlistener %s 127.0.0.1\nallow_anonymous false\npassword_file %s/passwd\n", port(m.Auth), m.dir)
	}
	return b.String()
}

// listeners returns the addresses of all listeners.
func (m *mosquitto) listeners() []string {
	l := []string{m.Plain, m.MTLS, m.TLS}
	if m.Auth != "" {
		l = append(l, m.Auth)
	}
	return l
}

// start runs the broker in a new process group and waits until every
// listener accepts connections.
func (m *mosquitto) start() error {
	// At end of input the reaper kills mosquitto by its PID and removes
	// the shared broker's directory; Kill kills the whole group at once.
	g, err := startGroup(filepath.Join(m.dir, "mosquitto.log"), m.rmDir,
		`"$@" & read _; kill -KILL $!; [ -n "$USPKIT_MOSQUITTO_RM" ] && rm -rf "$USPKIT_MOSQUITTO_RM"`,
		m.bin, "-c", filepath.Join(m.dir, "mosquitto.conf"))
	if err != nil {
		return err
	}
	m.mu.Lock()
	m.g = g
	m.mu.Unlock()
	for _, a := range m.listeners() {
		if err := waitListening(a, 10*time.Second); err != nil {
			m.kill()
			return fmt.Errorf("%w\n%s", err, m.logTail())
		}
	}
	// Another process may have taken a port between FreePort and the
	// bind: then mosquitto says so and exits, and what listens is not it.
	if log := m.logTail(); strings.Contains(log, "Address already in use") || strings.Contains(log, "Unable to start") {
		m.kill()
		return fmt.Errorf("mosquitto failed to start\n%s", log)
	}
	return nil
}

// Kill SIGKILLs the broker's process group by its leader's PID and waits
// until its listeners are gone.
func (m *mosquitto) Kill(t testing.TB) {
	t.Helper()
	m.kill()
	for _, a := range m.listeners() {
		if err := waitRefused(a, 10*time.Second); err != nil {
			t.Fatal(err)
		}
	}
}

func (m *mosquitto) kill() {
	m.mu.Lock()
	g := m.g
	m.g = nil
	m.mu.Unlock()
	if g != nil {
		g.kill()
	}
}

// Restart starts the broker again on the same ports.
func (m *mosquitto) Restart(t testing.TB) {
	t.Helper()
	if err := m.start(); err != nil {
		t.Fatalf("restart mosquitto: %v", err)
	}
}

func (m *mosquitto) logTail() string {
	data, _ := os.ReadFile(filepath.Join(m.dir, "mosquitto.log"))
	if len(data) > 4000 {
		data = data[len(data)-4000:]
	}
	return "--- mosquitto.log\n" + string(data)
}

// group is a process group led by a reaper shell.
type group struct {
	cmd  *exec.Cmd
	pipe *os.File // write end of the reaper's stdin; closing it kills the group
}

// startGroup runs script (with argv as "$@" and rmDir in
// $USPKIT_MOSQUITTO_RM) under /bin/sh as the leader of a new process
// group, its stdin a pipe only we hold, its output to logPath. The script is to end by killing what it started once its
// stdin reaches end of file.
func startGroup(logPath, rmDir, script string, argv ...string) (*group, error) {
	out, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	defer out.Close()
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer pr.Close()
	cmd := exec.Command("/bin/sh", append([]string{"-c", script, "sh"}, argv...)...)
	cmd.Env = append(os.Environ(), "USPKIT_MOSQUITTO_RM="+rmDir)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = pr, out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		pw.Close()
		return nil, err
	}
	return &group{cmd: cmd, pipe: pw}, nil
}

// kill SIGKILLs the whole group by its leader's PID and reaps the leader.
func (g *group) kill() {
	_ = syscall.Kill(-g.cmd.Process.Pid, syscall.SIGKILL)
	_ = g.cmd.Wait()
	g.pipe.Close()
}

// waitListening waits until addr accepts TCP connections.
func waitListening(addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not listening after %v: %w", addr, timeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitRefused waits until addr no longer accepts TCP connections.
func waitRefused(addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err != nil {
			return nil
		}
		c.Close()
		if time.Now().After(deadline) {
			return fmt.Errorf("%s still listening %v after SIGKILL", addr, timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
