package testenv

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// MTP describes one USP Message Transfer Protocol set up for a test: the
// broker it needs is running, on 127.0.0.1, and the fields say how to
// reach it. testenv builds no transport (the mtp packages' own tests
// import testenv): the test makes its two sides from this description,
// such as the YAML of `usp agent` and a Controller's transport.
type MTP struct {
	// Name names the subtest: "WebSocket", "WebSocket-AgentServer",
	// "WebSocket-TLS", "MQTT5", "MQTT311", "MQTT5-TLS", "MQTT311-TLS",
	// "STOMP", "STOMP-TLS" or "UDS".
	Name string
	// Protocol is the MTP's name in TR-369 and the data model:
	// "WebSocket", "MQTT", "STOMP" or "UDS".
	Protocol string
	// AgentListens says that the Agent is the WebSocket server and the
	// Controller its client. On the other WebSocket MTPs the Controller
	// is the server; on UDS the Controller serves the socket.
	AgentListens bool
	// Addr is host:port: of the broker for MQTT and STOMP, of the
	// WebSocket server (a free port, for the listening side to take).
	Addr string
	// URL is what the client side dials: the WebSocket URL (ws:// or
	// wss://, path Path) or the MQTT broker's (tcp:// or ssl://).
	URL string
	// Path is the WebSocket server's request path.
	Path string
	// MQTTVersion is "5" or "3.1.1".
	MQTTVersion string
	// Socket is the UDS socket path, in a directory of its own.
	Socket string
	// VirtualHost, Username and Password are the STOMP host header and
	// login.
	VirtualHost, Username, Password string
	// TLS, when not nil, says the MTP runs over TLS, with certificates
	// from TLS.PKI: the broker (or WebSocket server) presents the server
	// certificate and wants a client certificate of the same CA.
	TLS *TLSFiles
	// Broker is the MQTT or STOMP broker, for tests that crash it; nil
	// for WebSocket and UDS. The broker serves every subtest of one
	// EachMTP call (RabbitMQ every test of the binary).
	Broker Broker
}

// TLSFiles are the PEM files of a PKI, for programs configured by file
// names.
type TLSFiles struct {
	PKI                   *PKI
	CA                    string
	ServerCert, ServerKey string
	ClientCert, ClientKey string
}

// filesIn names the files that PKI.WriteFiles wrote into dir.
func filesIn(p *PKI, dir string) TLSFiles {
	f := func(name string) string { return filepath.Join(dir, name) }
	return TLSFiles{PKI: p, CA: f("ca.pem"), ServerCert: f("server.pem"), ServerKey: f("server.key"),
		ClientCert: f("client.pem"), ClientKey: f("client.key")}
}

// Broker is an external broker that a test can crash and bring back.
type Broker interface {
	// Kill SIGKILLs the broker and waits until its listeners refuse
	// connections.
	Kill(t testing.TB)
	// Restart starts it again on the same ports and waits until it
	// listens.
	Restart(t testing.TB)
}

// mtpKind is one MTP of EachMTP and how to set it up.
type mtpKind struct {
	name  string
	setup func(t *testing.T, e *mtpEnv) MTP
}

// mtpKinds returns the MTPs of EachMTP, in the order they run.
func mtpKinds() []mtpKind {
	return []mtpKind{
		{"WebSocket", func(t *testing.T, e *mtpEnv) MTP { return e.webSocket(t, false, false) }},
		{"WebSocket-AgentServer", func(t *testing.T, e *mtpEnv) MTP { return e.webSocket(t, true, false) }},
		{"WebSocket-TLS", func(t *testing.T, e *mtpEnv) MTP { return e.webSocket(t, false, true) }},
		{"MQTT5", func(t *testing.T, e *mtpEnv) MTP { return e.mqtt(t, "5", false) }},
		{"MQTT311", func(t *testing.T, e *mtpEnv) MTP { return e.mqtt(t, "3.1.1", false) }},
		{"MQTT5-TLS", func(t *testing.T, e *mtpEnv) MTP { return e.mqtt(t, "5", true) }},
		{"MQTT311-TLS", func(t *testing.T, e *mtpEnv) MTP { return e.mqtt(t, "3.1.1", true) }},
		{"STOMP", func(t *testing.T, e *mtpEnv) MTP { return e.stomp(t, false) }},
		{"STOMP-TLS", func(t *testing.T, e *mtpEnv) MTP { return e.stomp(t, true) }},
		{"UDS", func(t *testing.T, e *mtpEnv) MTP { return e.uds(t) }},
	}
}

// MTPNames returns the names of the MTPs of EachMTP, in order.
func MTPNames() []string {
	kinds := mtpKinds()
	names := make([]string, len(kinds))
	for i, k := range kinds {
		names[i] = k.name
	}
	return names
}

// EachMTP runs f as a subtest of t, one after another, over every MTP
// (only those named, when names are given): WebSocket with the Agent as
// client and as server, WebSocket with mutual TLS, MQTT 5 and 3.1.1 over
// TCP and over mutual TLS through mosquitto, STOMP over TCP and TLS
// through RabbitMQ, and UDS. Brokers start when a subtest first needs one:
// one mosquitto for the MQTT subtests of this call, killed when t ends,
// and the RabbitMQ of the test binary. A subtest whose broker is not
// installed is skipped (failed with USP_REQUIRE_EXTERNAL=1).
func EachMTP(t *testing.T, f func(t *testing.T, m MTP), names ...string) {
	t.Helper()
	for _, n := range names {
		if !slices.Contains(MTPNames(), n) {
			t.Fatalf("EachMTP: no MTP %q (there are %s)", n, strings.Join(MTPNames(), ", "))
		}
	}
	e := &mtpEnv{parent: t}
	for _, k := range mtpKinds() {
		if len(names) > 0 && !slices.Contains(names, k.name) {
			continue
		}
		t.Run(k.name, func(t *testing.T) {
			m := k.setup(t, e)
			m.Name = k.name
			f(t, m)
		})
	}
}

// mtpEnv holds what the subtests of one EachMTP call share.
type mtpEnv struct {
	parent *testing.T

	mu        sync.Mutex
	pki       *TLSFiles        // for the WebSocket server and clients
	mosq      *MosquittoServer // started by the first MQTT subtest
	mosqTried bool
}

// wsPKI returns the call's PKI for WebSocket over TLS, writing its files
// into a directory of the parent test.
func (e *mtpEnv) wsPKI(t *testing.T) *TLSFiles {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.pki == nil {
		dir := e.parent.TempDir()
		p := NewPKI(t, "proto::uspkit-ws-client")
		p.WriteFiles(t, dir)
		files := filesIn(p, dir)
		e.pki = &files
	}
	return e.pki
}

func (e *mtpEnv) webSocket(t *testing.T, agentListens, secure bool) MTP {
	port := FreePort(t)
	m := MTP{Protocol: "WebSocket", AgentListens: agentListens, Path: "/usp",
		Addr: fmt.Sprintf("127.0.0.1:%d", port), URL: fmt.Sprintf("ws://127.0.0.1:%d/usp", port)}
	if secure {
		m.TLS = e.wsPKI(t)
		m.URL = fmt.Sprintf("wss://127.0.0.1:%d/usp", port)
	}
	return m
}

// mosquitto returns the call's broker, starting it on first use; it
// dies with the parent test.
func (e *mtpEnv) mosquitto(t *testing.T) *MosquittoServer {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.mosq == nil {
		if e.mosqTried {
			t.Fatal("mosquitto failed to start in an earlier subtest")
		}
		e.mosqTried = true
		m, err := newMosquitto(t, nil, e.parent.TempDir(), "")
		if err != nil {
			t.Fatalf("mosquitto: %v", err)
		}
		e.parent.Cleanup(m.stop)
		e.mosq = m
	}
	return e.mosq
}

func (e *mtpEnv) mqtt(t *testing.T, version string, secure bool) MTP {
	b := e.mosquitto(t)
	m := MTP{Protocol: "MQTT", MQTTVersion: version, Addr: b.Plain, URL: "tcp://" + b.Plain, Broker: b}
	if secure {
		files := b.Files
		m.Addr, m.URL, m.TLS = b.TLS, "ssl://"+b.TLS, &files
	}
	return m
}

func (e *mtpEnv) stomp(t *testing.T, secure bool) MTP {
	r := RabbitMQ(t)
	m := MTP{Protocol: "STOMP", Addr: r.Stomp, VirtualHost: "/", Username: "guest", Password: "guest", Broker: r}
	if secure {
		files := r.Files
		m.Addr, m.TLS = r.StompTLS, &files
	}
	return m
}

func (e *mtpEnv) uds(t *testing.T) MTP {
	return MTP{Protocol: "UDS", Socket: filepath.Join(t.TempDir(), "usp.sock")}
}
