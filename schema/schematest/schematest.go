// Package schematest helps tests check a supported data model against
// BBF's published one: Diff lists every difference in names, types,
// access, unique keys, defaults, commands and events, and LoadTR181 finds
// and loads the TR-181 document when it is present beside the repository.
package schematest

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/uspkit/uspkit/schema"
)

// Diff returns a line for every item of m that is absent from ref or
// defined differently there. Items of ref that m leaves out are not
// differences: m is the subset an implementation supports.
func Diff(m, ref *schema.Model) []string {
	var out []string
	bad := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	for _, o := range m.Objects() {
		r := ref.Object(o.Path)
		if r == nil {
			bad("%s: not in the reference model", o.Path)
			continue
		}
		if o.Multi != r.Multi || o.Access != r.Access {
			bad("%s: multi %v access %d, reference multi %v access %d", o.Path, o.Multi, o.Access, r.Multi, r.Access)
		}
		if a, b := keysText(o.UniqueKeys), keysText(r.UniqueKeys); a != b {
			bad("%s: unique keys %s, reference %s", o.Path, a, b)
		}
		if o.NumEntriesParam != r.NumEntriesParam || o.EnableParam != r.EnableParam {
			bad("%s: entries %q enable %q, reference %q %q", o.Path, o.NumEntriesParam, o.EnableParam, r.NumEntriesParam, r.EnableParam)
		}
		for _, p := range o.Params {
			rp := r.Param(p.Name)
			if rp == nil {
				bad("%s%s: not in the reference model", o.Path, p.Name)
				continue
			}
			out = append(out, diffParam(o.Path+p.Name, p, rp)...)
		}
		for _, c := range o.Commands {
			rc := r.Command(c.Name)
			if rc == nil {
				bad("%s%s: not in the reference model", o.Path, c.Name)
				continue
			}
			if c.Async != rc.Async {
				bad("%s%s: async %v, reference %v", o.Path, c.Name, c.Async, rc.Async)
			}
			out = append(out, diffArgs(o.Path+c.Name+" input", c.Input, rc.Input)...)
			out = append(out, diffArgs(o.Path+c.Name+" output", c.Output, rc.Output)...)
		}
		for _, e := range o.Events {
			re := r.Event(e.Name)
			if re == nil {
				bad("%s%s: not in the reference model", o.Path, e.Name)
				continue
			}
			out = append(out, diffArgs(o.Path+e.Name, e.Args, re.Args)...)
		}
	}
	return out
}

func keysText(ks []schema.UniqueKey) string {
	var parts []string
	for _, k := range ks {
		parts = append(parts, fmt.Sprintf("%v%v", k.Functional, k.Params))
	}
	slices.Sort(parts)
	return strings.Join(parts, " ")
}

func diffParam(path string, p, r *schema.Param) []string {
	var out []string
	if p.Type.Base != r.Type.Base || p.Type.Name != r.Type.Name || (p.Type.List == nil) != (r.Type.List == nil) {
		out = append(out, fmt.Sprintf("%s: type %s %q list %v, reference %s %q list %v", path, p.Type.Base, p.Type.Name, p.Type.List != nil,
			r.Type.Base, r.Type.Name, r.Type.List != nil))
	}
	if !slices.Equal(p.Type.Enums, r.Type.Enums) {
		out = append(out, fmt.Sprintf("%s: enumeration %v, reference %v", path, p.Type.Enums, r.Type.Enums))
	}
	if p.Access != r.Access || p.WriteOnce != r.WriteOnce {
		out = append(out, fmt.Sprintf("%s: access %d, reference %d", path, p.Access, r.Access))
	}
	if p.HasDefault != r.HasDefault || p.Default != r.Default {
		out = append(out, fmt.Sprintf("%s: default %q (%v), reference %q (%v)", path, p.Default, p.HasDefault, r.Default, r.HasDefault))
	}
	if p.Secured != r.Secured || p.Mandatory != r.Mandatory {
		out = append(out, fmt.Sprintf("%s: secured/mandatory %v/%v, reference %v/%v", path, p.Secured, p.Mandatory, r.Secured, r.Mandatory))
	}
	return out
}

func diffArgs(where string, a, r []*schema.Param) []string {
	var out []string
	for _, p := range a {
		i := slices.IndexFunc(r, func(x *schema.Param) bool { return x.Name == p.Name })
		if i < 0 {
			out = append(out, fmt.Sprintf("%s: argument %s not in the reference model", where, p.Name))
			continue
		}
		out = append(out, diffParam(where+" "+p.Name, p, r[i])...)
	}
	return out
}

// SharedFile returns the path of a file of the shared data-model directory
// beside the repository ("../shared/datamodel/NAME" from any package), or
// skips the test, naming the file.
func SharedFile(t testing.TB, name string) string {
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

// LoadTR181 loads TR-181 Device:2.16 for USP, or skips the test when the
// document is absent.
func LoadTR181(t testing.TB) *schema.Model {
	t.Helper()
	f, err := os.Open(SharedFile(t, "tr-181-2-16-0-usp-full.xml"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := schema.LoadXML(f, nil)
	if err != nil {
		t.Fatal(err)
	}
	return m
}
