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
	// Most updates an Agent makes write what is already there (a status
	// that has not changed): seen under the read lock, they do not wait
	// for the write lock nor hold up readers.
	e.mu.RLock()
	same := e.read(Caller{}).unchanged(ctx, path, values)
	e.mu.RUnlock()
	if same {
		return nil
	}
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

// unchanged reports whether the stored object instance at path already
// has every value of values, each valid for its parameter: an Update that
// would change nothing. Any doubt (a path that does not resolve to one
// stored instance, an unknown parameter) is false, for update to report.
func (t *txn) unchanged(ctx context.Context, path string, values map[string]string) bool {
	res, err := t.resolve(ctx, path)
	if err != nil || len(res.targets) != 1 || res.targets[0].table || !res.targets[0].in.stored {
		return false
	}
	tg := res.targets[0]
	old := t.storedParams(tg.path)
	if old == nil {
		return false
	}
	for n, v := range values {
		p := tg.in.obj.Param(n)
		if p == nil || p.Type.Validate(v) != nil {
			return false
		}
		if cur, ok := old[n]; !ok || cur != v {
			return false
		}
	}
	return true
}
