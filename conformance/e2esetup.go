package conformance

import (
	"crypto/tls"
	"crypto/x509"
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
}
