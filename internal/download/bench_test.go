package download_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/uspkit/uspkit/internal/download"
)

// vmHWM is the process's peak resident set in KiB (Linux), or 0.
func vmHWM() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

// BenchmarkFetch fetches a 10 MB and then a 100 MB file over loopback
// HTTP with a SHA-256 check: throughput, and the process's peak RSS
// (server and client) after each size, which does not grow with the file.
func BenchmarkFetch(b *testing.B) {
	for _, size := range []int{10 << 20, 100 << 20} {
		b.Run(fmt.Sprintf("%dMiB", size>>20), func(b *testing.B) { benchFetch(b, size) })
	}
}

func benchFetch(b *testing.B, size int) {
	chunk := payload(1 << 20)
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(size))
		for range size / len(chunk) {
			w.Write(chunk)
		}
	}))
	defer s.Close()
	dir := b.TempDir()
	b.SetBytes(int64(size))
	for b.Loop() {
		dst := filepath.Join(dir, "img")
		os.Remove(dst)
		if _, err := download.Fetch(context.Background(), download.Request{URL: s.URL, FileSize: int64(size), CheckSumAlgorithm: "SHA-256",
			CheckSum: strings.Repeat("0", 64)}, dst, nil); err == nil {
			b.Fatal("checksum of zeros matched")
		}
	}
	b.ReportMetric(float64(vmHWM())/1024, "peak-RSS-MiB")
}
