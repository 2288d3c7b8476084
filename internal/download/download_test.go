package download_test

import (
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/uspkit/uspkit/internal/download"
)

func digest(h hash.Hash, b []byte) string { h.Write(b); return hex.EncodeToString(h.Sum(nil)) }

func payload(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	return b
}

// server serves body at /img with Range support, Basic auth user:pw at
// /auth, 404 elsewhere, and counts requests.
func server(t *testing.T, body []byte) (*httptest.Server, *atomic.Int32) {
	var n atomic.Int32
	mux := http.NewServeMux()
	serve := func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		http.ServeContent(w, r, "img", time.Unix(0, 0), strings.NewReader(string(body)))
	}
	mux.HandleFunc("/img", serve)
	mux.HandleFunc("/auth", func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "user" || p != "pw" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		serve(w, r)
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	})
	mux.HandleFunc("/flaky", func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) < 3 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		serve(w, r)
	})
	s := httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s, &n
}

// TestFetch: checksums of every TR-181 algorithm, credentials, and each
// failure with its fault; a failure leaves no file at dst.
func TestFetch(t *testing.T) {
	body := payload(300_000)
	s, _ := server(t, body)
	fast := &download.Options{Backoff: 10 * time.Millisecond, Stall: 300 * time.Millisecond}
	for _, tc := range []struct {
		name  string
		req   download.Request
		fault download.Fault
	}{
		{"plain", download.Request{URL: s.URL + "/img"}, 0},
		{"sha1", download.Request{URL: s.URL + "/img", CheckSumAlgorithm: "SHA-1", CheckSum: digest(sha1.New(), body)}, 0},
		{"sha224", download.Request{URL: s.URL + "/img", CheckSumAlgorithm: "SHA-224", CheckSum: digest(sha256.New224(), body)}, 0},
		{"sha256", download.Request{URL: s.URL + "/img", CheckSumAlgorithm: "SHA-256", CheckSum: strings.ToUpper(digest(sha256.New(), body)), FileSize: int64(len(body))}, 0},
		{"sha384", download.Request{URL: s.URL + "/img", CheckSumAlgorithm: "SHA-384", CheckSum: digest(sha512.New384(), body)}, 0},
		{"sha512", download.Request{URL: s.URL + "/img", CheckSumAlgorithm: "SHA-512", CheckSum: digest(sha512.New(), body)}, 0},
		{"basic auth", download.Request{URL: s.URL + "/auth", Username: "user", Password: "pw"}, 0},
		{"retried 503", download.Request{URL: s.URL + "/flaky"}, 0},
		{"bad checksum", download.Request{URL: s.URL + "/img", CheckSumAlgorithm: "SHA-256", CheckSum: digest(sha256.New(), []byte("x"))}, download.FaultChecksum},
		{"checksum wrong length", download.Request{URL: s.URL + "/img", CheckSumAlgorithm: "SHA-256", CheckSum: "abcd"}, download.FaultChecksum},
		{"unknown algorithm", download.Request{URL: s.URL + "/img", CheckSumAlgorithm: "MD5", CheckSum: "abcd"}, download.FaultChecksum},
		{"size mismatch", download.Request{URL: s.URL + "/img", FileSize: int64(len(body)) + 1}, download.FaultSize},
		{"size smaller", download.Request{URL: s.URL + "/img", FileSize: 10}, download.FaultSize},
		{"404", download.Request{URL: s.URL + "/none"}, download.FaultNotFound},
		{"bad credentials", download.Request{URL: s.URL + "/auth", Username: "user", Password: "no"}, download.FaultAuth},
		{"timeout", download.Request{URL: s.URL + "/slow"}, download.FaultTransfer},
		{"refused", download.Request{URL: "http://127.0.0.1:1/img"}, download.FaultTransfer},
		{"ftp", download.Request{URL: "ftp://127.0.0.1/img"}, download.FaultProtocol},
		{"no scheme", download.Request{URL: "img"}, download.FaultProtocol},
		{"missing file", download.Request{URL: "file:///nonexistent/img"}, download.FaultNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst := filepath.Join(t.TempDir(), "img")
			n, err := download.Fetch(context.Background(), tc.req, dst, fast)
			if tc.fault == 0 {
				if err != nil {
					t.Fatal(err)
				}
				got, _ := os.ReadFile(dst)
				if n != int64(len(body)) || string(got) != string(body) {
					t.Fatalf("got %d bytes, want %d", n, len(body))
				}
				return
			}
			var e *download.Error
			if !errors.As(err, &e) || e.Fault != tc.fault {
				t.Fatalf("err = %v, want fault %v", err, tc.fault)
			}
			if _, err := os.Stat(dst); err == nil {
				t.Error("a failed transfer left the destination file")
			}
		})
	}
}

// TestFetchFile: file:// URLs for labs.
func TestFetchFile(t *testing.T) {
	body := payload(1000)
	src := filepath.Join(t.TempDir(), "src")
	os.WriteFile(src, body, 0o600)
	dst := filepath.Join(t.TempDir(), "img")
	if _, err := download.Fetch(context.Background(), download.Request{URL: "file://" + src, CheckSumAlgorithm: "SHA-256", CheckSum: digest(sha256.New(), body)}, dst, nil); err != nil {
		t.Fatal(err)
	}
}

// TestFetchTLS: a server whose certificate the client does not trust is a
// TLS fault, not retried; with the server's CA it succeeds.
func TestFetchTLS(t *testing.T) {
	body := payload(1000)
	s := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(body) }))
	defer s.Close()
	dst := filepath.Join(t.TempDir(), "img")
	_, err := download.Fetch(context.Background(), download.Request{URL: s.URL}, dst, &download.Options{Backoff: time.Millisecond})
	var e *download.Error
	if !errors.As(err, &e) || e.Fault != download.FaultTLS {
		t.Fatalf("untrusted server: %v", err)
	}
	if _, err := download.Fetch(context.Background(), download.Request{URL: s.URL}, dst, &download.Options{TLS: s.Client().Transport.(*http.Transport).TLSClientConfig}); err != nil {
		t.Fatal(err)
	}
}

// TestFetchResume: a transfer cut off half way (as by an agent restart)
// continues from the partial file with a Range request, and the whole
// file checks out.
func TestFetchResume(t *testing.T) {
	body := payload(1 << 20)
	var ranges []string
	var cut atomic.Bool
	cut.Store(true)
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ranges = append(ranges, r.Header.Get("Range"))
		if cut.Load() {
			w.Header().Set("Content-Length", fmt.Sprint(len(body)))
			w.Write(body[:len(body)/2])
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler)
		}
		http.ServeContent(w, r, "img", time.Unix(0, 0), strings.NewReader(string(body)))
	}))
	defer s.Close()
	dst := filepath.Join(t.TempDir(), "img")
	req := download.Request{URL: s.URL, CheckSumAlgorithm: "SHA-256", CheckSum: digest(sha256.New(), body), FileSize: int64(len(body))}
	if _, err := download.Fetch(context.Background(), req, dst, &download.Options{Attempts: 1}); err == nil {
		t.Fatal("cut transfer succeeded")
	}
	fi, err := os.Stat(dst + ".part")
	if err != nil || fi.Size() != int64(len(body)/2) {
		t.Fatalf("partial file: %v %v", fi, err)
	}
	cut.Store(false)
	if _, err := download.Fetch(context.Background(), req, dst, nil); err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("bytes=%d-", len(body)/2); ranges[len(ranges)-1] != want {
		t.Fatalf("Range %q, want %q", ranges[len(ranges)-1], want)
	}
	// Another URL does not resume a stale partial file.
	os.WriteFile(dst+".part", []byte("junk"), 0o600)
	req.URL = s.URL + "/other"
	if _, err := download.Fetch(context.Background(), req, dst, nil); err != nil {
		t.Fatal(err)
	}
	if got := ranges[len(ranges)-1]; got != "" {
		t.Fatalf("stale partial file resumed with %q", got)
	}
}

// TestFetchDiskFull: a write that fails for lack of space is a storage
// fault (the partial file is /dev/full).
func TestFetchDiskFull(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full")
	}
	s, _ := server(t, payload(100_000))
	dst := filepath.Join(t.TempDir(), "img")
	os.Symlink("/dev/full", dst+".part")
	os.WriteFile(dst+".part.json", []byte(`{"url":"`+s.URL+`/img"}`), 0o600)
	_, err := download.Fetch(context.Background(), download.Request{URL: s.URL + "/img"}, dst, nil)
	var e *download.Error
	if !errors.As(err, &e) || e.Fault != download.FaultStorage {
		t.Fatalf("err = %v, want a storage fault", err)
	}
}

// TestFetchMaxSize: a file over Options.MaxSize is refused while it
// streams (FaultTooLarge, not FaultSize, which is a file that is not the
// FileSize asked for), over HTTP with and without a Content-Length, over
// file://, and a FileSize over the limit before anything is fetched.
func TestFetchMaxSize(t *testing.T) {
	const max = 100_000
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/chunked" {
			w.(http.Flusher).Flush() // chunked: no Content-Length
		}
		w.Write(payload(2 * max))
	}))
	defer s.Close()
	big := filepath.Join(t.TempDir(), "big")
	if err := os.WriteFile(big, payload(2*max), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		r    download.Request
		want download.Fault
	}{
		{"chunked", download.Request{URL: s.URL + "/chunked"}, download.FaultTooLarge},
		{"content-length", download.Request{URL: s.URL + "/sized"}, download.FaultTooLarge},
		{"file", download.Request{URL: "file://" + big}, download.FaultTooLarge},
		{"FileSize over the limit", download.Request{URL: s.URL + "/sized", FileSize: 2 * max}, download.FaultTooLarge},
		{"longer than FileSize", download.Request{URL: s.URL + "/chunked", FileSize: max / 2}, download.FaultSize},
		{"file longer than FileSize", download.Request{URL: "file://" + big, FileSize: max / 2}, download.FaultSize},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst := filepath.Join(t.TempDir(), "img")
			_, err := download.Fetch(context.Background(), tc.r, dst, &download.Options{MaxSize: max})
			var e *download.Error
			if !errors.As(err, &e) || e.Fault != tc.want {
				t.Fatalf("err = %v, want fault %v", err, tc.want)
			}
			if fi, err := os.Stat(dst + ".part"); err == nil && fi.Size() > max {
				t.Fatalf("%d bytes written, over the limit %d", fi.Size(), max)
			}
		})
	}
}

// TestFetchBoundedMemory: a 64 MiB file is fetched with a heap that does
// not grow with it.
func TestFetchBoundedMemory(t *testing.T) {
	const size = 64 << 20
	chunk := payload(1 << 20)
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(size))
		for range size / len(chunk) {
			w.Write(chunk)
		}
	}))
	defer s.Close()
	var peak uint64
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	o := &download.Options{Progress: func(done, total int64) {
		if done%(8<<20) < 64<<10 {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
		}
	}}
	h := sha256.New()
	for range size / len(chunk) {
		h.Write(chunk)
	}
	if _, err := download.Fetch(context.Background(), download.Request{URL: s.URL, FileSize: size, CheckSumAlgorithm: "SHA-256", CheckSum: hex.EncodeToString(h.Sum(nil))},
		filepath.Join(t.TempDir(), "img"), o); err != nil {
		t.Fatal(err)
	}
	if grow := int64(peak) - int64(base); grow > 8<<20 {
		t.Fatalf("heap grew by %d bytes for a %d-byte file", grow, size)
	}
	t.Logf("heap growth while fetching %d MiB: %d KiB", size>>20, (int64(peak)-int64(base))>>10)
}

// TestFetchCanceled: a cancelled context ends the transfer at once.
func TestFetchCanceled(t *testing.T) {
	s, _ := server(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := download.Fetch(ctx, download.Request{URL: s.URL + "/slow"}, filepath.Join(t.TempDir(), "img"), nil)
	var e *download.Error
	if !errors.As(err, &e) || e.Fault != download.FaultCanceled || time.Since(start) > 2*time.Second {
		t.Fatalf("err = %v after %v", err, time.Since(start))
	}
}
