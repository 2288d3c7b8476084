package cli

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"strings"
)

// Pages of the executable: the kernel reads the program's code and
// constants ahead in large blocks as they are first touched at start, and
// those clean file pages stay mapped, counted in the process's VmRSS
// (RssFile), long after start-up: most of an idle usp agent's resident
// memory. When the Agent is idle, dropExecPages unmaps them; the pages it
// still uses come back from the page cache (a minor fault each) when next
// touched, so VmRSS shows the working set. Nothing is lost: the pages are
// read-only copies of the file.

// execMappings returns the start and end addresses of the read-only
// mappings of file in maps (the text of /proc/self/maps).
func execMappings(maps []byte, file string) [][2]uintptr {
	var out [][2]uintptr
	sc := bufio.NewScanner(bytes.NewReader(maps))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 6 || strings.Join(f[5:], " ") != file || len(f[1]) < 2 || f[1][1] == 'w' {
			continue
		}
		lo, hi, ok := strings.Cut(f[0], "-")
		if !ok {
			continue
		}
		a, err1 := strconv.ParseUint(lo, 16, 64)
		b, err2 := strconv.ParseUint(hi, 16, 64)
		if err1 != nil || err2 != nil || b <= a {
			continue
		}
		out = append(out, [2]uintptr{uintptr(a), uintptr(b)})
	}
	return out
}

// dropExecPages unmaps the pages of the executable's read-only mappings
// and reports how many bytes of mappings it advised.
func dropExecPages() (uintptr, error) {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return 0, err
	}
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return 0, err
	}
	var n uintptr
	for _, m := range execMappings(maps, exe) {
		if err := dontNeed(m[0], m[1]-m[0]); err != nil {
			return n, err
		}
		n += m[1] - m[0]
	}
	return n, nil
}
