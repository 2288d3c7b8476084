//go:build linux

package cli

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

func TestExecMappings(t *testing.T) {
	maps := `00400000-00f48000 r-xp 00000000 08:01 123 /opt/usp agent
00f48000-01aba000 r--p 00b48000 08:01 123 /opt/usp agent
01aba000-01b65000 rw-p 016ba000 08:01 123 /opt/usp agent
01b65000-03bb2000 rw-p 00000000 00:00 0
7f09bf42a000-7f09bf580000 r-xp 00026000 08:01 456 /usr/lib/x86_64-linux-gnu/libc.so.6
bad line
ffff-0000 r--p 0 0 0 /opt/usp agent
`
	tests := []struct {
		file string
		want [][2]uintptr
	}{
		{"/opt/usp agent", [][2]uintptr{{0x400000, 0xf48000}, {0xf48000, 0x1aba000}}},
		{"/opt/usp", nil},
		{"/usr/lib/x86_64-linux-gnu/libc.so.6", [][2]uintptr{{0x7f09bf42a000, 0x7f09bf580000}}},
	}
	for _, tc := range tests {
		got := execMappings([]byte(maps), tc.file)
		if len(got) != len(tc.want) {
			t.Errorf("%s: %x, want %x", tc.file, got, tc.want)
			continue
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("%s: %x, want %x", tc.file, got, tc.want)
			}
		}
	}
}

// rssFile is the process's resident file-backed memory in KiB.
func rssFile(t *testing.T) int {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "RssFile:"); ok {
			n, _ := strconv.Atoi(strings.Fields(rest)[0])
			return n
		}
	}
	t.Fatal("no RssFile")
	return 0
}

// TestDropExecPages: the executable's pages leave the resident set, and
// the program goes on running from them.
func TestDropExecPages(t *testing.T) {
	before := rssFile(t)
	n, err := dropExecPages()
	if err != nil || n == 0 {
		t.Fatalf("dropExecPages: %d bytes, %v", n, err)
	}
	after := rssFile(t)
	t.Logf("RssFile %d KiB before, %d KiB after", before, after)
	if after >= before {
		t.Errorf("RssFile %d KiB after, %d KiB before", after, before)
	}
}
