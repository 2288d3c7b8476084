package datamodel

import (
	"context"

	"github.com/uspkit/uspkit/pathname"
)

// Instances lists the instances of the tables each path names, with their
// unique keys (TR-369 "The GetInstances Message"). With firstLevelOnly
// false the instances of every table below them are listed too. A path to
// an object instance lists that instance; a path to a single-instance
// object lists the tables below it.
func (e *Engine) Instances(ctx context.Context, c Caller, paths []string, firstLevelOnly bool) []InstancesResult {
	e.mu.RLock()
	defer e.mu.RUnlock()
	t := e.read(c)
	out := make([]InstancesResult, 0, len(paths))
	for _, p := range paths {
		r := InstancesResult{Path: p}
		res, err := t.resolve(ctx, p)
		if err == nil && res.kind != pathname.KindObject {
			err = errInvalidPath(p, "%s is not an object path", p)
		}
		if err == nil && res.missing && !res.search {
			err = errInvalidPath(p, "%s does not exist", p)
		}
		for i := 0; err == nil && i < len(res.targets); i++ {
			tg := res.targets[i]
			switch {
			case tg.table:
				r.Instances, err = t.listTable(ctx, tg, firstLevelOnly, r.Instances)
			case tg.in.obj.Multi:
				r.Instances, err = t.listInstance(ctx, tg, firstLevelOnly, r.Instances)
			default:
				r.Instances, err = t.listBelow(ctx, tg, firstLevelOnly, r.Instances)
			}
		}
		if err != nil {
			r.Err, r.Instances = err, nil
		}
		out = append(out, r)
	}
	return out
}

func (t *txn) listTable(ctx context.Context, tg target, firstLevel bool, out []Instance) ([]Instance, error) {
	if !t.caller.perms(tg.path).Has(InstRead) {
		return out, nil // [R-GIN.0]
	}
	ns, err := t.instances(ctx, tg.in, tg.path)
	if err != nil {
		return nil, err
	}
	for _, n := range ns {
		inst := target{in: tg.in, path: tg.path + itoa(n) + ".", insts: append(tg.insts[:len(tg.insts):len(tg.insts)], n)}
		if out, err = t.listInstance(ctx, inst, firstLevel, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (t *txn) listInstance(ctx context.Context, inst target, firstLevel bool, out []Instance) ([]Instance, error) {
	if !t.caller.perms(inst.path).Has(InstRead) {
		return out, nil
	}
	keys, err := t.uniqueKeys(ctx, inst)
	if err != nil {
		return nil, err
	}
	out = append(out, Instance{Path: inst.path, UniqueKeys: keys})
	if firstLevel {
		return out, nil
	}
	return t.listBelow(ctx, inst, false, out)
}

// listBelow lists the instances of the tables below tg: only the nearest
// ones with firstLevel.
func (t *txn) listBelow(ctx context.Context, tg target, firstLevel bool, out []Instance) ([]Instance, error) {
	var err error
	for _, c := range tg.in.children {
		ct := target{in: c, path: tg.path + c.name + ".", insts: tg.insts, table: c.obj.Multi}
		if ct.table {
			out, err = t.listTable(ctx, ct, firstLevel, out)
		} else {
			out, err = t.listBelow(ctx, ct, firstLevel, out)
		}
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}
