package testenv

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
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
	return StartMosquitto(t).Plain
}

// MosquittoServer is a running mosquitto broker, with a plaintext and a
// mutual-TLS listener and those MosquittoOptions add, that a test can
// SIGKILL and restart on the same ports. Without persistence, a restarted
// broker has forgotten every session and subscription.
type MosquittoServer struct {
	// Plain is the plaintext listener, 127.0.0.1:port, anonymous.
	Plain string
	// TLS is the TLS listener, 127.0.0.1:port, with PKI.Server as its
	// certificate; it requires a client certificate issued by PKI
	// (mutual TLS), such as PKI.Client.
	TLS string
	// ServerTLS is a TLS listener that asks for no client certificate,
	// when MosquittoOptions.ServerTLS is set; else empty.
	ServerTLS string
	// Auth is a plaintext listener that accepts only MosquittoOptions.User
	// with its Password, when they are set and mosquitto_passwd is
	// installed; else empty (the test log says why).
	Auth string
	// PKI is the broker's certificate authority; Files has its files.
	PKI   *PKI
	Files TLSFiles

	o     MosquittoOptions
	bin   string
	dir   string
	rmDir string // removed by the reaper when the broker dies at exit

	mu sync.Mutex
	g  *group // nil while stopped
}

// MosquittoOptions add listeners and persistence to a broker; the zero
// value adds none.
type MosquittoOptions struct {
	// ServerTLS adds the MosquittoServer.ServerTLS listener.
	ServerTLS bool
	// User and Password, when User is not empty, add the
	// MosquittoServer.Auth listener, which accepts only them.
	User, Password string
	// Persist keeps sessions, subscriptions and queued messages on disk,
	// saved at every change, so that they survive Kill and Restart.
	Persist bool
	// Global holds more mosquitto.conf lines of the general section,
	// such as "retain_available false".
	Global string
	// PlainSettings holds more lines of the Plain listener's section,
	// such as "max_qos 1".
	PlainSettings string
}

// StartMosquitto starts a mosquitto broker for t alone, SIGKILLed at its
// end. The test is skipped (failed with USP_REQUIRE_EXTERNAL=1) when
// mosquitto is not installed.
func StartMosquitto(t testing.TB) *MosquittoServer {
	t.Helper()
	return StartMosquittoWith(t, nil)
}

// StartMosquittoWith is StartMosquitto with the listeners and persistence
// of o; nil o means none.
func StartMosquittoWith(t testing.TB, o *MosquittoOptions) *MosquittoServer {
	t.Helper()
	m, err := newMosquitto(t, o, t.TempDir(), "")
	if err != nil {
		t.Fatalf("mosquitto: %v", err)
	}
	t.Cleanup(m.stop)
	return m
}

// One mosquitto per MosquittoOptions may serve every test of a binary
// that does not kill it (SharedMosquitto). It dies with the test process,
// as the shared RabbitMQ does, and its reaper removes its directory.
var sharedMosq struct {
	mu sync.Mutex
	m  map[MosquittoOptions]*MosquittoServer
}

// SharedMosquitto returns the broker with the options o that the tests of
// this binary share, starting it on first use; nil o means none. It is
// SIGKILLed when the test process exits, however it exits; tests must not
// Kill it. The test is skipped (failed with USP_REQUIRE_EXTERNAL=1) when
// mosquitto is not installed.
func SharedMosquitto(t testing.TB, o *MosquittoOptions) *MosquittoServer {
	t.Helper()
	var key MosquittoOptions
	if o != nil {
		key = *o
	}
	sharedMosq.mu.Lock()
	defer sharedMosq.mu.Unlock()
	if m := sharedMosq.m[key]; m != nil {
		return m
	}
	dir, err := os.MkdirTemp("", "uspkit-mosquitto-")
	if err != nil {
		t.Fatal(err)
	}
	m, err := newMosquitto(t, &key, dir, dir)
	if err != nil {
		os.RemoveAll(dir)
		t.Fatalf("mosquitto: %v", err)
	}
	if sharedMosq.m == nil {
		sharedMosq.m = map[MosquittoOptions]*MosquittoServer{}
	}
	sharedMosq.m[key] = m
	return m
}

// newMosquitto starts a broker whose files are in dir; its caller stops
// it. rmDir, if not empty, is removed when the broker dies with this
// process.
func newMosquitto(t testing.TB, o *MosquittoOptions, dir, rmDir string) (*MosquittoServer, error) {
	m := &MosquittoServer{bin: LookPath(t, "mosquitto", "mosquitto", "/usr/sbin"), dir: dir, rmDir: rmDir,
		PKI: NewPKI(t, "proto::uspkit-mosquitto-client")}
	if o != nil {
		m.o = *o
	}
	m.PKI.WriteFiles(t, dir)
	m.Files = filesIn(m.PKI, dir)
	addr := func() string { return "127.0.0.1:" + strconv.Itoa(FreePort(t)) }
	m.Plain, m.TLS = addr(), addr()
	if m.o.ServerTLS {
		m.ServerTLS = addr()
	}
	if m.o.User != "" {
		if err := m.writePasswords(); err != nil {
			t.Logf("SKIP mosquitto password listener: %v", err)
		} else {
			m.Auth = addr()
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "mosquitto.conf"), []byte(m.config()), 0o600); err != nil {
		return nil, err
	}
	if err := m.start(); err != nil {
		return nil, err
	}
	return m, nil
}

// writePasswords makes the password file with mosquitto_passwd.
func (m *MosquittoServer) writePasswords() error {
	tool, err := exec.LookPath("mosquitto_passwd")
	if err != nil {
		return fmt.Errorf("mosquitto_passwd not found (Debian's mosquitto package has it): %w", err)
	}
	out, err := exec.Command(tool, "-c", "-b", filepath.Join(m.dir, "passwd"), m.o.User, m.o.Password).CombinedOutput()
	if err != nil {
		return fmt.Errorf("mosquitto_passwd: %w: %s", err, out)
	}
	return nil
}

func (m *MosquittoServer) config() string {
	port := func(addr string) string { _, p, _ := net.SplitHostPort(addr); return p }
	var b bytes.Buffer
	if os.Geteuid() == 0 {
		b.WriteString("user root\n") // else mosquitto turns into "mosquitto", who cannot read our files
	}
	b.WriteString("per_listener_settings true\nset_tcp_nodelay true\n")
	b.WriteString("log_dest stderr\nlog_type error\nlog_type warning\nmax_queued_messages 100000\nmax_inflight_messages 100\n")
	if m.o.Persist {
		fmt.Fprintf(&b, "persistence true\npersistence_location %s/\nautosave_interval 1\nautosave_on_changes true\n", m.dir)
	} else {
		b.WriteString("persistence false\n")
	}
	if m.o.Global != "" {
		b.WriteString(strings.TrimSuffix(m.o.Global, "\n") + "\n")
	}
	fmt.Fprintf(&b, "\nlistener %s 127.0.0.1\nallow_anonymous true\n", port(m.Plain))
	if m.o.PlainSettings != "" {
		b.WriteString(strings.TrimSuffix(m.o.PlainSettings, "\n") + "\n")
	}
	tlsFiles := fmt.Sprintf("cafile %s\ncertfile %s\nkeyfile %s\n", m.Files.CA, m.Files.ServerCert, m.Files.ServerKey)
	fmt.Fprintf(&b, "\nlistener %s 127.0.0.1\nallow_anonymous true\n%srequire_certificate true\n", port(m.TLS), tlsFiles)
	if m.ServerTLS != "" {
		fmt.Fprintf(&b, "\nlistener %s 127.0.0.1\nallow_anonymous true\n%srequire_certificate false\n", port(m.ServerTLS), tlsFiles)
	}
	if m.Auth != "" {
		fmt.Fprintf(&b, "\nlistener %s 127.0.0.1\nallow_anonymous false\npassword_file %s\n", port(m.Auth), filepath.Join(m.dir, "passwd"))
	}
	return b.String()
}

// listeners returns the addresses of all listeners.
func (m *MosquittoServer) listeners() []string {
	l := []string{m.Plain, m.TLS}
	for _, a := range []string{m.ServerTLS, m.Auth} {
		if a != "" {
			l = append(l, a)
		}
	}
	return l
}

// start runs the broker as the child of a reaper shell (see startGroup),
// which SIGKILLs it if this process exits first (and then removes rmDir),
// and waits until every listener accepts connections.
func (m *MosquittoServer) start() error {
	g, err := startGroup(filepath.Join(m.dir, "mosquitto.log"), append(os.Environ(), "USPKIT_MOSQUITTO_RM="+m.rmDir),
		`"$@" & read _; kill -KILL $!; [ -n "$USPKIT_MOSQUITTO_RM" ] && rm -rf "$USPKIT_MOSQUITTO_RM"`,
		m.bin, "-c", filepath.Join(m.dir, "mosquitto.conf"))
	if err != nil {
		return err
	}
	m.mu.Lock()
	m.g = g
	m.mu.Unlock()
	for _, addr := range m.listeners() {
		if err := waitListening(addr, 10*time.Second); err != nil {
			m.stop()
			return fmt.Errorf("%w\n%s", err, m.logTail())
		}
	}
	// Another process may have taken a port between FreePort and the
	// bind: then mosquitto says so and exits, and what listens is not it.
	if log := m.logTail(); strings.Contains(log, "Address already in use") || strings.Contains(log, "Unable to start") {
		m.stop()
		return errors.New(log)
	}
	return nil
}

// Kill SIGKILLs the broker (its whole process group, by the leader's PID)
// and waits until its listeners refuse connections.
func (m *MosquittoServer) Kill(t testing.TB) {
	t.Helper()
	m.stop()
	for _, addr := range m.listeners() {
		if err := waitRefused(addr, 10*time.Second); err != nil {
			t.Fatal(err)
		}
	}
}

// Restart starts the broker again on the same ports, after Kill.
func (m *MosquittoServer) Restart(t testing.TB) {
	t.Helper()
	if err := m.start(); err != nil {
		t.Fatalf("restart mosquitto: %v", err)
	}
}

// stop SIGKILLs the broker if it runs.
func (m *MosquittoServer) stop() {
	m.mu.Lock()
	g := m.g
	m.g = nil
	m.mu.Unlock()
	if g != nil {
		g.kill()
	}
}

func (m *MosquittoServer) logTail() string {
	data, _ := os.ReadFile(filepath.Join(m.dir, "mosquitto.log"))
	if len(data) > 4000 {
		data = data[len(data)-4000:]
	}
	return "--- mosquitto.log\n" + string(data)
}
