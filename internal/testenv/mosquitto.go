package testenv

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
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

// MosquittoServer is a running mosquitto broker of one test, with a
// plaintext and a TLS listener, that the test can SIGKILL and restart on
// the same ports. Without persistence, a restarted broker has forgotten
// every session and subscription.
type MosquittoServer struct {
	// Plain is the plaintext listener, 127.0.0.1:port, anonymous.
	Plain string
	// TLS is the TLS listener, 127.0.0.1:port, with PKI.Server as its
	// certificate; it requires a client certificate issued by PKI
	// (mutual TLS), such as PKI.Client.
	TLS string
	// PKI is the broker's certificate authority; Files has its files.
	PKI   *PKI
	Files TLSFiles

	bin string
	dir string

	mu sync.Mutex
	g  *group // nil while stopped
}

// StartMosquitto starts a mosquitto broker for t alone, SIGKILLed at its
// end. The test is skipped (failed with USP_REQUIRE_EXTERNAL=1) when
// mosquitto is not installed.
func StartMosquitto(t testing.TB) *MosquittoServer {
	t.Helper()
	m, err := newMosquitto(t, t.TempDir())
	if err != nil {
		t.Fatalf("mosquitto: %v", err)
	}
	t.Cleanup(m.stop)
	return m
}

// newMosquitto starts a broker whose files are in dir; its caller stops
// it.
func newMosquitto(t testing.TB, dir string) (*MosquittoServer, error) {
	m := &MosquittoServer{bin: LookPath(t, "mosquitto", "mosquitto", "/usr/sbin"), dir: dir,
		PKI: NewPKI(t, "proto::uspkit-mosquitto-client")}
	m.PKI.WriteFiles(t, dir)
	m.Files = filesIn(m.PKI, dir)
	m.Plain = "127.0.0.1:" + strconv.Itoa(FreePort(t))
	m.TLS = "127.0.0.1:" + strconv.Itoa(FreePort(t))
	if err := os.WriteFile(filepath.Join(dir, "mosquitto.conf"), []byte(m.config()), 0o600); err != nil {
		return nil, err
	}
	if err := m.start(); err != nil {
		return nil, err
	}
	return m, nil
}

func (m *MosquittoServer) config() string {
	port := func(addr string) string { _, p, _ := net.SplitHostPort(addr); return p }
	var b bytes.Buffer
	if os.Geteuid() == 0 {
		b.WriteString("user root\n") // else mosquitto turns into "mosquitto", who cannot read our files
	}
	b.WriteString("per_listener_settings true\npersistence false\nset_tcp_nodelay true\n")
	b.WriteString("log_dest stderr\nlog_type error\nlog_type warning\nmax_queued_messages 100000\n")
	fmt.Fprintf(&b, "\nlistener %s 127.0.0.1\nallow_anonymous true\n", port(m.Plain))
	fmt.Fprintf(&b, "\nlistener %s 127.0.0.1\nallow_anonymous true\ncafile %s\ncertfile %s\nkeyfile %s\nrequire_certificate true\n",
		port(m.TLS), m.Files.CA, m.Files.ServerCert, m.Files.ServerKey)
	return b.String()
}

// start runs the broker as the child of a reaper shell (see startGroup),
// which SIGKILLs it if this process exits first, and waits until both
// listeners accept connections.
func (m *MosquittoServer) start() error {
	g, err := startGroup(filepath.Join(m.dir, "mosquitto.log"), os.Environ(), `"$@" & read _; kill -KILL $!`,
		m.bin, "-c", filepath.Join(m.dir, "mosquitto.conf"))
	if err != nil {
		return err
	}
	m.mu.Lock()
	m.g = g
	m.mu.Unlock()
	for _, addr := range []string{m.Plain, m.TLS} {
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
	for _, addr := range []string{m.Plain, m.TLS} {
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
