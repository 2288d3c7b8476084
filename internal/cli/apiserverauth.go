//go:build !usp_device

package cli

import (
	"log/slog"
	"net/http"
	"path"
	"strings"
)

// agentPath reports whether p is one of the API listener's paths Agents
// use without a client certificate: the Bulk Data collector
// (/bulkdata/{agent}, each Agent's own Basic credentials) and the file
// store (/files/…, unguessable tokens). A path that cleaning would change
// (dot segments, double slashes) is not: the mux would only redirect it,
// and it must not reach an API path past the check.
func agentPath(p string) bool {
	if c := path.Clean(p); c != p && c+"/" != p {
		return false
	}
	return strings.HasPrefix(p, "/bulkdata/") || strings.HasPrefix(p, "/files/")
}

// requireClientCert serves h only to clients that presented a certificate
// chaining to api.tls.client_ca, except on an agentPath. The listener asks
// for a certificate without demanding one (tls.VerifyClientCertIfGiven),
// so a certificate that is given has been verified in the handshake (one
// that does not verify ends the connection); here a request with none is
// refused with 403 unless it is for an Agent's path.
func requireClientCert(h http.Handler, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS != nil && len(r.TLS.VerifiedChains) > 0 || agentPath(r.URL.Path) {
			h.ServeHTTP(w, r)
			return
		}
		log.DebugContext(r.Context(), "API request without a client certificate refused", "remote", r.RemoteAddr, "path", r.URL.Path)
		http.Error(w, "a client certificate issued by api.tls.client_ca is required", http.StatusForbidden)
	})
}
