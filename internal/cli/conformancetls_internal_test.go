package cli

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestMTPTLSSetup: --mtp-cert and --mtp-expired-cert load into
// conformance.MTPTLSSetup; none gives nil; an expired certificate alone
// or a file that is not a key pair is an error.
func TestMTPTLSSetup(t *testing.T) {
	dir := t.TempDir()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "x"}, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(k)
	cert, key := filepath.Join(dir, "c.pem"), filepath.Join(dir, "c.key")
	os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	for _, c := range []struct {
		name                           string
		cert, key, expired, expiredKey string
		nilSetup, hasExpired, usage    bool
		fails                          bool
	}{
		{name: "none", nilSetup: true},
		{name: "certificate", cert: cert, key: key},
		{name: "with expired", cert: cert, key: key, expired: cert, expiredKey: key, hasExpired: true},
		{name: "expired alone", expired: cert, expiredKey: key, fails: true, usage: true},
		{name: "key is not the certificate's", cert: cert, key: cert, fails: true},
		{name: "missing file", cert: filepath.Join(dir, "none.pem"), key: key, fails: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, err := mtpTLSSetup(c.cert, c.key, c.expired, c.expiredKey)
			if c.fails {
				if err == nil {
					t.Fatal("no error")
				}
				if c.usage && !errors.Is(err, errUsage) {
					t.Errorf("%v is not a usage error", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if (s == nil) != c.nilSetup {
				t.Fatalf("setup %v", s)
			}
			if s != nil && (s.Expired != nil) != c.hasExpired {
				t.Errorf("expired %v", s.Expired)
			}
		})
	}
}
