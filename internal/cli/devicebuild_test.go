package cli_test

import (
	"go/build/constraint"
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// deviceForbidden are the packages the device build of cmd/usp-agent
// (build tag usp_device) must not link: SQLite has no mips port, and the
// rest is not the Agent's.
var deviceForbidden = []string{
	"github.com/uspkit/uspkit/controller",
	"github.com/uspkit/uspkit/conformance",
	"github.com/uspkit/uspkit/telemetry",
	"github.com/uspkit/uspkit/broker",
	"github.com/uspkit/uspkit/store/sqlite",
	"github.com/uspkit/uspkit/store/postgres",
	"github.com/uspkit/uspkit/sim",
	"github.com/uspkit/uspkit/webui",
	"modernc.org/sqlite",
	"net/http/pprof",
}

// TestDeviceBuildFiles checks that every file of this package the device
// build compiles (no //go:build line, or one true with usp_device) imports
// none of deviceForbidden; such a file needs //go:build !usp_device.
// (cmd/usp-agent's TestDeviceBuildLeavesOut checks the whole build.)
func TestDeviceBuildFiles(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	device := func(tag string) bool { return tag == "usp_device" || tag == "linux" || tag == "unix" }
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.ImportsOnly|parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		in := true
		for _, cg := range f.Comments {
			if cg.Pos() > f.Package {
				break
			}
			for _, c := range cg.List {
				if expr, err := constraint.Parse(c.Text); err == nil {
					in = expr.Eval(device)
				}
			}
		}
		if !in {
			continue
		}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			for _, bad := range deviceForbidden {
				if p == bad || strings.HasPrefix(p, bad+"/") {
					t.Errorf("%s imports %s but is in the device build: start it with //go:build !usp_device", name, p)
				}
			}
		}
	}
}
