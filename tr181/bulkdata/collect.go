package bulkdata

import (
	"context"
	"slices"
	"strings"

	"github.com/uspkit/uspkit/datamodel"
	"github.com/uspkit/uspkit/pathname"
	"github.com/uspkit/uspkit/schema"
)

// paramRef is one Profile.{i}.Parameter.{i} row.
type paramRef struct {
	Name      string
	Reference string
	Exclude   bool
}

// uriParam is one HTTP.RequestURIParameter.{i} row.
type uriParam struct {
	Name      string
	Reference string
}

// Identity parameters sent as URI query parameters [R-BULK.1].
const (
	pathOUI    = "Device.DeviceInfo.ManufacturerOUI"
	pathPC     = "Device.DeviceInfo.ProductClass"
	pathSerial = "Device.DeviceInfo.SerialNumber"
)

// collected is what one Get brought back: the values of a report and
// the values of the URI parameters.
type collected struct {
	values []Value
	query  [][2]string
}

// collect reads every parameter a profile needs with one Get of the
// engine, as caller (Secured values stay empty): the
// references of its Parameter rows, the excluded ones, the URI
// parameters and the device identity. A reference that fails (no such
// path, nothing matched) contributes nothing.
func collect(ctx context.Context, eng *datamodel.Engine, caller datamodel.Caller, params []paramRef, uri []uriParam, withIdentity bool) collected {
	var paths []string
	for _, p := range params {
		paths = append(paths, p.Reference)
	}
	for _, u := range uri {
		paths = append(paths, u.Reference)
	}
	if withIdentity {
		paths = append(paths, pathOUI, pathPC, pathSerial)
	}
	if len(paths) == 0 {
		return collected{}
	}
	res := eng.Get(ctx, caller, paths, 0)
	model := eng.Model()
	excluded := map[string]bool{}
	for i, p := range params {
		if p.Exclude && i < len(res) && res[i].Err == nil {
			for _, o := range res[i].Objects {
				for k := range o.Params {
					excluded[o.Path+k] = true
				}
			}
		}
	}
	var c collected
	for i, p := range params {
		if p.Exclude || i >= len(res) || res[i].Err != nil {
			continue
		}
		for _, full := range sortedPaths(res[i].Objects) {
			if excluded[full.path] {
				continue
			}
			v := Value{Name: reportName(p.Name, p.Reference, full.path), Value: full.value}
			if sp := paramOf(model, full.path); sp != nil {
				v.Type, v.List = sp.Type.Base, sp.Type.List != nil
			}
			c.values = append(c.values, v)
		}
	}
	base := len(params)
	pair := func(name string, r datamodel.GetResult) {
		if r.Err != nil {
			return
		}
		for _, full := range sortedPaths(r.Objects) {
			c.query = append(c.query, [2]string{name, full.value})
			return
		}
	}
	if withIdentity && len(res) >= base+len(uri)+3 {
		r := res[base+len(uri):]
		pair("oui", r[0])
		pair("pc", r[1])
		pair("sn", r[2])
	}
	for j, u := range uri {
		if base+j < len(res) {
			name := u.Name
			if name == "" {
				name = u.Reference
			}
			pair(name, res[base+j])
		}
	}
	return c
}

type fullValue struct{ path, value string }

// sortedPaths lists the parameters of objs in the engine's object order,
// each object's parameters by name.
func sortedPaths(objs []datamodel.Resolved) []fullValue {
	var out []fullValue
	for _, o := range objs {
		names := make([]string, 0, len(o.Params))
		for k := range o.Params {
			names = append(names, k)
		}
		slices.Sort(names)
		for _, k := range names {
			out = append(out, fullValue{o.Path + k, o.Params[k]})
		}
	}
	return out
}

// paramOf returns the supported parameter of an instantiated path.
func paramOf(m *schema.Model, path string) *schema.Param {
	pat, err := pathname.AppendPattern(nil, path)
	if err != nil {
		return nil
	}
	return m.Param(string(pat))
}

// reportName is the name of the parameter at full in a report of a
// Parameter row with the given Name and Reference [TR-369 Annex A.2.1]:
// the full path when Name is empty; else Name, then each instance
// number the wildcards of Reference matched, left to right [R-BULK.9],
// then, for an object Reference, the rest of the path below it
// [R-BULK.10], joined by ".".
func reportName(name, ref, full string) string {
	if name == "" {
		return full
	}
	rs := strings.Split(strings.TrimSuffix(ref, "."), ".")
	fs := strings.Split(full, ".")
	if len(fs) < len(rs) {
		return name
	}
	var b strings.Builder
	b.WriteString(name)
	for i, s := range rs {
		if s == "*" {
			b.WriteByte('.')
			b.WriteString(fs[i])
		}
	}
	if strings.HasSuffix(ref, ".") && len(fs) > len(rs) {
		b.WriteByte('.')
		b.WriteString(strings.Join(fs[len(rs):], "."))
	}
	return b.String()
}
