package webui_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/uspkit/uspkit/webui"
)

// TestMount checks what Mount serves itself and what it hands to the API,
// and that the UI's answers carry the Content-Security-Policy.
func TestMount(t *testing.T) {
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "api") })
	srv := httptest.NewServer(webui.Mount(api))
	defer srv.Close()
	tests := []struct {
		method, path string
		status       int
		wantBody     string // a substring; "api" when the API answered
		wantType     string
		wantCSP      bool
	}{
		{"GET", "/", 200, `<script type="module" src="/ui/js/app.js">`, "text/html", true},
		{"HEAD", "/", 200, "", "text/html", true},
		{"GET", "/ui/js/app.js", 200, "import", "javascript", true},
		{"GET", "/ui/style.css", 200, ":root", "text/css", true},
		{"GET", "/ui/icon.svg", 200, "<svg", "image/svg+xml", true},
		{"GET", "/ui/nope.js", 404, "", "", true},
		{"GET", "/ui/js/", 404, "", "", true},
		{"GET", "/api/v1/agents", 200, "api", "", false},
		{"POST", "/", 200, "api", "", false},
		{"GET", "/metrics", 200, "api", "", false},
		{"GET", "/healthz", 200, "api", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, srv.URL+tt.path, nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.status)
			}
			if !strings.Contains(string(b), tt.wantBody) || tt.wantBody == "" && tt.method == "GET" && tt.status == 200 {
				t.Errorf("body %.80q, want %q", b, tt.wantBody)
			}
			if !strings.Contains(resp.Header.Get("Content-Type"), tt.wantType) {
				t.Errorf("Content-Type %q, want %q", resp.Header.Get("Content-Type"), tt.wantType)
			}
			csp := resp.Header.Get("Content-Security-Policy")
			if tt.wantCSP != (csp == webui.CSP) {
				t.Errorf("CSP %q", csp)
			}
		})
	}
}

// TestETag checks that an asset fetched again with its ETag is not sent
// again (304), and that another asset has another ETag.
func TestETag(t *testing.T) {
	srv := httptest.NewServer(webui.Handler())
	defer srv.Close()
	tags := map[string]string{}
	for _, p := range []string{"/", "/ui/js/app.js", "/ui/style.css"} {
		resp, err := http.Get(srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		tag := resp.Header.Get("ETag")
		if tag == "" || tags[tag] != "" {
			t.Fatalf("%s: ETag %q (also %s)", p, tag, tags[tag])
		}
		tags[tag] = p
		req, _ := http.NewRequest("GET", srv.URL+p, nil)
		req.Header.Set("If-None-Match", tag)
		resp, err = http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotModified {
			t.Errorf("%s with its ETag: %d, want 304", p, resp.StatusCode)
		}
	}
}

// TestNoThirdParty checks that no embedded asset names another origin: the
// page loads nothing from a CDN or any other host.
func TestNoThirdParty(t *testing.T) {
	srv := httptest.NewServer(webui.Handler())
	defer srv.Close()
	for _, p := range []string{"/", "/ui/js/app.js", "/ui/js/api.js", "/ui/js/agent.js", "/ui/js/fleet.js", "/ui/js/charts.js", "/ui/js/usp.js", "/ui/js/dom.js", "/ui/js/events.js", "/ui/style.css"} {
		resp, err := http.Get(srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("%s: %d", p, resp.StatusCode)
			continue
		}
		s := strings.ReplaceAll(string(b), "http://www.w3.org/2000/svg", "")
		for _, bad := range []string{"http://", "https://", "//cdn", "@import"} {
			if strings.Contains(s, bad) {
				t.Errorf("%s names %q", p, bad)
			}
		}
	}
}
