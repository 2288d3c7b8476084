package softwaremodules

import (
	"io"
	"os"
	"path/filepath"
	"testing"
)

// TestOpenTail: an Upload() of an EU's log sends the newest limit bytes of
// the rotated file and the current one, from the start of a line.
func TestOpenTail(t *testing.T) {
	for _, tc := range []struct {
		name     string
		old, cur string // "" for a file that is not there, "-" for an empty one
		limit    int64
		want     string
	}{
		{"no log yet", "", "", 100, ""},
		{"empty log", "", "-", 100, ""},
		{"whole current file", "", "a\nb\n", 100, "a\nb\n"},
		{"rotated then current", "a\nb\n", "c\n", 100, "a\nb\nc\n"},
		{"cut inside a line of the rotated file", "aaaa\nbbbb\n", "cccc\n", 12, "bbbb\ncccc\n"},
		{"cut at a line's start", "aaaa\nbbbb\n", "cccc\n", 10, "bbbb\ncccc\n"},
		{"cut inside the current file", "aaaa\n", "bbbb\ncccc\n", 7, "cccc\n"},
		{"cut at the current file's start", "aaaa\n", "bbbb\ncccc\n", 10, "bbbb\ncccc\n"},
		{"one line longer than the limit", "", "xxxxxxxxxxxxxxxx", 4, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "eu.log")
			for p, body := range map[string]string{path + ".1": tc.old, path: tc.cur} {
				if body == "" {
					continue
				}
				if body == "-" {
					body = ""
				}
				if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			rc, err := openTail(path, tc.limit)
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(rc)
			if cerr := rc.Close(); err == nil {
				err = cerr
			}
			if err != nil || string(b) != tc.want {
				t.Errorf("got %q, %v; want %q", b, err, tc.want)
			}
			if int64(len(b)) > tc.limit {
				t.Errorf("%d bytes, over the limit %d", len(b), tc.limit)
			}
		})
	}
}
