package testenv

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestEachMTP checks that EachMTP runs every MTP, in order, and that each
// description leads somewhere: a broker that speaks its protocol over
// TCP, or over TLS with the described files and only with a client
// certificate; a free port for a WebSocket server; a directory for a
// socket.
func TestEachMTP(t *testing.T) {
	var ran []string
	EachMTP(t, func(t *testing.T, m MTP) {
		ran = append(ran, m.Name)
		if !strings.HasPrefix(m.Name, m.Protocol) {
			t.Errorf("name %q, protocol %q", m.Name, m.Protocol)
		}
		if secure := strings.HasSuffix(m.Name, "-TLS"); secure != (m.TLS != nil) {
			t.Errorf("TLS files %v", m.TLS)
		}
		switch m.Protocol {
		case "WebSocket":
			checkWebSocket(t, m)
		case "MQTT":
			checkMQTT(t, m)
		case "STOMP":
			checkSTOMP(t, m)
		case "UDS":
			l, err := net.Listen("unix", m.Socket)
			if err != nil {
				t.Fatal(err)
			}
			l.Close()
		default:
			t.Errorf("protocol %q", m.Protocol)
		}
	})
	if !slices.Equal(ran, MTPNames()) {
		t.Errorf("ran %v, want %v", ran, MTPNames())
	}
}

// TestEachMTPNames checks that names select MTPs.
func TestEachMTPNames(t *testing.T) {
	var ran []string
	EachMTP(t, func(t *testing.T, m MTP) { ran = append(ran, m.Name) }, "UDS", "WebSocket-TLS")
	if want := []string{"WebSocket-TLS", "UDS"}; !slices.Equal(ran, want) {
		t.Errorf("ran %v, want %v", ran, want)
	}
}

func checkWebSocket(t *testing.T, m MTP) {
	scheme := "ws://"
	if m.TLS != nil {
		scheme = "wss://"
	}
	if m.URL != scheme+m.Addr+m.Path || m.Path == "" {
		t.Errorf("URL %q, address %q, path %q", m.URL, m.Addr, m.Path)
	}
	l, err := net.Listen("tcp", m.Addr)
	if err != nil {
		t.Fatalf("the server's address: %v", err)
	}
	l.Close()
	if m.Broker != nil {
		t.Error("a broker for WebSocket")
	}
}

func checkMQTT(t *testing.T, m MTP) {
	if m.Broker == nil {
		t.Fatal("no broker")
	}
	want := "tcp://" + m.Addr
	if m.TLS != nil {
		want = "ssl://" + m.Addr
		if err := mqttConnect(m.Addr, m.MQTTVersion, &tls.Config{RootCAs: caFromFile(t, m.TLS.CA)}); err == nil {
			t.Error("the TLS listener accepted a client without a certificate")
		}
	}
	if m.URL != want {
		t.Errorf("URL %q, want %q", m.URL, want)
	}
	if err := mqttConnect(m.Addr, m.MQTTVersion, clientTLS(t, m.TLS)); err != nil {
		t.Fatal(err)
	}
}

func checkSTOMP(t *testing.T, m MTP) {
	if m.Broker == nil {
		t.Fatal("no broker")
	}
	if err := stompConnect(m.Addr, m.Username, m.Password, clientTLS(t, m.TLS)); err != nil {
		t.Fatal(err)
	}
}

// TestMosquittoKillRestart checks that Kill stops the broker and Restart
// brings it back on the same ports.
func TestMosquittoKillRestart(t *testing.T) {
	m := StartMosquitto(t)
	files := m.Files
	for _, v := range []string{"5", "3.1.1"} {
		if err := mqttConnect(m.Plain, v, nil); err != nil {
			t.Fatal(err)
		}
		if err := mqttConnect(m.TLS, v, clientTLS(t, &files)); err != nil {
			t.Fatal(err)
		}
	}
	m.Kill(t)
	for _, addr := range []string{m.Plain, m.TLS} {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			t.Fatalf("%s listening after Kill", addr)
		}
	}
	m.Restart(t)
	if err := mqttConnect(m.Plain, "5", nil); err != nil {
		t.Fatal(err)
	}
	if err := mqttConnect(m.TLS, "3.1.1", clientTLS(t, &files)); err != nil {
		t.Fatal(err)
	}
}

// TestPKIFiles checks that the files hold the PKI's certificates.
func TestPKIFiles(t *testing.T) {
	dir := t.TempDir()
	p := NewPKI(t, "proto::files")
	p.WriteFiles(t, dir)
	f := filesIn(p, dir)
	for _, pair := range [][2]string{{f.ServerCert, f.ServerKey}, {f.ClientCert, f.ClientKey}} {
		c, err := tls.LoadX509KeyPair(pair[0], pair[1])
		if err != nil {
			t.Fatal(err)
		}
		leaf, err := x509.ParseCertificate(c.Certificate[0])
		if err != nil {
			t.Fatal(err)
		}
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: caFromFile(t, f.CA), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
			t.Errorf("%s: %v", filepath.Base(pair[0]), err)
		}
	}
}

func caFromFile(t *testing.T, path string) *x509.CertPool {
	t.Helper()
	pem, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatalf("no certificate in %s", path)
	}
	return pool
}

// clientTLS loads the client side of f from its files; nil for nil.
func clientTLS(t *testing.T, f *TLSFiles) *tls.Config {
	t.Helper()
	if f == nil {
		return nil
	}
	cert, err := tls.LoadX509KeyPair(f.ClientCert, f.ClientKey)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: caFromFile(t, f.CA), MinVersion: tls.VersionTLS12}
}

// dialBroker connects to addr, over TLS when cfg is not nil.
func dialBroker(addr string, cfg *tls.Config) (net.Conn, error) {
	d := &net.Dialer{Timeout: 5 * time.Second}
	var c net.Conn
	var err error
	if cfg != nil {
		c, err = tls.DialWithDialer(d, "tcp", addr, cfg)
	} else {
		c, err = d.Dial("tcp", addr)
	}
	if err != nil {
		return nil, err
	}
	return c, c.SetDeadline(time.Now().Add(5 * time.Second))
}

// mqttConnect sends an MQTT CONNECT of the version and wants a CONNACK
// that accepts it.
func mqttConnect(addr, version string, cfg *tls.Config) error {
	c, err := dialBroker(addr, cfg)
	if err != nil {
		return err
	}
	defer c.Close()
	// Protocol name and level, Clean Start, Keep Alive 30 s, then on
	// MQTT 5 an empty property list; the payload is the ClientId alone.
	body := []byte{0, 4, 'M', 'Q', 'T', 'T', 5, 0x02, 0, 30, 0}
	if version == "3.1.1" {
		body = []byte{0, 4, 'M', 'Q', 'T', 'T', 4, 0x02, 0, 30}
	}
	clientID := "testenv-" + version
	body = append(body, byte(len(clientID)>>8), byte(len(clientID)))
	body = append(body, clientID...)
	if _, err := c.Write(append([]byte{0x10, byte(len(body))}, body...)); err != nil {
		return err
	}
	ack := make([]byte, 4)
	if _, err := io.ReadFull(c, ack); err != nil {
		return fmt.Errorf("MQTT %s CONNACK from %s: %w", version, addr, err)
	}
	if ack[0] != 0x20 || ack[3] != 0 {
		return fmt.Errorf("MQTT %s CONNACK from %s: % x", version, addr, ack)
	}
	return nil
}

// stompConnect sends a STOMP CONNECT frame and wants CONNECTED.
func stompConnect(addr, user, pass string, cfg *tls.Config) error {
	c, err := dialBroker(addr, cfg)
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := fmt.Fprintf(c, "CONNECT\naccept-version:1.2\nhost:/\nlogin:%s\npasscode:%s\n\n\x00", user, pass); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadBytes('\n')
	if err != nil {
		return fmt.Errorf("STOMP CONNECTED from %s: %w", addr, err)
	}
	if !bytes.Equal(bytes.TrimSpace(line), []byte("CONNECTED")) {
		return errors.New("STOMP: " + string(line))
	}
	return nil
}
