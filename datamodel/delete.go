package datamodel

import (
	"context"
	"maps"

	"github.com/uspkit/uspkit/pathname"
	"github.com/uspkit/uspkit/usperr"
)

// Delete removes object instances and everything below them (TR-369 "The
// Delete Message"). With allowPartial false any failure fails the request
// with a *MessageError and deletes nothing [R-DEL.1]; with allowPartial
// true instances that could not be deleted are listed as unaffected
// [R-DEL.3].
func (e *Engine) Delete(ctx context.Context, c Caller, allowPartial bool, paths []string) ([]DeletedObjectResult, error) {
	e.mu.Lock()
	var published []Change
	defer func() {
		e.mu.Unlock()
		e.publish(ctx, published)
	}()
	out := make([]DeletedObjectResult, 0, len(paths))
	msg := e.begin(c)
	for _, p := range paths {
		r := DeletedObjectResult{RequestedPath: p}
		res, err := msg.resolve(ctx, p)
		if err == nil && res.kind != pathname.KindObject {
			err = errInvalidPath(p, "%s is not an object path", p)
		}
		if err != nil {
			if !allowPartial {
				msg.rollback(ctx)
				return nil, messageError(err, []ParamError{{Param: p, Code: usperr.Code(err), Msg: usperr.Message(err)}})
			}
			r.Err = err
			out = append(out, r)
			continue
		}
		r.Affected = []string{}
		for _, tg := range res.targets {
			if tg.table || !tg.in.obj.Multi {
				err = errInvalidPath(p, "%s is not an object instance", tg.path)
				if !allowPartial {
					msg.rollback(ctx)
					return nil, messageError(err, []ParamError{{Param: p, Code: usperr.Code(err), Msg: usperr.Message(err)}})
				}
				r.Err = err
				break
			}
			t := msg
			if allowPartial {
				t = e.begin(c)
			}
			err := t.deleteOne(ctx, tg)
			if err == nil && allowPartial {
				err = t.commit(ctx)
				if err == nil {
					published = append(published, t.changes...)
				}
			}
			if err != nil {
				if !allowPartial {
					msg.rollback(ctx)
					return nil, messageError(err, nil)
				}
				if c.perms(tg.path).Has(InstRead) { // [R-DEL.4]
					r.Unaffected = append(r.Unaffected, pathErr(tg.path, err))
				}
				continue
			}
			if c.perms(tg.path).Has(InstRead) { // [R-DEL.2]
				r.Affected = append(r.Affected, tg.path)
			}
		}
		if r.Err != nil {
			r.Affected, r.Unaffected = nil, nil
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

func (t *txn) deleteOne(ctx context.Context, tg target) error {
	in := tg.in
	if !in.obj.Access.CanDelete() {
		return usperr.Errorf(usperr.CodeDeleteFailure, "%s does not allow Delete", in.obj.Path).WithPath(tg.path)
	}
	if !t.caller.perms(tg.path).Has(InstWrite) {
		return usperr.Errorf(usperr.CodePermissionDenied, "no permission to delete %s", tg.path).WithPath(tg.path)
	}
	if in.stored {
		cur := t.storedParams(tg.path)
		if cur == nil {
			return nil // deleted earlier in this message
		}
		if err := t.checkStored(ctx, in, OpDelete, tg.path, maps.Clone(cur)); err != nil {
			return err
		}
		t.deleteStored(tg.path, in.obj)
		t.changes = append(t.changes, Change{Op: OpDelete, Path: tg.path, Object: in.obj, Caller: t.caller})
		return nil
	}
	table, _, _ := splitInstance(tg.path)
	old, err := t.values(ctx, tg, nil)
	if err != nil {
		return err
	}
	if _, err := t.call(ctx, in.h, &Request{Op: OpDelete, Path: tg.path, Object: in.obj, Instances: tg.insts}); err != nil {
		return usperr.Errorf(codeOr(err, usperr.CodeDeleteFailure), "%s: %s", tg.path, usperr.Message(err)).WithPath(tg.path)
	}
	delete(t.lists, table)
	t.onRollback(func(ctx context.Context) {
		vals := map[string]string{}
		for _, p := range in.obj.Params {
			if p.Access.Writable() {
				vals[p.Name] = old[p.Name]
			}
		}
		if _, err := t.call(ctx, in.h, &Request{Op: OpAdd, Path: table, Object: in.obj, Instances: tg.insts[:len(tg.insts)-1], Values: vals}); err != nil {
			t.e.log.ErrorContext(ctx, "datamodel: undoing a delete failed", "path", tg.path, "err", err)
		}
		delete(t.lists, table)
	})
	t.changes = append(t.changes, Change{Op: OpDelete, Path: tg.path, Object: in.obj, Caller: t.caller})
	return nil
}
