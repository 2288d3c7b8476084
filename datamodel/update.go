package datamodel

import (
	"context"
	"maps"

	"github.com/uspkit/uspkit/usperr"
)

// Update sets parameters of a stored object instance on the Agent's own
// behalf: access rules and permissions do not apply (read-only parameters
// such as a status can be written), but values must fit their types. The
// change is committed, persisted and published like any other, with an
// empty Caller.
func (e *Engine) Update(ctx context.Context, path string, values map[string]string) error {
	e.mu.Lock()
	t := e.begin(Caller{})
	err := t.update(ctx, path, values)
	if err == nil {
		err = t.commit(ctx)
	}
	e.mu.Unlock()
	if err != nil {
		return err
	}
	e.publish(ctx, t.changes)
	return nil
}

func (t *txn) update(ctx context.Context, path string, values map[string]string) error {
	res, err := t.resolve(ctx, path)
	if err != nil {
		return err
	}
	if len(res.targets) != 1 || res.targets[0].table || !res.targets[0].in.stored {
		return usperr.Errorf(usperr.CodeObjectNotFound, "%s is not one stored object instance", path)
	}
	tg := res.targets[0]
	old := t.storedParams(tg.path)
	if old == nil {
		return usperr.Errorf(usperr.CodeObjectNotFound, "%s does not exist", path)
	}
	next := maps.Clone(old)
	changed := map[string]string{}
	for n, v := range values {
		p := tg.in.obj.Param(n)
		if p == nil {
			return usperr.Errorf(usperr.CodeUnsupportedParam, "%s%s is not supported", tg.path, n)
		}
		if err := p.Type.Validate(v); err != nil {
			return usperr.Errorf(usperr.Code(err), "%s%s: %v", tg.path, n, err)
		}
		if next[n] != v {
			changed[n] = v
		}
		next[n] = v
	}
	if len(changed) == 0 {
		return nil
	}
	t.setStored(tg.path, next)
	if table, _, ok := splitInstance(tg.path); ok && keysTouched(tg.in, changed) {
		t.touch(table, tg.in)
	}
	t.changes = append(t.changes, Change{Op: OpSet, Path: tg.path, Object: tg.in.obj, Params: changed})
	return nil
}
