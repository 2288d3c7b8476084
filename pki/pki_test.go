package pki_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/uspkit/uspkit/broker"
	"github.com/uspkit/uspkit/endpoint"
	"github.com/uspkit/uspkit/pki"
)

// TestOpen: the CA is created once, with its key in a 0600 file, and the
// same CA is loaded again.
func TestOpen(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	ca, err := pki.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{pki.CAKeyFile, pki.CACertFile} {
		fi, err := os.Stat(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v", f, fi.Mode().Perm())
		}
	}
	if c := ca.Certificate(); !c.IsCA || c.PublicKeyAlgorithm != x509.ECDSA {
		t.Fatalf("CA certificate %+v", c)
	}
	again, err := pki.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again.CertPEM(), ca.CertPEM()) {
		t.Fatal("reopen made a new CA")
	}
	os.WriteFile(filepath.Join(dir, pki.CAKeyFile), []byte("junk"), 0o600)
	if _, err := pki.Open(dir); err == nil {
		t.Fatal("damaged key accepted")
	}
}

// TestIssueAgent: an Agent certificate is ECDSA P-256, carries the
// Endpoint ID as a urn:bbf:usp:id: URI SAN [R-SEC.0a], [R-SEC.10], is for
// client authentication, verifies against the CA and ends within the
// asked validity.
func TestIssueAgent(t *testing.T) {
	ca, err := pki.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		id       string
		validity time.Duration
		ok       bool
	}{
		{"os::012345-SERIAL1", 0, true},
		{"proto::agent-1", time.Hour, true},
		{"not an id", 0, false},
		{"", 0, false},
	}
	for _, tt := range tests {
		is, err := ca.IssueAgent(tt.id, tt.validity)
		if (err == nil) != tt.ok {
			t.Errorf("%q: err %v", tt.id, err)
			continue
		}
		if !tt.ok {
			continue
		}
		c := is.Cert
		if pub, ok := c.PublicKey.(*ecdsa.PublicKey); !ok || pub.Curve != elliptic.P256() {
			t.Errorf("%q: key %T", tt.id, c.PublicKey)
		}
		if ids := endpoint.FromCertificate(c); len(ids) != 1 || ids[0] != tt.id || !endpoint.InCertificate(c, tt.id) {
			t.Errorf("%q: Endpoint IDs %v", tt.id, ids)
		}
		if broker.CertIdentity(c) != tt.id {
			t.Errorf("%q: broker identity %q", tt.id, broker.CertIdentity(c))
		}
		if _, err := c.Verify(x509.VerifyOptions{Roots: ca.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
			t.Errorf("%q: %v", tt.id, err)
		}
		if _, err := c.Verify(x509.VerifyOptions{Roots: ca.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err == nil {
			t.Errorf("%q: usable as a server certificate", tt.id)
		}
		want := tt.validity
		if want == 0 {
			want = pki.DefaultAgentValidity
		}
		if d := time.Until(c.NotAfter); d > want || d < want-time.Minute {
			t.Errorf("%q: valid for %v more, want %v", tt.id, d, want)
		}
		if _, err := tls.X509KeyPair(is.CertPEM, is.KeyPEM); err != nil {
			t.Errorf("%q: %v", tt.id, err)
		}
	}
}

// TestServerCertificate: the listeners' certificate is kept and reused,
// and replaced when a host is missing.
func TestServerCertificate(t *testing.T) {
	dir := t.TempDir()
	ca, err := pki.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	c1, err := ca.ServerCertificate([]string{"localhost", "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, pki.ServerKeyFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("server key file: %v %v", fi, err)
	}
	c2, _ := ca.ServerCertificate([]string{"127.0.0.1"})
	if !bytes.Equal(c1.Leaf.Raw, c2.Leaf.Raw) {
		t.Error("covered hosts: certificate not reused")
	}
	c3, err := ca.ServerCertificate([]string{"localhost", "::1"})
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(c1.Leaf.Raw, c3.Leaf.Raw) || c3.Leaf.VerifyHostname("::1") != nil {
		t.Error("new host: certificate not replaced")
	}
}

// TestAgentCertLogsIn: a certificate from the CA, registered with the
// Agent's broker account, logs in to the embedded broker as its Endpoint
// ID, over a listener whose server certificate the same CA made.
func TestAgentCertLogsIn(t *testing.T) {
	dir := t.TempDir()
	ca, err := pki.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := ca.ServerCertificate([]string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	accts, err := broker.OpenAccounts(filepath.Join(dir, "accounts.json"))
	if err != nil {
		t.Fatal(err)
	}
	const id = "os::012345-SERIAL9"
	is, err := ca.IssueAgent(id, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := accts.AddCertificate(id, is.Cert); err != nil {
		t.Fatal(err)
	}
	b, err := broker.New(&broker.Options{Addr: "127.0.0.1:0", USPPolicy: true, Accounts: accts,
		TLS: &tls.Config{Certificates: []tls.Certificate{srv}, ClientCAs: ca.Pool(), ClientAuth: tls.VerifyClientCertIfGiven, MinVersion: tls.VersionTLS12}})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	pair, _ := tls.X509KeyPair(is.CertPEM, is.KeyPEM)
	nc, err := tls.Dial("tcp", b.Addrs().TCP, &tls.Config{Certificates: []tls.Certificate{pair}, RootCAs: ca.Pool(), MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	// A bare MQTT 3.1.1 CONNECT without user name: the certificate alone.
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := nc.Write([]byte("\x10\x0e\x00\x04MQTT\x04\x02\x00\x1e\x00\x02id")); err != nil {
		t.Fatal(err)
	}
	ack := make([]byte, 4)
	if _, err := readFull(nc, ack); err != nil || ack[0] != 0x20 || ack[3] != 0 {
		t.Fatalf("CONNACK % x, %v", ack, err)
	}
}

func readFull(c net.Conn, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := c.Read(b[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}
