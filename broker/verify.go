package broker

import "crypto/x509"

// VerifyPassword reports whether pass is the password of account name,
// so that a Controller's other MTPs (its WebSocket server) can accept the
// same per-Agent credentials as the broker. Unknown names take as long as
// known ones.
func (a *Accounts) VerifyPassword(name string, pass []byte) bool {
	_, ok := a.checkPassword(name, pass)
	return ok
}

// VerifyCertificate reports whether cert was issued to account name and
// is not revoked.
func (a *Accounts) VerifyCertificate(name string, cert *x509.Certificate) bool {
	_, ok := a.checkCert(name, cert)
	return ok
}
