package datamodel

import (
	"context"
	"maps"
	"slices"
	"strings"

	"github.com/uspkit/uspkit/pathname"
	"github.com/uspkit/uspkit/schema"
	"github.com/uspkit/uspkit/usperr"
)

// Set updates parameters (TR-369 "The Set Message"). With allowPartial
// false the whole request is all-or-nothing and a failure returns a
// *MessageError; with allowPartial true each UpdateObject succeeds or fails
// on its own. A search path is always all-or-nothing within its
// UpdateObject [R-SET.2a].
func (e *Engine) Set(ctx context.Context, c Caller, allowPartial bool, objs []UpdateObject) ([]UpdatedObjectResult, error) {
	e.mu.Lock()
	var published []Change
	defer func() {
		e.mu.Unlock()
		e.publish(ctx, published)
	}()
	out := make([]UpdatedObjectResult, 0, len(objs))
	msg := e.begin(c)
	for _, uo := range objs {
		t := msg
		if allowPartial {
			t = e.begin(c)
		}
		r := t.set(ctx, uo)
		if r.Err != nil {
			t.rollback(ctx)
			if !allowPartial {
				return nil, setMessageError(r)
			}
		} else if allowPartial {
			if err := t.commit(ctx); err != nil {
				r = UpdatedObjectResult{RequestedPath: uo.Path, Err: err}
			} else {
				published = append(published, t.changes...)
			}
		}
		out = append(out, r)
	}
	if !allowPartial {
		if err := msg.commit(ctx); err != nil {
			return nil, messageError(err, nil)
		}
		published = msg.changes
	}
	return out, nil
}

// setMessageError is the Error message of a failed Set: the object's code
// and every failed parameter with its full path.
func setMessageError(r UpdatedObjectResult) *MessageError {
	me := messageError(r.Err, nil)
	if len(r.Failures) == 0 {
		me.ParamErrs = []ParamError{{Param: r.RequestedPath, Code: me.Code, Msg: me.Msg}}
	}
	for _, f := range r.Failures {
		for _, pe := range f.ParamErrs {
			pe.Param = f.Path + pe.Param
			me.ParamErrs = append(me.ParamErrs, pe)
		}
	}
	return me
}

func (t *txn) set(ctx context.Context, uo UpdateObject) UpdatedObjectResult {
	r := UpdatedObjectResult{RequestedPath: uo.Path}
	res, err := t.resolve(ctx, uo.Path)
	if err == nil && res.kind != pathname.KindObject {
		err = errInvalidPath(uo.Path, "%s is not an object path", uo.Path)
	}
	if err == nil && res.missing && !res.search {
		err = usperr.Errorf(usperr.CodeObjectNotFound, "%s does not exist", uo.Path)
	}
	if err != nil {
		r.Err = err
		return r
	}
	for _, tg := range res.targets {
		if tg.table {
			r.Err = errInvalidPath(uo.Path, "%s is a table, not an object instance", tg.path)
			return r
		}
		upd, perrs, err := t.setOne(ctx, tg, uo.Params)
		if err != nil {
			r.Err = err
			r.Failures = append(r.Failures, InstanceFailure{Path: tg.path, ParamErrs: perrs})
			r.Updated = nil
			return r
		}
		r.Updated = append(r.Updated, UpdatedInstance{Path: tg.path, Params: upd, ParamErrs: perrs})
	}
	return r
}

// change is the part of a Set or Add that lands on one object: the target
// object (the instance itself or a single-instance sub-object) and values
// keyed by parameter name.
type change struct {
	tg     target
	prefix string // relative path of the sub-object, "" for the instance
	values map[string]string
}

// setOne updates one object instance. upd holds the parameters set and
// their values, relative to tg; perrs the parameters that failed. err is
// set when a required parameter failed or the update could not be made.
func (t *txn) setOne(ctx context.Context, tg target, settings []ParamSetting) (upd map[string]string, perrs []ParamError, err error) {
	groups, perrs, reqErr := t.checkSettings(tg, settings, false)
	if reqErr != nil {
		return nil, perrs, reqErr
	}
	upd = map[string]string{}
	for _, g := range groups {
		if err := t.apply(ctx, g); err != nil {
			return nil, perrs, err
		}
		for n, v := range g.values {
			if t.caller.permsOf(g.tg.path, n).Has(ParamRead) {
				if p := g.tg.in.obj.Param(n); p != nil && p.Secured {
					v = ""
				}
				upd[g.prefix+n] = v
			}
		}
	}
	return upd, perrs, nil
}

// checkSettings validates settings on tg and groups the good ones by
// object. A failed required parameter (or, for add, a unique key) makes
// reqErr the parameter's error.
func (t *txn) checkSettings(tg target, settings []ParamSetting, add bool) (groups []*change, perrs []ParamError, reqErr error) {
	byPrefix := map[string]*change{}
	for _, s := range settings {
		g, name, err := t.settingTarget(tg, s.Param, byPrefix, &groups)
		if err == nil {
			err = t.checkValue(g.tg, name, s.Value, add)
		}
		if err != nil {
			perrs = append(perrs, paramErr(s.Param, err))
			if s.Required || add && g != nil && g.prefix == "" && g.tg.in.obj.IsKey(name) {
				if reqErr == nil {
					reqErr = err
				}
			}
			continue
		}
		g.values[name] = s.Value
	}
	return groups, perrs, reqErr
}

// settingTarget finds the object a relative parameter path lands on: tg
// itself or one of its single-instance sub-objects.
func (t *txn) settingTarget(tg target, rel string, byPrefix map[string]*change, groups *[]*change) (*change, string, error) {
	prefix, name := "", rel
	if i := strings.LastIndexByte(rel, '.'); i >= 0 {
		prefix, name = rel[:i+1], rel[i+1:]
	}
	g := byPrefix[prefix]
	if g == nil {
		sub := tg
		for part := range strings.SplitSeq(strings.TrimSuffix(prefix, "."), ".") {
			if part == "" {
				continue
			}
			c := sub.in.child[part]
			if c == nil || c.obj.Multi {
				return nil, name, usperr.Errorf(usperr.CodeUnsupportedParam, "%s%s is not a parameter of %s", tg.path, rel, tg.in.obj.Path)
			}
			sub = target{in: c, path: sub.path + part + ".", insts: sub.insts}
		}
		g = &change{tg: sub, prefix: prefix, values: map[string]string{}}
		byPrefix[prefix] = g
		*groups = append(*groups, g)
	}
	return g, name, nil
}

// checkValue checks that the caller may set name on tg to v.
func (t *txn) checkValue(tg target, name, v string, add bool) error {
	in := tg.in
	p := in.obj.Param(name)
	if p == nil || !in.served {
		return usperr.Errorf(usperr.CodeUnsupportedParam, "%s%s is not supported", tg.path, name)
	}
	if p.Access == schema.ReadOnly {
		return usperr.Errorf(usperr.CodeParamReadOnly, "%s%s is read-only", tg.path, name)
	}
	if !t.caller.permsOf(tg.path, name).Has(ParamWrite) {
		return usperr.Errorf(usperr.CodePermissionDenied, "no write permission on %s%s", tg.path, name)
	}
	if err := p.Type.Validate(v); err != nil {
		return usperr.Errorf(usperr.Code(err), "%s%s: %v", tg.path, name, err)
	}
	if !add && in.stored && isNonFunctionalKey(in, name) {
		if cur := t.storedParams(tg.path); cur != nil && cur[name] != v {
			return usperr.Errorf(usperr.CodeParamReadOnly, "%s%s is a non-functional unique key and cannot change [R-KEY.1]", tg.path, name)
		}
	}
	return nil
}

// isNonFunctionalKey reports whether name is part of a non-functional
// unique key of in's object, such as Alias.
func isNonFunctionalKey(in *objInfo, name string) bool {
	for _, k := range in.obj.UniqueKeys {
		if !k.Functional && slices.Contains(k.Params, name) {
			return true
		}
	}
	return false
}

// apply writes the values of g: to the stored object, or through the
// provided object's handler (after a check-only call) with an undo.
func (t *txn) apply(ctx context.Context, g *change) error {
	if len(g.values) == 0 {
		return nil
	}
	in := g.tg.in
	if in.stored {
		old := t.storedParams(g.tg.path)
		if old == nil {
			return usperr.Errorf(usperr.CodeObjectNotFound, "%s does not exist", g.tg.path)
		}
		next := maps.Clone(old)
		changed := map[string]string{}
		missing := false // a value the stored row lacks is written even if empty
		for n, v := range g.values {
			cur, ok := next[n]
			if cur != v {
				changed[n] = v
			}
			missing = missing || !ok
			next[n] = v
		}
		if err := t.checkStored(ctx, in, OpSet, g.tg.path, next); err != nil {
			return err
		}
		for n, v := range next {
			if old[n] != v {
				changed[n] = v
			}
		}
		if len(changed) == 0 && !missing {
			// Every value is the one the object has: nothing to store (a
			// SendOnBoardRequest() setting OnBoardingComplete to false
			// again costs no write).
			return nil
		}
		t.setStored(g.tg.path, next)
		if table, _, ok := splitInstance(g.tg.path); ok && keysTouched(in, g.values) {
			t.touch(table, in)
		}
		if len(changed) > 0 {
			t.changes = append(t.changes, Change{Op: OpSet, Path: g.tg.path, Object: in.obj, Params: changed, Caller: t.caller})
		}
		return nil
	}
	names := make([]string, 0, len(g.values))
	for n := range g.values {
		names = append(names, n)
	}
	old, err := t.values(ctx, g.tg, names)
	if err != nil {
		return err
	}
	req := func(vals map[string]string, check bool) *Request {
		return &Request{Op: OpSet, Path: g.tg.path, Object: in.obj, Instances: g.tg.insts, Values: vals, CheckOnly: check}
	}
	if _, err := t.call(ctx, in.h, req(g.values, true)); err != nil {
		return usperr.Errorf(codeOr(err, usperr.CodeObjectNotUpdated), "%s: %s", g.tg.path, usperr.Message(err))
	}
	if _, err := t.call(ctx, in.h, req(g.values, false)); err != nil {
		return usperr.Errorf(codeOr(err, usperr.CodeObjectNotUpdated), "%s: %s", g.tg.path, usperr.Message(err))
	}
	t.onRollback(func(ctx context.Context) {
		if _, err := t.call(ctx, in.h, req(old, false)); err != nil {
			t.e.log.ErrorContext(ctx, "datamodel: undoing a set failed", "path", g.tg.path, "err", err)
		}
	})
	changed := map[string]string{}
	for n, v := range g.values {
		if old[n] != v {
			changed[n] = v
		}
	}
	if len(changed) > 0 {
		t.changes = append(t.changes, Change{Op: OpSet, Path: g.tg.path, Object: in.obj, Params: changed, Caller: t.caller})
	}
	return nil
}

// codeOr returns err's USP code, or def when err has none.
func codeOr(err error, def uint32) uint32 {
	if c := usperr.Code(err); c != usperr.CodeInternal {
		return c
	}
	return def
}

func keysTouched(in *objInfo, values map[string]string) bool {
	for n := range values {
		if in.obj.IsKey(n) {
			return true
		}
	}
	return false
}
