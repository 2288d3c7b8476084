package cli_test

import (
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/pem"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/uspkit/uspkit/internal/testenv"
)

// secondControllerArgs issues, from pki, a client certificate naming the
// runner's second controller (urn:bbf:usp:id:<id>), writes it into dir
// and returns the runner's arguments for that controller: an agent that
// sees the runner's certificates (WebSocket with mutual TLS) takes a
// Record only from the Endpoint ID its certificate names.
func secondControllerArgs(t *testing.T, pki *testenv.PKI, dir, id string) []string {
	t.Helper()
	u, _ := url.Parse("urn:bbf:usp:id:" + id)
	c := pki.Issue(t, id, []*url.URL{u}, nil, nil)
	kb, err := x509.MarshalECPrivateKey(c.PrivateKey.(*ecdsa.PrivateKey))
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := filepath.Join(dir, "second.pem"), filepath.Join(dir, "second.key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Certificate[0]}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	return []string{"--second-id", id, "--second-cert", certFile, "--second-key", keyFile}
}
