package broker

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"errors"
	"strings"
)

// Reasons a CONNECT is refused, as seen in logs.
var (
	errNoCredentials  = errors.New("anonymous clients are not allowed")
	errBadCredentials = errors.New("unknown user or wrong password")
	errCertMismatch   = errors.New("user name differs from the client certificate's identity")
)

// uspIDPrefix starts a URI SAN holding a USP Endpoint ID (TR-369, "Use of
// X.509 Certificates").
const uspIDPrefix = "urn:bbf:usp:id:"

// creds is what a client presented.
type creds struct {
	clientID string
	username string
	password []byte
	hasPass  bool
	certs    []*x509.Certificate // verified chain, leaf first, or nil
}

// authenticate decides a CONNECT: Authenticate if set; else a password
// login against Users; else a verified client certificate; else anonymous
// if allowed.
func (c *config) authenticate(ctx context.Context, cr creds) (Account, error) {
	if c.Authenticate != nil {
		return c.Authenticate(ctx, cr.clientID, cr.username, cr.password, cr.certs)
	}
	switch {
	case cr.hasPass:
		return c.passwordLogin(cr.username, cr.password)
	case len(cr.certs) > 0:
		id := CertIdentity(cr.certs[0])
		if cr.username != "" && cr.username != id {
			return Account{}, errCertMismatch
		}
		return Account{Name: id, Controller: c.controllers[id]}, nil
	case cr.username != "":
		return Account{}, errBadCredentials
	case c.AllowAnonymous:
		return Account{}, nil
	}
	return Account{}, errNoCredentials
}

func (c *config) passwordLogin(user string, pass []byte) (Account, error) {
	want, known := c.users[user]
	if !known {
		want = hashPassword(nil) // compare anyway, so timing does not tell
	}
	got := hashPassword(pass)
	if subtle.ConstantTimeCompare(want[:], got[:]) != 1 || !known {
		return Account{}, errBadCredentials
	}
	return Account{Name: user, Controller: c.controllers[user]}, nil
}

func hashPassword(p []byte) [32]byte {
	return sha256.Sum256(p)
}

// CertIdentity is the name a client certificate authenticates: the USP
// Endpoint ID of its first "urn:bbf:usp:id:" URI SAN, else its Subject
// Common Name.
func CertIdentity(cert *x509.Certificate) string {
	for _, u := range cert.URIs {
		if id, ok := strings.CutPrefix(u.String(), uspIDPrefix); ok && id != "" {
			return id
		}
	}
	return cert.Subject.CommonName
}
