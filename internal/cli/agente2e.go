package cli

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"errors"
	"fmt"

	"github.com/uspkit/uspkit/agent"
)

// e2e builds the TLS settings of E2E sessions from an e2e_tls section:
// a certificate with an ECDSA P-256 key (TR-369 R-E2E.40b) and the CA
// that signs the peers' certificates. nil: no TLS12 sessions.
func (t *tlsConfig) e2e() (*tls.Config, error) {
	if t == nil {
		return nil, nil
	}
	if t.Cert == "" || t.CA == "" {
		return nil, errors.New("e2e_tls: cert, key and ca are all needed")
	}
	if t.NoAbsoluteTime {
		return nil, errors.New("e2e_tls: no_absolute_time applies to an MTP's tls only")
	}
	c, err := t.build(false)
	if err != nil {
		return nil, fmt.Errorf("e2e_tls: %w", err)
	}
	k, ok := c.Certificates[0].PrivateKey.(*ecdsa.PrivateKey)
	if !ok || k.Curve != elliptic.P256() {
		return nil, errors.New("e2e_tls.key: not an ECDSA P-256 key")
	}
	return c, nil
}

// e2eTLSConfig is `usp agent`'s e2e_tls section: the certificate, key and
// CA of E2E sessions, and require_integrity, which makes the Agent ignore
// Records with a payload that neither the MTP nor a mac_signature
// protects (TR-369 R-E2E.29, R-E2E.30).
type e2eTLSConfig struct {
	tlsConfig        `yaml:",inline"`
	RequireIntegrity bool `yaml:"require_integrity"`
}

// options sets the Agent's E2E options from the section.
func (c *e2eTLSConfig) options(o *agent.Options) error {
	if c == nil {
		return nil
	}
	tc, err := c.tlsConfig.e2e()
	if err != nil {
		return err
	}
	o.E2ETLS, o.RequireIntegrity = tc, c.RequireIntegrity
	return nil
}
