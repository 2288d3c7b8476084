package cli_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/uspkit/uspkit/internal/testenv"
)

// e2ePKI writes, into dir, a CA (ca.pem) and certificates it signs, each
// name.pem with name.key, for the Endpoint IDs given.
func e2ePKI(t *testing.T, dir string, certs map[string]struct {
	id       string
	notAfter time.Time
}) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "uspkit E2E test CA"},
		NotBefore: time.Now().Add(-2 * time.Hour), NotAfter: time.Now().Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(der)
	write := func(name string, typ string, b []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("ca.pem", "CERTIFICATE", der)
	for name, c := range certs {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		u, _ := url.Parse("urn:bbf:usp:id:" + c.id)
		leaf := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: c.id},
			NotBefore: time.Now().Add(-2 * time.Hour), NotAfter: c.notAfter, URIs: []*url.URL{u}, KeyUsage: x509.KeyUsageDigitalSignature,
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth}}
		d, err := x509.CreateCertificate(rand.Reader, leaf, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kb, _ := x509.MarshalECPrivateKey(key)
		write(name+".pem", "CERTIFICATE", d)
		write(name+".key", "EC PRIVATE KEY", kb)
	}
}

// TestConformanceE2ETLS runs the E2E cases of TP-469 section 3, with 2.7
// and 2.8, against `usp agent` over plain WebSocket: the agent has an E2E
// certificate (e2e_tls) and trusts the runner's issuer, and requires the
// integrity of Records the MTP does not protect (require_integrity); the
// runner negotiates TLS12 in the sessions and signs every Record. 3.10 waits about a minute: it runs
// with USP_CONFORMANCE_LONG=1.
func TestConformanceE2ETLS(t *testing.T) {
	bin := buildUSP(t)
	const agentID, runnerID = "os::012345-CONFE2E", "proto::uspkit-conformance"
	e2eYAML, e2eArgs := e2eConformance(t, agentID, runnerID)
	port := testenv.FreePort(t)
	mtps := fmt.Sprintf("  - protocol: WebSocket\n    listen: 127.0.0.1:%d\n    path: /usp\n", port)
	ctrls := fmt.Sprintf("    - endpoint_id: %s\n      mtps:\n        - protocol: WebSocket\n", runnerID)
	// Plain WebSocket protects nothing: the agent requires signatures or
	// MACs on every Record (3.2) and the runner signs what it sends.
	startAgentProcessWith(t, bin, agentID, mtps, ctrls+e2eYAML+"  require_integrity: true\n")
	args := append([]string{"--agent", agentID, "--id", runnerID, "--mtp", "ws", "--url", fmt.Sprintf("ws://127.0.0.1:%d/usp", port),
		"--run", "2.7,2.8,3.*", "--e2e-unprotected"}, e2eArgs...)
	if os.Getenv("USP_CONFORMANCE_LONG") == "1" {
		args = append(args, "--long")
	}
	r := runConformanceProcess(t, bin, args...)
	want := map[string]string{"2.7": "pass", "2.8": "pass", "3.2": "pass", "3.3": "pass", "3.4": "pass", "3.5": "pass", "3.6": "pass",
		"3.7": "pass", "3.8": "pass", "3.9": "pass", "3.11": "pass", "3.12": "pass", "3.13": "pass", "3.14": "pass", "3.15": "pass"}
	if os.Getenv("USP_CONFORMANCE_LONG") == "1" {
		want["3.10"] = "pass"
	}
	for _, c := range r.Results {
		t.Logf("%s %s %s", c.ID, c.Status, c.Reason)
		if w, ok := want[c.ID]; ok && c.Status != w {
			t.Errorf("%s: %s (%s), want %s", c.ID, c.Status, c.Reason, w)
		}
	}
}

// e2eConformance makes the E2E certificates of a conformance run: the
// agent's (for agentID) and the runner's (for runnerID), one naming
// another Endpoint and an expired one, all from one CA. It returns the
// top-level e2e_tls section to append to the agent's configuration and
// the runner's --e2e-* flags.
func e2eConformance(t *testing.T, agentID, runnerID string) (yaml string, args []string) {
	t.Helper()
	dir := t.TempDir()
	day := time.Now().Add(24 * time.Hour)
	e2ePKI(t, dir, map[string]struct {
		id       string
		notAfter time.Time
	}{
		"agent":   {agentID, day},
		"runner":  {runnerID, day},
		"wrong":   {"proto::someone-else", day},
		"expired": {runnerID, time.Now().Add(-time.Hour)},
	})
	yaml = fmt.Sprintf("e2e_tls:\n  cert: %s/agent.pem\n  key: %s/agent.key\n  ca: %s/ca.pem\n", dir, dir, dir)
	args = []string{"--e2e-cert", dir + "/runner.pem", "--e2e-key", dir + "/runner.key", "--e2e-ca", dir + "/ca.pem",
		"--e2e-wrong-cert", dir + "/wrong.pem", "--e2e-wrong-key", dir + "/wrong.key",
		"--e2e-expired-cert", dir + "/expired.pem", "--e2e-expired-key", dir + "/expired.key"}
	return yaml, args
}
