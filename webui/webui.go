package webui

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"strings"
)

//go:embed static
var static embed.FS

// CSP is the Content-Security-Policy of every answer: scripts, styles,
// images and connections from this origin only, no frames, no plugins.
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; font-src 'self'; " +
	"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// Prefix is the path the assets are served under.
const Prefix = "/ui/"

// Handler serves the UI: index.html at "/" and the assets under Prefix.
// Any other path is not found.
func Handler() http.Handler {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	tags := etags(sub)
	files := http.StripPrefix(Prefix, http.FileServerFS(sub))
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("ETag", tags["index.html"])
		http.ServeFileFS(w, r, sub, "index.html")
	})
	mux.HandleFunc("GET "+Prefix, func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, Prefix)
		if tags[name] == "" { // no directory listings, nothing else
			http.NotFound(w, r)
			return
		}
		// With the ETag, a browser revalidating (Cache-Control: no-cache)
		// gets 304 Not Modified until the binary changes.
		w.Header().Set("ETag", tags[name])
		files.ServeHTTP(w, r)
	})
	return headers(mux)
}

// etags returns a strong ETag (of the SHA-256 of its content) for each
// embedded file, by path.
func etags(fsys fs.FS) map[string]string {
	out := map[string]string{}
	fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		out[p] = `"` + hex.EncodeToString(sum[:12]) + `"`
		return nil
	})
	return out
}

// headers adds the security headers to every answer.
func headers(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", CSP)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cache-Control", "no-cache")
		next.ServeHTTP(w, r)
	})
}

// Mount returns a handler that serves the UI at "/" (GET and HEAD) and
// its assets under Prefix, and hands every other request to api.
func Mount(api http.Handler) http.Handler {
	ui := Handler()
	mux := http.NewServeMux()
	mux.Handle("/", api)
	mux.Handle("GET /{$}", ui)
	mux.Handle("GET "+Prefix, ui)
	return mux
}
