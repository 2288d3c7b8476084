package filestore_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/uspkit/uspkit/controller/filestore"
)

func TestPutServeReopen(t *testing.T) {
	dir := t.TempDir()
	s, err := filestore.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("0123456789"), 100000)
	f, err := s.Put("image.bin", bytes.NewReader(data), 0)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	if f.SHA256 != hex.EncodeToString(sum[:]) || f.Size != int64(len(data)) || len(f.Token) != 32 {
		t.Fatalf("%+v", f)
	}
	// A reopened store holds the same file.
	s2, err := filestore.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if g, err := s2.Get(f.ID); err != nil || g != f {
		t.Fatalf("reopened: %+v %v", g, err)
	}
	srv := httptest.NewServer(s2)
	defer srv.Close()
	for _, tc := range []struct {
		name, path, rng string
		code            int
		body            []byte
	}{
		{"whole", f.Path(), "", 200, data},
		{"range", f.Path(), "bytes=10-19", 206, data[10:20]},
		{"wrong token", "/files/" + strings.Repeat("0", 32) + "/image.bin", "", 404, nil},
		{"wrong name", "/files/" + f.Token + "/other.bin", "", 404, nil},
		{"no name", "/files/" + f.Token, "", 404, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", srv.URL+tc.path, nil)
			if tc.rng != "" {
				req.Header.Set("Range", tc.rng)
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.code || (tc.body != nil && !bytes.Equal(b, tc.body)) {
				t.Fatalf("%d, %d bytes", resp.StatusCode, len(b))
			}
		})
	}
	if err := s2.Delete(f.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s2.Get(f.ID); !errors.Is(err, filestore.ErrNotFound) {
		t.Fatalf("deleted: %v", err)
	}
}

func TestPutRefused(t *testing.T) {
	s, err := filestore.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, file string
		size       int
		want       error
	}{
		{"too large", "a.bin", 11, filestore.ErrTooLarge},
		{"path", "../a.bin", 1, filestore.ErrName},
		{"dot", ".hidden", 1, filestore.ErrName},
		{"empty", "", 1, filestore.ErrName},
		{"space", "a b", 1, filestore.ErrName},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := s.Put(tc.file, bytes.NewReader(make([]byte, tc.size)), 10); !errors.Is(err, tc.want) {
				t.Fatalf("%v, want %v", err, tc.want)
			}
		})
	}
	if n := len(s.List()); n != 0 {
		t.Fatalf("%d files kept", n)
	}
}
