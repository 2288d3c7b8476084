//go:build !usp_device

package cli

import (
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestAPIAgentPathTLS: with api.tls.client_ca only the collector and the file
// store serve a request without a verified client certificate, and no
// spelling of a path reaches the API past the check.
func TestAPIAgentPathTLS(t *testing.T) {
	h := requireClientCert(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}), slog.New(slog.DiscardHandler))
	verified := &tls.ConnectionState{VerifiedChains: [][]*x509.Certificate{{{}}}}
	for _, tc := range []struct {
		path string
		tls  *tls.ConnectionState
		want int
	}{
		{"/bulkdata/os::A", &tls.ConnectionState{}, 200},
		{"/files/0123abcd/image.bin", &tls.ConnectionState{}, 200},
		{"/api/v1/agents", &tls.ConnectionState{}, 403},
		{"/api/v1/agents", nil, 403},
		{"/api/v1/agents", verified, 200},
		{"/", &tls.ConnectionState{}, 403},
		{"/api/v1/events", &tls.ConnectionState{}, 403},
		{"/bulkdata", &tls.ConnectionState{}, 403},
		{"/filesystem", &tls.ConnectionState{}, 403},
		{"/bulkdata/../api/v1/agents", &tls.ConnectionState{}, 403},
		{"/files//api/v1/agents", &tls.ConnectionState{}, 403},
		{"/files/./x", &tls.ConnectionState{}, 403},
	} {
		t.Run(tc.path, func(t *testing.T) {
			r := httptest.NewRequest("GET", "https://ctl.example"+tc.path, nil)
			r.URL.Path, r.TLS = tc.path, tc.tls
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tc.want {
				t.Errorf("%s: %d, want %d", tc.path, w.Code, tc.want)
			}
		})
	}
}
