package conformance

import (
	"crypto"
	"crypto/tls"
	"crypto/x509"

	"github.com/uspkit/uspkit/e2e"
	"github.com/uspkit/uspkit/record"
)

// E2ESetup gives the runner what TLS12 payload security in E2E sessions
// needs (section 3, 2.7, 2.8). The Agent must trust Issuer's certificates
// for Controllers and have its own E2E certificate, naming its Endpoint
// ID, signed by an issuer in Roots.
type E2ESetup struct {
	// Certificate is the runner's: an ECDSA P-256 key, the runner's
	// Endpoint ID as URI subjectAltName (urn:bbf:usp:id:…).
	Certificate tls.Certificate
	// Roots verify the Agent's certificate.
	Roots *x509.CertPool
	// WrongID, if set, is a certificate from the same issuer naming
	// another Endpoint (3.7); nil: 3.7 uses a self-signed one.
	WrongID *tls.Certificate
	// Expired, if set, is an expired certificate from the same issuer
	// naming the runner (2.8); nil skips 2.8.
	Expired *tls.Certificate
	// Unprotected says that the MTP does not protect the Records'
	// integrity and that the Agent requires it (usp agent's
	// e2e_tls.require_integrity) [R-E2E.28]–[R-E2E.30]: the runner then
	// signs every Record it sends with Certificate, and 3.2 runs.
	Unprotected bool
}

// signer returns what signs the runner's Records when Unprotected is
// set, else nil.
func (s *E2ESetup) signer() func(*record.Record) {
	if s == nil || !s.Unprotected {
		return nil
	}
	key, ok := s.Certificate.PrivateKey.(crypto.Signer)
	if !ok || len(s.Certificate.Certificate) == 0 {
		return nil
	}
	der := s.Certificate.Certificate[0]
	return func(r *record.Record) { e2e.Sign(r, key, der) }
}

// seal signs rec with the signature method when the client signs and rec
// carries a payload without a mac_signature.
func (c *client) seal(rec *record.Record) {
	if c.sign == nil || len(rec.MACSignature) > 0 || (rec.Type != record.TypeNoSessionContext && rec.Type != record.TypeSessionContext) {
		return
	}
	c.sign(rec)
}
