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
	for _, u := range cert.URIs {
		if wildcardMatch(u.String(), id) {
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

// wildcardMatch reports whether uri, a certificate's URN with a wildcard
// '*' in its instance-id, covers Endpoint ID id: only for the
// authority-schemes [R-SEC.12] allows, with the same authority-id, and
// for os and ops only when the part of the instance-id that names the
// assigning entity (OUI, and product class for ops) is not wildcarded
// [R-SEC.11].
func wildcardMatch(uri, id string) bool {
	if len(uri) < len(URNPrefix) || !strings.EqualFold(uri[:len(URNPrefix)], URNPrefix) {
		return false
	}
	pattern := uri[len(URNPrefix):]
	if !strings.Contains(pattern, "*") {
		return false
	}
	ps := strings.SplitN(pattern, ":", 3)
	want, err := Parse(id)
	if err != nil || len(ps) != 3 || ps[0] != string(want.Scheme) || ps[1] != want.Authority || strings.Contains(ps[1], "*") {
		return false
	}
	fixed := 0 // instance-id parts, separated by '-', that must not hold '*'
	switch want.Scheme {
	case SchemeOUI, SchemeCID, SchemePEN:
	case SchemeOS:
		fixed = 1
	case SchemeOPS:
		fixed = 2
	default:
		return false
	}
	parts := strings.SplitN(ps[2], "-", fixed+1)
	if len(parts) <= fixed {
		return false
	}
	for _, p := range parts[:fixed] {
		if strings.Contains(p, "*") {
			return false
		}
	}
	return glob(ps[2], want.Instance)
}

// glob matches s against pattern, where '*' stands for any run of bytes.
func glob(pattern, s string) bool {
	head, rest, wild := strings.Cut(pattern, "*")
	if !wild {
		return pattern == s
	}
	if !strings.HasPrefix(s, head) {
		return false
	}
	s = s[len(head):]
	for i := 0; i <= len(s); i++ {
		if glob(rest, s[i:]) {
			return true
		}
	}
	return false
}
