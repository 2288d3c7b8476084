package datamodel

import (
	"context"
	"fmt"
	"maps"
	"strings"

	"github.com/uspkit/uspkit/pathname"
	"github.com/uspkit/uspkit/schema"
	"github.com/uspkit/uspkit/usperr"
)

// Add creates object instances (TR-369 "The Add Message"). Instance
// numbers of stored tables are never reused. Unique keys the caller does
// not give are assigned [R-ADD.5]; parameters not given take their
// defaults. With allowPartial false a failure of any object fails the
// request with a *MessageError and changes nothing.
func (e *Engine) Add(ctx context.Context, c Caller, allowPartial bool, objs []CreateObject) ([]CreatedObjectResult, error) {
	e.mu.Lock()
	var published []Change
	defer func() {
		e.mu.Unlock()
		e.publish(ctx, published)
	}()
	var out []CreatedObjectResult
	msg := e.begin(c)
	for _, co := range objs {
		targets, err := msg.addTargets(ctx, co.Path)
		if err != nil {
			if !allowPartial {
				msg.rollback(ctx)
				return nil, messageError(err, []ParamError{{Param: co.Path, Code: usperr.Code(err), Msg: usperr.Message(err)}})
			}
			out = append(out, CreatedObjectResult{RequestedPath: co.Path, Err: err})
			continue
		}
		// With allow_partial each table a search path matches succeeds or
		// fails on its own.
		for _, tg := range targets {
			t := msg
			if allowPartial {
				t = e.begin(c)
			}
			r, err := t.addOne(ctx, tg, co)
			if err == nil && allowPartial {
				if err = t.commit(ctx); err == nil {
					published = append(published, t.changes...)
				}
			}
			if err != nil {
				t.rollback(ctx)
				if !allowPartial {
					var perrs []ParamError
					for _, pe := range r.ParamErrs {
						pe.Param = tg.path + pe.Param
						perrs = append(perrs, pe)
					}
					if len(perrs) == 0 {
						perrs = []ParamError{{Param: tg.path, Code: usperr.Code(err), Msg: usperr.Message(err)}}
					}
					return nil, messageError(err, perrs)
				}
				r = CreatedObjectResult{RequestedPath: co.Path, Err: err}
			}
			out = append(out, r)
		}
	}
	if !allowPartial {
		if err := msg.commit(ctx); err != nil {
			return nil, messageError(err, nil)
		}
		published = msg.changes
	}
	return out, nil
}

// addTargets resolves the tables an Add path names. The path must be an
// Object Path, ending in '.' (TR-369 "Path Names"): one without it names
// no object and fails with 7026 Invalid Path.
func (t *txn) addTargets(ctx context.Context, path string) ([]target, error) {
	res, err := t.resolve(ctx, path)
	if err != nil {
		return nil, err
	}
	if res.kind != pathname.KindObject {
		return nil, errInvalidPath(path, "%s is not an object path (an object path ends in '.')", path)
	}
	for _, tg := range res.targets {
		if !tg.table {
			if tg.in.obj.Multi {
				return nil, errInvalidPath(path, "%s is an object instance; Add takes the table path", tg.path)
			}
			return nil, usperr.Errorf(usperr.CodeNotATable, "%s is not a table", tg.path)
		}
	}
	return res.targets, nil
}

func (t *txn) addOne(ctx context.Context, tg target, co CreateObject) (CreatedObjectResult, error) {
	in := tg.in
	r := CreatedObjectResult{RequestedPath: co.Path}
	if !in.obj.Access.CanAdd() || !in.served {
		return r, usperr.Errorf(usperr.CodeObjectNotCreatable, "%s does not allow Add", in.obj.Path)
	}
	if !t.caller.perms(tg.path).Has(ObjWrite) {
		return r, usperr.Errorf(usperr.CodePermissionDenied, "no permission to add to %s", tg.path)
	}
	ns, err := t.instances(ctx, in, tg.path)
	if err != nil {
		return r, err
	}
	limit := int(in.obj.MaxEntries)
	if limit == 0 && in.stored {
		limit = t.e.opt.MaxInstances
	}
	if limit > 0 && len(ns) >= limit {
		return r, usperr.Errorf(usperr.CodeResourcesExceeded, "%s already has %d entries", tg.path, len(ns))
	}
	// Validate against the instance to be (for a provided table, whose
	// next number only the handler knows, a stand-in).
	next := uint32(1<<32 - 1)
	if in.stored {
		next = t.counter(tg.path) + 1
	}
	probe := target{in: in, path: tg.path + itoa(next) + ".", insts: append(tg.insts[:len(tg.insts):len(tg.insts)], next)}
	groups, perrs, reqErr := t.checkSettings(probe, co.Params, true)
	r.ParamErrs = perrs
	if reqErr != nil {
		return r, usperr.Errorf(codeOr(reqErr, usperr.CodeObjectNotCreated), "%s", usperr.Message(reqErr))
	}
	var own map[string]string
	for _, g := range groups {
		if g.prefix == "" {
			own = g.values
		}
	}
	var n uint32
	if in.stored {
		n = t.counter(tg.path) + 1
		if n == 0 {
			return r, usperr.Errorf(usperr.CodeResourcesExceeded, "%s has used every instance number", tg.path)
		}
		path := tg.path + itoa(n) + "."
		params := t.createStored(in, path, own)
		t.assignKeys(in, tg.path, n, params, own)
		if err := t.checkStored(ctx, in, OpAdd, path, params); err != nil {
			return r, err
		}
		t.addInstance(tg.path, n)
		t.touch(tg.path, in)
		t.changes = append(t.changes, Change{Op: OpAdd, Path: path, Object: in.obj, Params: maps.Clone(params), Caller: t.caller})
	} else {
		vals := map[string]string{}
		for _, p := range in.obj.Params {
			if p.Access != schema.ReadOnly {
				vals[p.Name] = defaultValue(p)
			}
		}
		maps.Copy(vals, own)
		rec, err := t.call(ctx, in.h, &Request{Op: OpAdd, Path: tg.path, Object: in.obj, Instances: tg.insts, Values: vals})
		if err != nil {
			return r, usperr.Errorf(codeOr(err, usperr.CodeObjectNotCreated), "%s", usperr.Message(err))
		}
		if len(rec.insts) != 1 || rec.insts[0] == 0 {
			return r, usperr.Errorf(usperr.CodeInternal, "handler for %s reported no instance number", tg.path)
		}
		n = rec.insts[0]
		path := tg.path + itoa(n) + "."
		delete(t.lists, tg.path)
		t.onRollback(func(ctx context.Context) {
			if _, err := t.call(ctx, in.h, &Request{Op: OpDelete, Path: path, Object: in.obj, Instances: append(tg.insts[:len(tg.insts):len(tg.insts)], n)}); err != nil {
				t.e.log.ErrorContext(ctx, "datamodel: undoing an add failed", "path", path, "err", err)
			}
			delete(t.lists, tg.path)
		})
		t.changes = append(t.changes, Change{Op: OpAdd, Path: path, Object: in.obj, Params: vals, Caller: t.caller})
	}
	inst := target{in: in, path: tg.path + itoa(n) + ".", insts: append(tg.insts[:len(tg.insts):len(tg.insts)], n)}
	r.Path = inst.path
	for _, g := range groups {
		if g.prefix == "" {
			continue
		}
		g.tg.path = inst.path + g.prefix
		g.tg.insts = inst.insts
		if err := t.apply(ctx, g); err != nil {
			return r, err
		}
	}
	keys, err := t.uniqueKeys(ctx, inst)
	if err != nil {
		return r, err
	}
	r.UniqueKeys = keys
	return r, nil
}

// assignKeys gives a new stored row values for the unique-key parameters
// the caller did not set, unique within the table [R-ADD.5]: "cpe-N" for
// strings, as TR-181 suggests for Alias.
func (t *txn) assignKeys(in *objInfo, table string, n uint32, params, given map[string]string) {
	for _, k := range in.obj.UniqueKeys {
		for _, kp := range k.Params {
			if _, ok := given[kp]; ok {
				continue
			}
			p := in.obj.Param(kp)
			if p == nil || p.Type.Base != schema.BaseString || p.Type.List != nil || len(p.Type.Enums) > 0 {
				continue
			}
			if params[kp] != "" && !t.valueTaken(in, table, kp, params[kp]) {
				continue
			}
			v := fmt.Sprintf("cpe-%d", n)
			for i := 2; t.valueTaken(in, table, kp, v); i++ {
				v = fmt.Sprintf("cpe-%d-%d", n, i)
			}
			params[kp] = v
		}
	}
}

// uniqueKeys returns the readable unique-key parameters of an instance.
func (t *txn) uniqueKeys(ctx context.Context, inst target) (map[string]string, error) {
	var names []string
	for _, k := range inst.in.obj.UniqueKeys {
		for _, kp := range k.Params {
			if !strings.Contains(kp, ".") && t.caller.perms(inst.path+kp).Has(ParamRead) {
				names = append(names, kp)
			}
		}
	}
	if len(names) == 0 {
		return map[string]string{}, nil
	}
	return t.values(ctx, inst, names)
}
