//go:build !usp_device

package cli

import (
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"os"

	"github.com/uspkit/uspkit/conformance"
)

// e2eFlagValues are `usp conformance`'s flags for TLS12 E2E sessions.
type e2eFlagValues struct {
	cert, key, ca           *string
	wrongCert, wrongKey     *string
	expiredCert, expiredKey *string
	unprotected             *bool
}

func e2eFlags(fs *flag.FlagSet) *e2eFlagValues {
	return &e2eFlagValues{
		cert:        fs.String("e2e-cert", "", "section 3, 2.7, 2.8: the runner's E2E TLS certificate `file` (ECDSA P-256, naming --id), from an issuer the agent trusts for controllers"),
		key:         fs.String("e2e-key", "", "the key `file` of --e2e-cert"),
		ca:          fs.String("e2e-ca", "", "the CA `file` that verifies the agent's E2E certificate"),
		wrongCert:   fs.String("e2e-wrong-cert", "", "3.5, 3.7: a certificate `file` from the agent's trusted issuer naming another Endpoint ID"),
		wrongKey:    fs.String("e2e-wrong-key", "", "the key `file` of --e2e-wrong-cert"),
		expiredCert: fs.String("e2e-expired-cert", "", "2.8: an expired certificate `file` naming --id, from the agent's trusted issuer"),
		expiredKey:  fs.String("e2e-expired-key", "", "the key `file` of --e2e-expired-cert"),
		unprotected: fs.Bool("e2e-unprotected", false, "3.2: the MTP does not protect the Records' integrity and the agent requires it (usp agent's e2e_tls.require_integrity): sign every Record with --e2e-cert"),
	}
}

// setup loads the certificates; no --e2e-cert means none (the cases that
// need them skip).
func (f *e2eFlagValues) setup() (*conformance.E2ESetup, error) {
	if *f.cert == "" {
		if *f.wrongCert != "" || *f.expiredCert != "" {
			return nil, fmt.Errorf("%w: --e2e-wrong-cert and --e2e-expired-cert need --e2e-cert", errUsage)
		}
		return nil, nil
	}
	c, err := tls.LoadX509KeyPair(*f.cert, *f.key)
	if err != nil {
		return nil, fmt.Errorf("--e2e-cert: %w", err)
	}
	pem, err := os.ReadFile(*f.ca)
	if err != nil {
		return nil, fmt.Errorf("--e2e-ca: %w", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("--e2e-ca: no certificate in %s", *f.ca)
	}
	s := &conformance.E2ESetup{Certificate: c, Roots: roots, Unprotected: *f.unprotected}
	for _, o := range []struct {
		cert, key, flag string
		to              **tls.Certificate
	}{{*f.wrongCert, *f.wrongKey, "--e2e-wrong-cert", &s.WrongID}, {*f.expiredCert, *f.expiredKey, "--e2e-expired-cert", &s.Expired}} {
		if o.cert == "" {
			continue
		}
		c, err := tls.LoadX509KeyPair(o.cert, o.key)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", o.flag, err)
		}
		*o.to = &c
	}
	return s, nil
}
