package endpoint

import (
	"crypto/x509"
	"strings"
)

// FromCertificate returns the Endpoint IDs a certificate names in its
// subjectAltName [R-SEC.0a]: each uniformResourceIdentifier in the URN form
// "urn:bbf:usp:id:…" that holds a valid Endpoint ID. A certificate without
// one returns nil.
func FromCertificate(cert *x509.Certificate) []string {
	if cert == nil {
		return nil
	}
	var ids []string
	for _, u := range cert.URIs {
		if id, err := ParseURN(u.String()); err == nil {
			ids = append(ids, id.String())
		}
	}
	return ids
}

// InCertificate reports whether a certificate represents Endpoint ID id as
// [R-SEC.0a] asks: a URI subjectAltName in the URN form of id, or, for an
// Endpoint ID whose authority-scheme is fqdn, a dNSName equal to its
// instance-id.
func InCertificate(cert *x509.Certificate, id string) bool {
	if cert == nil {
		return false
	}
	for _, have := range FromCertificate(cert) {
		if have == id {
			return true
		}
	}
	p, err := Parse(id)
	if err != nil || p.Scheme != SchemeFQDN {
		return false
	}
	for _, name := range cert.DNSNames {
		if strings.EqualFold(name, p.Instance) {
			return true
		}
	}
	return false
}
