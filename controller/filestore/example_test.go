package filestore_test

import (
	"fmt"
	"os"
	"strings"

	"github.com/uspkit/uspkit/controller/filestore"
)

func Example() {
	dir, _ := os.MkdirTemp("", "files")
	defer os.RemoveAll(dir)
	s, err := filestore.Open(dir, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	f, err := s.Put("fw.bin", strings.NewReader("image"), 1<<20)
	if err != nil {
		fmt.Println(err)
		return
	}
	// Serve s (an http.Handler) under /files/ and give agents the URL.
	fmt.Println(f.Size, f.SHA256[:16], strings.HasPrefix(f.Path(), "/files/"))
	// Output: 5 6105d6cc76af4003 true
}
