package agent

import (
	"crypto/tls"
	"crypto/x509"
	"testing"

	"github.com/uspkit/uspkit/internal/testenv"
)

// TestE2ETLSTrustStore: the TLS settings of TLS12 sessions take the
// certificates added with AddCertificate() and enabled, on top of
// Options.E2ETLS's RootCAs (else ClientCAs) [R-E2E.43]; they are built
// again only when the added certificates change (the session table asks
// for them with every Record), and drop a disabled or removed one.
func TestE2ETLSTrustStore(t *testing.T) {
	own := testenv.NewPKI(t, "proto::ctl")
	added := testenv.NewPKI(t, "proto::ctl")
	for _, tc := range []struct {
		name string
		cfg  *tls.Config
	}{
		{"RootCAs", &tls.Config{RootCAs: own.CAPool}},
		{"ClientCAs", &tls.Config{ClientCAs: own.CAPool}},
		{"none", &tls.Config{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			trust := NewTrustStore()
			a := &Agent{opt: Options{E2ETLS: tc.cfg, Trust: trust}, e2eRetry: newE2ERetries()}
			verifies := func(c *tls.Config, p *testenv.PKI) bool {
				leaf, err := x509.ParseCertificate(p.Client.Certificate[0])
				if err != nil {
					t.Fatal(err)
				}
				_, err = leaf.Verify(x509.VerifyOptions{Roots: c.RootCAs, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
				return err == nil
			}
			first := a.e2eTLS()
			if a.e2eTLS() != first {
				t.Error("rebuilt without a change")
			}
			if want := tc.name != "none"; verifies(first, own) != want {
				t.Errorf("configured CA trusted: %v, want %v", !want, want)
			}
			if verifies(first, added) {
				t.Fatal("the other CA trusted before it was added")
			}
			trust.insert(&addedCert{instance: 1, cert: caOf(t, added)})
			second := a.e2eTLS()
			if !verifies(second, added) || a.e2eTLS() != second {
				t.Error("the added CA is not trusted, or its settings are rebuilt every time")
			}
			if want := tc.name != "none"; verifies(second, own) != want {
				t.Errorf("configured CA trusted after the addition: %v, want %v", !want, want)
			}
			trust.replace(&addedCert{instance: 1, cert: caOf(t, added), disabled: true})
			if verifies(a.e2eTLS(), added) {
				t.Error("a disabled certificate is trusted")
			}
			trust.replace(&addedCert{instance: 1, cert: caOf(t, added)})
			trust.remove(1)
			if verifies(a.e2eTLS(), added) {
				t.Error("a removed certificate is trusted")
			}
		})
	}
}

// caOf returns p's CA certificate.
func caOf(t *testing.T, p *testenv.PKI) *x509.Certificate {
	t.Helper()
	c, err := parseCertPEM(string(p.CAPEM))
	if err != nil {
		t.Fatalf("CA of the test PKI: %v", err)
	}
	return c
}
