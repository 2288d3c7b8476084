package datamodel

import (
	"context"

	"github.com/uspkit/uspkit/pathname"
)

// Get reads the parameters of the objects and parameters each path names
// (TR-369 "The Get Message"). maxDepth, if not 0, limits the depth of
// the returned tree below each object path [R-GET.5]. Each path has its
// own result; a failing path does not fail the others.
func (e *Engine) Get(ctx context.Context, c Caller, paths []string, maxDepth uint32) []GetResult {
	e.mu.RLock()
	defer e.mu.RUnlock()
	t := e.read(c)
	out := make([]GetResult, 0, len(paths))
	for _, p := range paths {
		r := GetResult{Path: p}
		r.Objects, r.Err = t.get(ctx, p, maxDepth)
		if r.Err != nil {
			r.Objects = nil
		}
		out = append(out, r)
	}
	return out
}

func (t *txn) get(ctx context.Context, path string, maxDepth uint32) ([]Resolved, error) {
	res, err := t.resolve(ctx, path)
	if err != nil {
		return nil, err
	}
	if res.missing && !res.search {
		return nil, errInvalidPath(path, "%s does not exist", path)
	}
	switch res.kind {
	case pathname.KindParameter:
		var out []Resolved
		for _, tg := range res.targets {
			if !t.caller.permsOf(tg.path, res.elem).Has(ParamRead) {
				if !res.search {
					return nil, errInvalidPath(path, "%s is not in the supported data model", path) // [R-GET.1]
				}
				continue
			}
			vals, err := t.values(ctx, tg, []string{res.elem})
			if err != nil {
				return nil, err
			}
			out = append(out, Resolved{Path: tg.path, Params: vals})
		}
		return out, nil
	case pathname.KindObject:
		var out []Resolved
		for _, tg := range res.targets {
			if out, err = t.walk(ctx, tg, maxDepth, out); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	return nil, errInvalidPath(path, "a Get reads objects and parameters, not commands or events")
}

// walk appends the readable parameters of tg and, depth permitting, of
// every object below it. depth 0 is unlimited.
func (t *txn) walk(ctx context.Context, tg target, depth uint32, out []Resolved) ([]Resolved, error) {
	if tg.table {
		ns, err := t.instances(ctx, tg.in, tg.path)
		if err != nil {
			return nil, err
		}
		for _, n := range ns {
			inst := target{in: tg.in, path: tg.path + itoa(n) + ".", insts: append(tg.insts[:len(tg.insts):len(tg.insts)], n)}
			if out, err = t.walk(ctx, inst, depth, out); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	vals, err := t.values(ctx, tg, nil)
	if err != nil {
		return nil, err
	}
	if t.caller.Access != nil {
		for n := range vals {
			if !t.caller.permsOf(tg.path, n).Has(ParamRead) {
				delete(vals, n)
			}
		}
	}
	if len(vals) > 0 {
		out = append(out, Resolved{Path: tg.path, Params: vals})
	}
	if depth == 1 {
		return out, nil
	}
	next := depth
	if next > 0 {
		next--
	}
	for _, c := range tg.in.children {
		ct := target{in: c, path: tg.path + c.name + ".", insts: tg.insts, table: c.obj.Multi}
		if out, err = t.walk(ctx, ct, next, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func itoa(n uint32) string {
	var b [10]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			break
		}
	}
	return string(b[i:])
}
