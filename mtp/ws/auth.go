package ws

import (
	"context"
	"crypto/x509"
	"errors"
	"net/http"
	"path"
	"strings"

	"github.com/uspkit/uspkit/endpoint"
	"github.com/uspkit/uspkit/mtp"
)

// AuthFunc checks, during a Server's opening handshake, that the client
// is the Endpoint eid: a valid Endpoint ID the request names (eid query,
// extension or certificate). certs is the client's verified certificate
// chain, leaf first, or nil; when it is not nil its urn:bbf:usp:id: URI
// names eid (or names no Endpoint at all): the Server has refused any
// other case with 403 before calling.
//
// Returning nil accepts the client as authenticated (mtp.Peer's
// Authenticated is true); ErrAnonymous accepts it unauthenticated; any
// other error refuses the handshake with 401 Unauthorized (with a
// WWW-Authenticate: Basic challenge), or 403 Forbidden when the error
// wraps ErrForbidden. The error's text is logged, never sent. It is called
// from the Server's connection goroutines, concurrently, and must not
// block for long: the handshake timeout runs meanwhile. It must not keep
// r after it returns.
type AuthFunc func(ctx context.Context, r *http.Request, eid string, certs []*x509.Certificate) error

// Errors an AuthFunc returns to steer the handshake.
var (
	// ErrAnonymous accepts a client whose Endpoint ID is not verified.
	ErrAnonymous = errors.New("ws: client not authenticated, accepted")
	// ErrForbidden refuses a client with 403 instead of 401.
	ErrForbidden = errors.New("ws: client forbidden")
)

// certClaim tells what a verified certificate says of Endpoint ID eid:
// whether it names any Endpoint, and whether one of the names covers eid
// ([R-SEC.0a], [R-SEC.5], [R-SEC.12]: the URN form of the Endpoint ID, or
// one with a wild-carded instance-id [R-SEC.13]).
func certClaim(chain []*x509.Certificate, eid string) (names, covers bool) {
	if len(chain) == 0 {
		return false, false
	}
	leaf := chain[0]
	if endpoint.InCertificate(leaf, eid) {
		return true, true
	}
	for _, u := range leaf.URIs {
		s := u.String()
		if len(s) < len(endpoint.URNPrefix) || !strings.EqualFold(s[:len(endpoint.URNPrefix)], endpoint.URNPrefix) {
			continue
		}
		names = true
		if wildcardCovers(s[len(endpoint.URNPrefix):], eid) {
			return true, true
		}
	}
	return names, false
}

// wildcardCovers reports whether pattern, an Endpoint ID whose
// instance-id may hold '*' wildcards, covers eid: same authority-scheme
// and authority-id [R-SEC.13], instance-id matched with '*' standing for
// any run of characters.
func wildcardCovers(pattern, eid string) bool {
	i := strings.LastIndexByte(pattern, ':')
	j := strings.LastIndexByte(eid, ':')
	if i < 0 || j < 0 || pattern[:i] != eid[:j] || !strings.Contains(pattern[i+1:], "*") {
		return false
	}
	// path.Match's '*' does not cross '/', which an instance-id cannot
	// hold unescaped; '?' and '[' are not instance-id characters.
	pat, inst := pattern[i+1:], eid[j+1:]
	if strings.ContainsAny(pat, `?[\/`) || strings.Contains(inst, "/") {
		return false
	}
	ok, err := path.Match(pat, inst)
	return err == nil && ok
}

// authenticate decides whether the client of r may be peer and whether
// its Endpoint ID is verified; status 0 accepts, otherwise it is the HTTP
// status to refuse with.
func (s *Server) authenticate(r *http.Request, peer *mtp.Peer) (status int, why string) {
	names, covers := certClaim(peer.Certs, peer.EndpointID)
	if names && !covers {
		// The certificate is another Endpoint's: [R-SEC.12].
		return http.StatusForbidden, "the client certificate's urn:bbf:usp:id subjectAltName does not name the Endpoint ID in the request (TR-369 R-SEC.12)"
	}
	if s.o.Authenticate == nil {
		peer.Authenticated = covers
		return 0, ""
	}
	err := s.o.Authenticate(r.Context(), r, peer.EndpointID, peer.Certs)
	switch {
	case err == nil:
		peer.Authenticated = true
		return 0, ""
	case errors.Is(err, ErrAnonymous):
		return 0, ""
	case errors.Is(err, ErrForbidden):
		s.log.Info("ws: handshake refused", "remote", r.RemoteAddr, "eid", peer.EndpointID, "err", err)
		return http.StatusForbidden, "forbidden"
	default:
		s.log.Info("ws: handshake not authenticated", "remote", r.RemoteAddr, "eid", peer.EndpointID, "err", err)
		return http.StatusUnauthorized, "authentication required"
	}
}
