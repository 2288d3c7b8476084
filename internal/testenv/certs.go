package testenv

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// PKI is a throw-away certificate authority with one server and one client
// certificate, made for a single test.
type PKI struct {
	CAPool *x509.CertPool
	CAPEM  []byte
	Server tls.Certificate // for 127.0.0.1, ::1 and localhost
	Client tls.Certificate // its URI SAN is urn:bbf:usp:id:<ClientID>
	// ClientID is the Endpoint ID in the client certificate.
	ClientID string
	ca       *x509.Certificate
	caKey    *ecdsa.PrivateKey
}

// NewPKI makes a CA and issues the server and client certificates; the
// client certificate carries clientID as its USP Endpoint ID.
func NewPKI(t testing.TB, clientID string) *PKI {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "uspkit test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(der)
	p := &PKI{CAPool: x509.NewCertPool(), ca: ca, caKey: key, ClientID: clientID,
		CAPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
	p.CAPool.AddCert(ca)
	p.Server = p.Issue(t, "localhost", nil, []string{"localhost"}, []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback})
	u, _ := url.Parse("urn:bbf:usp:id:" + clientID)
	p.Client = p.Issue(t, clientID, []*url.URL{u}, nil, nil)
	return p
}

// Issue signs a certificate for both server and client use.
func (p *PKI) Issue(t testing.TB, cn string, uris []*url.URL, dns []string, ips []net.IP) tls.Certificate {
	t.Helper()
	key := newKey(t)
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		URIs:         uris,
		DNSNames:     dns,
		IPAddresses:  ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, &key.PublicKey, p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

// ServerConfig returns a TLS server configuration that requires and
// verifies a client certificate (mutual TLS).
func (p *PKI) ServerConfig() *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{p.Server}, ClientCAs: p.CAPool,
		ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12}
}

// ClientConfig returns a TLS client configuration that verifies the server
// against the CA and presents the client certificate.
func (p *PKI) ClientConfig() *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{p.Client}, RootCAs: p.CAPool, MinVersion: tls.VersionTLS12}
}

// WriteFiles writes ca.pem, server.pem, server.key, client.pem and
// client.key into dir, for external brokers.
func (p *PKI) WriteFiles(t testing.TB, dir string) {
	t.Helper()
	write := func(name string, b []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("ca.pem", p.CAPEM)
	for name, c := range map[string]tls.Certificate{"server": p.Server, "client": p.Client} {
		write(name+".pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Certificate[0]}))
		kb, err := x509.MarshalECPrivateKey(c.PrivateKey.(*ecdsa.PrivateKey))
		if err != nil {
			t.Fatal(err)
		}
		write(name+".key", pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}))
	}
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
