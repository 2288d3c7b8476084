package archtest_test

import (
	"bufio"
	"bytes"
	"os/exec"
	"path"
	"strings"
	"testing"
)

const module = "github.com/uspkit/uspkit"

// mtps are the concrete transports.
var mtps = []string{"mtp/ws", "mtp/mqtt", "mtp/stomp", "mtp/uds"}

// storeDrivers are the database drivers and their packages.
var storeDrivers = []string{"store/sqlite", "store/postgres", "store/bolt", "store/journal", "modernc.org/sqlite", "github.com/jackc/pgx", "go.etcd.io/bbolt"}

// rule says which imports a package may not have. Forbidden entries are
// module-relative paths ("agent"), "*" for every uspkit package, or a
// third-party import path prefix (one with a dot in its first element).
// A package path ending in "/*" applies to every package below it.
type rule struct {
	pkg       string
	forbidden []string
	allowed   []string // exceptions to "*"
	direct    bool     // check the package's own imports, not all its dependencies
}

// rules is the "must not import" column of docs/ARCHITECTURE.md.
func rules() []rule {
	all := func(xs ...[]string) []string {
		var out []string
		for _, x := range xs {
			out = append(out, x...)
		}
		return out
	}
	upper := []string{"agent", "controller", "datamodel", "conformance", "sim", "controller/api", "webui", "internal/cli"}
	return []rule{
		{pkg: "wire", forbidden: []string{"*"}},
		{pkg: "usperr", forbidden: []string{"*"}, allowed: []string{"wire"}},
		{pkg: "pathname", forbidden: []string{"*"}},
		{pkg: "endpoint", forbidden: []string{"*"}},
		{pkg: "internal/netlimit", forbidden: []string{"*"}},
		{pkg: "internal/download", forbidden: []string{"*"}},
		{pkg: "pki", forbidden: []string{"*"}, allowed: []string{"endpoint"}},
		{pkg: "schema", forbidden: []string{"wire", "datamodel", "agent", "controller"}},
		{pkg: "record", forbidden: []string{"mtp", "datamodel", "agent", "controller"}},
		{pkg: "e2e", forbidden: []string{"mtp", "datamodel", "agent", "controller"}},
		{pkg: "mtp", forbidden: all([]string{"wire", "record", "e2e", "store", "broker"}, mtps, upper)},
		{pkg: "store", forbidden: all([]string{"agent", "controller"}, storeDrivers)},
		{pkg: "mtp/ws", forbidden: all([]string{"wire", "record", "mtp/mqtt", "mtp/stomp", "mtp/uds"}, upper)},
		{pkg: "mtp/mqtt", forbidden: all([]string{"wire", "record", "mtp/ws", "mtp/stomp", "mtp/uds"}, upper)},
		{pkg: "mtp/stomp", forbidden: all([]string{"wire", "record", "mtp/ws", "mtp/mqtt", "mtp/uds"}, upper)},
		{pkg: "mtp/uds", forbidden: all([]string{"wire", "record", "mtp/ws", "mtp/mqtt", "mtp/stomp"}, upper)},
		{pkg: "mtp/mtptest", forbidden: all(mtps, upper)},
		{pkg: "broker", forbidden: []string{"agent", "controller", "wire"}},
		{pkg: "discovery", forbidden: all([]string{"wire", "record", "mtp", "datamodel"}, mtps, upper)},
		{pkg: "datamodel", forbidden: []string{"wire", "record", "mtp", "agent", "controller"}},
		{pkg: "store/seal", forbidden: all([]string{"agent", "controller", "schema", "datamodel"}, storeDrivers)},
		{pkg: "store/sqlite", forbidden: []string{"agent", "controller", "store/postgres", "github.com/jackc/pgx"}},
		{pkg: "store/postgres", forbidden: []string{"agent", "controller", "store/sqlite", "modernc.org/sqlite"}},
		{pkg: "store/journal", forbidden: all([]string{"agent", "controller", "schema", "datamodel"}, storeDrivers)},
		{pkg: "store/bolt", forbidden: []string{"agent", "controller", "store/sqlite", "store/postgres", "modernc.org/sqlite", "github.com/jackc/pgx"}},
		{pkg: "tr181/*", forbidden: []string{"agent", "wire", "mtp", "controller"}},
		{pkg: "telemetry", forbidden: all([]string{"agent", "controller", "datamodel", "tr181/*", "wire", "mtp", "store"}, mtps)},
		{pkg: "agent", forbidden: all(mtps, []string{"tr181/*", "controller"}, storeDrivers)},
		{pkg: "controller", forbidden: all([]string{"agent", "datamodel"}, mtps, storeDrivers)},
		// The API reaches transports and storage only through the
		// controller's methods: checked on its own imports, since the
		// controller it uses imports them.
		{pkg: "controller/api", forbidden: []string{"store", "mtp", "record", "e2e"}, direct: true},
		{pkg: "controller/filestore", forbidden: []string{"*"}},
		{pkg: "webui", forbidden: []string{"*"}},
		{pkg: "conformance", forbidden: []string{"agent", "datamodel", "controller"}},
		{pkg: "sim", forbidden: []string{"controller"}},
		{pkg: "service", forbidden: all([]string{"controller", "tr181/*", "mtp/ws", "mtp/mqtt", "mtp/stomp"}, storeDrivers)},
	}
}

// deps lists every package of the module with its transitive imports, as
// module-relative paths where they are the module's own.
func deps(t *testing.T) map[string][]string { return list(t, "Deps") }

// imports lists every package of the module with its direct imports.
func imports(t *testing.T) map[string][]string { return list(t, "Imports") }

func list(t *testing.T, field string) map[string][]string {
	t.Helper()
	cmd := exec.Command("go", "list", "-f", `{{.ImportPath}}{{range .`+field+`}} {{.}}{{end}}`, module+"/...")
	cmd.Dir = "../.."
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.Bytes())
	}
	m := map[string][]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		m[rel(f[0])] = mapRel(f[1:])
	}
	return m
}

func rel(p string) string {
	if p == module {
		return "."
	}
	if r, ok := strings.CutPrefix(p, module+"/"); ok {
		return r
	}
	return p
}

func mapRel(ps []string) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = rel(p)
	}
	return out
}

func matches(pattern, p string) bool {
	if base, ok := strings.CutSuffix(pattern, "/*"); ok {
		return strings.HasPrefix(p, base+"/")
	}
	if strings.Contains(strings.SplitN(pattern, "/", 2)[0], ".") {
		return p == pattern || strings.HasPrefix(p, pattern+"/")
	}
	return p == pattern
}

func TestLayers(t *testing.T) {
	pkgs, direct := deps(t), imports(t)
	checked := 0
	for _, r := range rules() {
		src := pkgs
		if r.direct {
			src = direct
		}
		for pkg, ds := range src {
			if !matches(r.pkg, pkg) {
				continue
			}
			checked++
			for _, d := range ds {
				if violates(r, pkgs, pkg, d) {
					t.Errorf("%s must not import %s (docs/ARCHITECTURE.md)", pkg, d)
				}
			}
		}
	}
	if checked == 0 {
		t.Fatal("no package matched any rule")
	}
}

func violates(r rule, pkgs map[string][]string, pkg, dep string) bool {
	_, isOurs := pkgs[dep]
	isOurs = isOurs && dep != pkg && !strings.HasPrefix(dep, pkg+"/internal/")
	for _, f := range r.forbidden {
		if f == "*" {
			if isOurs && !contains(r.allowed, dep) {
				return true
			}
			continue
		}
		if matches(f, dep) {
			return true
		}
	}
	return false
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// TestTestenvOnlyInTests checks that internal/testenv is never a dependency
// of non-test code.
func TestTestenvOnlyInTests(t *testing.T) {
	for pkg, ds := range deps(t) {
		if path.Base(pkg) == "testenv" {
			continue
		}
		if contains(ds, "internal/testenv") {
			t.Errorf("%s imports internal/testenv outside its tests", pkg)
		}
	}
}

// TestRulesMatchSomething guards the table against typos: every rule names a
// package of the architecture, and the packages that exist are checked.
func TestRulesMatchSomething(t *testing.T) {
	pkgs := deps(t)
	for _, must := range []string{"wire", "record"} {
		found := false
		for _, r := range rules() {
			if r.pkg == must {
				found = true
			}
		}
		if _, ok := pkgs[must]; !ok || !found {
			t.Errorf("package %s missing from the module or the rules", must)
		}
	}
}
