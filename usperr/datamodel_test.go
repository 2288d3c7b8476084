package usperr_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/uspkit/uspkit/usperr"
)

// sharedFile finds name in a shared/datamodel directory beside the
// repository, or skips the test.
func sharedFile(t *testing.T, name string) string {
	t.Helper()
	dir, _ := filepath.Abs(".")
	for range 8 {
		for _, p := range []string{filepath.Join(dir, "shared", "datamodel", name), filepath.Join(dir, "..", "shared", "datamodel", name)} {
			if _, err := os.Stat(p); err == nil {
				return p
			}
		}
		dir = filepath.Dir(dir)
	}
	t.Skipf("SKIP: %s not found in a shared/datamodel directory beside the repository", name)
	return ""
}

// faultRe matches "7033 (Server Unreachable)" in description text, where the
// name may wrap onto the next line.
var faultRe = regexp.MustCompile(`\b(70[3-9][0-9]|72[0-9]{2}) \(([A-Z][A-Za-z \n]+?)\)`)

// TestDataModelCodes checks the 7032-7036 and 72xx messages against the
// fault-code names TR-181 2.16 gives for them (TR-369 1.3 "Error Codes":
// 7200-7299 are described in the data model), and 7230 against TR-369 1.3
// "Software Module Management" when a copy of the spec is at hand.
func TestDataModelCodes(t *testing.T) {
	b, err := os.ReadFile(sharedFile(t, "tr-181-2-16-0-usp-full.xml"))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[uint32]bool{}
	check := func(where string, text []byte) {
		for _, m := range faultRe.FindAllSubmatch(text, -1) {
			code, _ := strconv.Atoi(string(m[1]))
			name := strings.Join(strings.Fields(string(m[2])), " ")
			seen[uint32(code)] = true
			if dataModelCodes[uint32(code)] != name {
				t.Errorf("%s names %d %q, test table has %q", where, code, name, dataModelCodes[uint32(code)])
			}
			if usperr.DefaultMessage(uint32(code)) != name {
				t.Errorf("%d: DefaultMessage %q, %s says %q", code, usperr.DefaultMessage(uint32(code)), where, name)
			}
		}
	}
	check("TR-181 2.16", b)
	if smm, err := os.ReadFile("/tmp/spec/v1.3.0/specification/extensions/software-module-management/index.md"); err == nil {
		check("TR-369 1.3", smm)
	} else {
		seen[7230] = true // only TR-369's text names it
	}
	for code := range dataModelCodes {
		if !seen[code] {
			t.Errorf("%d is in the test table but no source text names it", code)
		}
	}
}
