package cli_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/uspkit/uspkit/internal/testenv"
)

// TestConformanceMTPServers runs the TP-469 cases that need the runner's
// own MQTT and STOMP servers (4.1, sections 6 and 11) against `usp agent`,
// reached over WebSocket, and checks each case's outcome. The agent
// trusts the runner's certificate authority as its system roots
// (SSL_CERT_FILE): the MQTT and STOMP connections a Controller adds over
// USP verify the server against them.
func TestConformanceMTPServers(t *testing.T) {
	bin := buildUSP(t)
	dir := t.TempDir()
	writeMTPCerts(t, dir)
	t.Setenv("SSL_CERT_FILE", filepath.Join(dir, "ca.pem"))
	const agentID = "os::012345-CMTP"
	port := strconv.Itoa(testenv.FreePort(t))
	startAgentProcessWith(t, bin, agentID, "  - protocol: WebSocket\n    listen: 127.0.0.1:"+port+"\n    path: /usp\n",
		"    - endpoint_id: proto::uspkit-conformance\n      mtps:\n        - protocol: WebSocket\n")
	r := runConformanceProcess(t, bin, append([]string{"--agent", agentID, "--mtp", "ws", "--url", "ws://127.0.0.1:" + port + "/usp",
		"--run", "4.1,6.*,11.*"}, mtpCertArgs(dir)...)...)
	got := map[string]string{}
	for _, c := range r.Results {
		got[c.ID] = c.Status
		if c.Status != "pass" {
			t.Logf("%s %s: %s", c.ID, c.Status, c.Reason)
		}
	}
	// 6.10 and 11.9 change the MTP the runner reaches the agent over:
	// they run when that is STOMP or MQTT (TestConformance).
	want := "4.1:pass 6.1:pass 6.2:pass 6.3:pass 6.4:pass 6.5:pass 6.6:pass 6.7:pass 6.8:pass 6.9:pass 6.10:skip 6.11:pass 6.12:pass " +
		"11.1:pass 11.2:pass 11.3:pass 11.4:pass 11.5:pass 11.6:pass 11.7:pass 11.8:pass 11.9:skip 11.10:pass 11.11:pass 11.12:pass " +
		"11.13:pass 11.14:pass 11.15:pass 11.16:pass 11.17:pass"
	for _, w := range strings.Fields(want) {
		id, status, _ := strings.Cut(w, ":")
		if got[id] != status {
			t.Errorf("%s: %q, want %s", id, got[id], status)
		}
	}
}

// mtpCertArgs are the arguments of `usp conformance` that give the
// certificates of writeMTPCerts in dir to the runner's own servers.
func mtpCertArgs(dir string) []string {
	return []string{"--mtp-cert", filepath.Join(dir, "server.pem"), "--mtp-key", filepath.Join(dir, "server.key"),
		"--mtp-expired-cert", filepath.Join(dir, "expired.pem"), "--mtp-expired-key", filepath.Join(dir, "expired.key")}
}

// writeMTPCerts writes a CA (ca.pem), a server certificate for 127.0.0.1,
// the addresses ips and localhost (server.pem, server.key) and an expired
// one of the same CA (expired.pem, expired.key) to dir.
func writeMTPCerts(t *testing.T, dir string, ips ...net.IP) {
	t.Helper()
	key := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	write := func(name, typ string, b []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	caKey := key()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "uspkit MTP test CA"},
		NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	write("ca.pem", "CERTIFICATE", caDER)
	for i, c := range []struct {
		name      string
		notBefore time.Time
		notAfter  time.Time
	}{
		{"server", time.Now().Add(-time.Hour), time.Now().Add(24 * time.Hour)},
		{"expired", time.Now().Add(-47 * time.Hour), time.Now().Add(-time.Hour)},
	} {
		k := key()
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(int64(i + 2)), Subject: pkix.Name{CommonName: c.name}, NotBefore: c.notBefore, NotAfter: c.notAfter,
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
			DNSNames: []string{"localhost"}, IPAddresses: append([]net.IP{net.IPv4(127, 0, 0, 1)}, ips...)}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &k.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kb, err := x509.MarshalECPrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		write(c.name+".pem", "CERTIFICATE", der)
		write(c.name+".key", "EC PRIVATE KEY", kb)
	}
}
