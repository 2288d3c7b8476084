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
	errUnknownCert    = errors.New("client certificate not registered with an account")
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
// login against Users, then Accounts; else a verified client
// certificate; else anonymous if allowed. cred is set for logins by
// Accounts, so that a later change of the account can cut the session.
func (c *config) authenticate(ctx context.Context, cr creds) (a Account, cred credential, err error) {
	if c.Authenticate != nil {
		a, err = c.Authenticate(ctx, cr.clientID, cr.username, cr.password, cr.certs)
		return a, "", err
	}
	switch {
	case cr.hasPass:
		return c.passwordLogin(cr.username, cr.password)
	case len(cr.certs) > 0:
		return c.certLogin(cr)
	case cr.username != "":
		return Account{}, "", errBadCredentials
	case c.AllowAnonymous:
		return Account{}, "", nil
	}
	return Account{}, "", errNoCredentials
}

// certLogin: the certificate's identity is the account [R-MQTT.43],
// [R-SEC.0a]. With Accounts, it must be a Controller or the certificate
// must be registered with the account of that name (so that revoking the
// account revokes the certificate).
func (c *config) certLogin(cr creds) (Account, credential, error) {
	id := CertIdentity(cr.certs[0])
	if cr.username != "" && cr.username != id {
		return Account{}, "", errCertMismatch
	}
	if c.Accounts == nil || c.controllers[id] {
		return Account{Name: id, Controller: c.controllers[id]}, "", nil
	}
	cred, ok := c.Accounts.checkCert(id, cr.certs[0])
	if !ok {
		return Account{}, "", errUnknownCert
	}
	return Account{Name: id}, cred, nil
}

func (c *config) passwordLogin(user string, pass []byte) (Account, credential, error) {
	want, known := c.users[user]
	if !known && c.Accounts != nil {
		if cred, ok := c.Accounts.checkPassword(user, pass); ok {
			return Account{Name: user}, cred, nil
		}
		return Account{}, "", errBadCredentials
	}
	if !known {
		want = hashPassword(nil) // compare anyway, so timing does not tell
	}
	got := hashPassword(pass)
	if subtle.ConstantTimeCompare(want[:], got[:]) != 1 || !known {
		return Account{}, "", errBadCredentials
	}
	return Account{Name: user, Controller: c.controllers[user]}, "", nil
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

// knownName reports whether name is an account: a user, a Controller or
// one of Accounts.
func (c *config) knownName(name string) bool {
	if _, ok := c.users[name]; ok || c.controllers[name] {
		return true
	}
	if c.Accounts != nil {
		_, ok := c.Accounts.Get(name)
		return ok
	}
	return false
}
