package datamodel

import (
	"context"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/uspkit/uspkit/pathname"
	"github.com/uspkit/uspkit/schema"
	"github.com/uspkit/uspkit/usperr"
)

// target is one object that a path resolves to.
type target struct {
	in    *objInfo
	path  string   // "Device.Fan.2." or, for a table, "Device.Fan."
	insts []uint32 // instance numbers in path
	table bool     // path is a table, no instance chosen
}

// resolution is what a Path Name resolves to.
type resolution struct {
	targets []target
	// elem is the parameter, command ("Reset()") or event ("Boot!") name
	// for paths that do not end in '.'.
	elem string
	kind pathname.Kind
	// search is set when the path holds a wildcard, a search expression
	// or reference following: matching nothing is then not an error.
	search bool
	// missing is set when an instance number or key named no instance.
	missing bool
	// first holds the first target while there is one, so that resolving
	// a path without wildcards or searches allocates no slice of targets.
	first [1]target
}

func errInvalidPath(path, format string, args ...any) error {
	return usperr.Errorf(usperr.CodeInvalidPath, format, args...).WithPath(path)
}

// resolve parses and resolves path against the instantiated data model as
// t sees it.
func (t *txn) resolve(ctx context.Context, path string) (*resolution, error) {
	p, err := pathname.Parse(path)
	if err != nil {
		return nil, usperr.Errorf(usperr.CodeInvalidPathSyntax, "%v", err).WithPath(path)
	}
	return t.resolveParsed(ctx, path, p)
}

func (t *txn) resolveParsed(ctx context.Context, path string, p pathname.Path) (*resolution, error) {
	segs := p.Segments
	res := &resolution{kind: p.Kind}
	var root *objInfo
	for _, r := range t.e.roots {
		if r.name == segs[0].Text {
			root = r
		}
	}
	if root == nil || root.obj.Multi {
		return nil, errInvalidPath(path, "%s is not in the supported data model", segs[0].Text)
	}
	res.first[0] = target{in: root, path: root.obj.Path}
	cur := res.first[:]
	last := len(segs) - 1
	for i := 1; i <= last; i++ {
		seg := segs[i]
		switch {
		case seg.Kind == pathname.TokenName && i == last && p.Kind != pathname.KindObject:
			res.elem = seg.Text
		case seg.Kind == pathname.TokenName && i < last && segs[i+1].Kind.IsRef():
			res.search = true
			next, err := t.follow(ctx, path, cur, seg.Text, segs[i+1])
			if err != nil {
				return nil, err
			}
			cur = next
			i++
		case seg.Kind == pathname.TokenName:
			// In place: cur is this resolution's own.
			for j, tg := range cur {
				if tg.table {
					return nil, errInvalidPath(path, "%s needs an instance identifier", tg.path)
				}
				c := tg.in.child[seg.Text]
				if c == nil {
					return nil, errInvalidPath(path, "%s%s is not in the supported data model", tg.in.obj.Path, seg.Text)
				}
				cur[j] = target{in: c, path: join(path, tg.path, seg.Text), insts: tg.insts, table: c.obj.Multi}
			}
		case seg.Kind == pathname.TokenPlaceholder:
			return nil, errInvalidPath(path, "{i} is not an instance of the instantiated data model")
		case seg.Kind.IsInstance():
			next, err := t.selectInstances(ctx, path, cur, seg, res)
			if err != nil {
				return nil, err
			}
			cur = next
		default:
			return nil, errInvalidPath(path, "unexpected %s", seg.Kind)
		}
	}
	res.targets = cur
	if res.elem != "" {
		for _, tg := range cur {
			if tg.table {
				return nil, errInvalidPath(path, "%s needs an instance identifier", tg.path)
			}
			if err := checkElem(path, tg.in, res.elem, p.Kind); err != nil {
				return nil, err
			}
		}
	}
	return res, nil
}

// join returns base + name + ".": a slice of path when path starts with
// it (as it does up to the first wildcard, search or reference), without
// allocating.
func join(path, base, name string) string {
	n := len(base) + len(name)
	if len(path) > n && path[n] == '.' && path[len(base):n] == name && path[:len(base)] == base {
		return path[:n+1]
	}
	return base + name + "."
}

// joinInstance returns the path of instance n of the table at base, a
// slice of path when path starts with it.
func joinInstance(path, base string, n uint32) string {
	var b [10]byte
	num := strconv.AppendUint(b[:0], uint64(n), 10)
	end := len(base) + len(num)
	if len(path) > end && path[end] == '.' && path[len(base):end] == string(num) && path[:len(base)] == base {
		return path[:end+1]
	}
	return base + string(num) + "."
}

// checkElem checks that elem is a supported item of in.
func checkElem(path string, in *objInfo, elem string, k pathname.Kind) error {
	ok := false
	switch k {
	case pathname.KindParameter:
		_, counted := in.numEntries[elem]
		ok = in.served && in.obj.Param(elem) != nil || counted
	case pathname.KindCommand:
		elem += "()"
		ok = in.commands[elem] != nil
	case pathname.KindEvent:
		elem += "!"
		ok = in.obj.Event(elem) != nil
	}
	if !ok {
		return errInvalidPath(path, "%s%s is not in the supported data model", in.obj.Path, elem)
	}
	return nil
}

// selectInstances applies an instance number, wildcard or expression to
// table targets.
func (t *txn) selectInstances(ctx context.Context, path string, cur []target, seg pathname.Segment, res *resolution) ([]target, error) {
	var next []target
	// Unique-key addressing and search expressions share one syntax; both
	// count as searches, so that matching nothing is not an error (the
	// reading of TP-469 1.83 and 1.23).
	if seg.Kind == pathname.TokenWildcard || seg.Kind == pathname.TokenExpr {
		res.search = true
	}
	for _, tg := range cur {
		if !tg.table {
			return nil, errInvalidPath(path, "%s is not a table", tg.path)
		}
		ns, err := t.instances(ctx, tg.in, tg.path)
		if err != nil {
			return nil, err
		}
		if seg.Kind == pathname.TokenInstance {
			if _, found := slices.BinarySearch(ns, seg.Num); !found {
				res.missing = true
				continue
			}
			one := [1]uint32{seg.Num}
			ns = one[:]
		}
		matched := 0
		for _, n := range ns {
			inst := target{in: tg.in, path: joinInstance(path, tg.path, n), insts: append(slices.Clip(tg.insts), n)}
			if seg.Kind == pathname.TokenExpr {
				ok, err := t.matches(ctx, inst, seg.Terms)
				if err != nil {
					return nil, err
				}
				if !ok {
					continue
				}
			}
			matched++
			next = append(next, inst)
		}
	}
	return next, nil
}

// matches evaluates a search expression on one instance.
func (t *txn) matches(ctx context.Context, inst target, terms []pathname.Term) (bool, error) {
	for _, tm := range terms {
		p, v, ok, err := t.relValue(ctx, inst, tm.Param)
		if err != nil || !ok {
			return false, err
		}
		if !compare(p, v, tm.Op, tm.Literal()) {
			return false, nil
		}
	}
	return true, nil
}

// relValue reads the parameter at a relative path below inst, following
// references; ok is false when it does not exist or is not readable.
func (t *txn) relValue(ctx context.Context, inst target, rel string) (*schema.Param, string, bool, error) {
	if !strings.ContainsAny(rel, ".+#") {
		p := inst.in.obj.Param(rel)
		if p == nil || !inst.in.served {
			if _, counted := inst.in.numEntries[rel]; !counted {
				return nil, "", false, errInvalidPath(inst.path+rel, "%s%s is not in the supported data model", inst.in.obj.Path, rel)
			}
			p = &schema.Param{Name: rel, Type: schema.UnsignedInt()}
		}
		if !t.caller.permsOf(inst.path, rel).Has(ParamRead) {
			return nil, "", false, nil
		}
		vals, err := t.values(ctx, inst, []string{rel})
		if err != nil {
			return nil, "", false, err
		}
		return p, vals[rel], true, nil
	}
	full := inst.path + rel
	res, err := t.resolve(ctx, full)
	if err != nil {
		return nil, "", false, err
	}
	if res.kind != pathname.KindParameter || len(res.targets) != 1 {
		return nil, "", false, nil
	}
	return t.relValue(ctx, res.targets[0], res.elem)
}

// follow reads the reference parameter name of each target and resolves
// the objects it refers to.
func (t *txn) follow(ctx context.Context, path string, cur []target, name string, ref pathname.Segment) ([]target, error) {
	var next []target
	for _, tg := range cur {
		if tg.table {
			return nil, errInvalidPath(path, "%s needs an instance identifier", tg.path)
		}
		if tg.in.obj.Param(name) == nil || !tg.in.served {
			return nil, errInvalidPath(path, "%s%s is not in the supported data model", tg.in.obj.Path, name)
		}
		if !t.caller.permsOf(tg.path, name).Has(ParamRead) {
			continue
		}
		vals, err := t.values(ctx, tg, []string{name})
		if err != nil {
			return nil, err
		}
		v := vals[name]
		var refs []string
		switch ref.Kind {
		case pathname.TokenRef:
			refs = []string{v}
		case pathname.TokenListRef, pathname.TokenListRefAll:
			items := strings.Split(v, ",")
			if ref.Kind == pathname.TokenListRef {
				if int(ref.Num) > len(items) {
					continue
				}
				items = items[ref.Num-1 : ref.Num]
			}
			refs = items
		}
		for _, r := range refs {
			r = strings.TrimSpace(r)
			if r == "" {
				continue
			}
			rp, err := pathname.ParseReference(r)
			if err != nil || rp.Kind != pathname.KindObject && !strings.HasSuffix(r, ".") && !rp.Segments[len(rp.Segments)-1].Kind.IsInstance() {
				continue
			}
			if !strings.HasSuffix(r, ".") {
				r += "."
				rp.Kind = pathname.KindObject
			}
			res, err := t.resolveParsed(ctx, r, rp)
			if err != nil {
				continue // a dangling reference matches nothing
			}
			for _, x := range res.targets {
				if !x.table {
					next = append(next, x)
				}
			}
		}
	}
	return next, nil
}

// compare evaluates "actual op literal" for a parameter of type p.Type
// [R-ARC.9]: numbers and dateTimes by value, booleans by truth, strings by
// text; "~=" tests list membership.
func compare(p *schema.Param, actual string, op pathname.Op, lit string) bool {
	if op == pathname.OpContains {
		for item := range strings.SplitSeq(actual, ",") {
			if strings.TrimSpace(item) == lit {
				return true
			}
		}
		return false
	}
	c, ok := 0, true
	switch {
	case p.Type.List != nil:
		c = strings.Compare(actual, lit)
	case p.Type.Base == schema.BaseBoolean:
		a, b := actual == "true" || actual == "1", lit == "true" || lit == "1"
		if lit != "true" && lit != "false" && lit != "1" && lit != "0" {
			return false
		}
		if op != pathname.OpEq && op != pathname.OpNe {
			return false
		}
		if a != b {
			c = 1
		}
	case p.Type.Base == schema.BaseDateTime:
		a, err1 := time.Parse(time.RFC3339Nano, actual)
		b, err2 := time.Parse(time.RFC3339Nano, lit)
		if err1 != nil || err2 != nil {
			return false
		}
		c = a.Compare(b)
	case p.Type.Base == schema.BaseString || p.Type.Base == schema.BaseBase64 || p.Type.Base == schema.BaseHexBinary:
		if op != pathname.OpEq && op != pathname.OpNe {
			return false
		}
		c = strings.Compare(actual, lit)
	default:
		var a, b *big.Rat
		a, ok = new(big.Rat).SetString(actual)
		if ok {
			b, ok = new(big.Rat).SetString(lit)
		}
		if !ok {
			return false
		}
		c = a.Cmp(b)
	}
	switch op {
	case pathname.OpEq:
		return c == 0
	case pathname.OpNe:
		return c != 0
	case pathname.OpLt:
		return c < 0
	case pathname.OpGt:
		return c > 0
	case pathname.OpLe:
		return c <= 0
	case pathname.OpGe:
		return c >= 0
	}
	return false
}
