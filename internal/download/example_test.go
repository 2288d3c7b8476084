package download_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"

	"github.com/uspkit/uspkit/internal/download"
)

func ExampleFetch() {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "image") }))
	defer s.Close()
	dir, _ := os.MkdirTemp("", "download")
	defer os.RemoveAll(dir)
	req := download.Request{URL: s.URL, CheckSumAlgorithm: "SHA-256",
		CheckSum: "6105d6cc76af400325e94d588ce511be5bfdbb73b437dc51eca43917d7a43e3d"}
	n, err := download.Fetch(context.Background(), req, filepath.Join(dir, "img"), nil)
	var e *download.Error
	if errors.As(err, &e) {
		fmt.Println("failed:", e.Fault)
		return
	}
	fmt.Println(n, "bytes")
	// Output: 5 bytes
}
