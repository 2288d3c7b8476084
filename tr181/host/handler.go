package host

import (
	"context"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/uspkit/uspkit/datamodel"
	"github.com/uspkit/uspkit/schema"
	"github.com/uspkit/uspkit/usperr"
)

// handler serves one area from its cached reading.
type handler struct {
	h  *Host
	ar *area
}

func (hd *handler) ServeUSP(ctx context.Context, w datamodel.ResponseWriter, r *datamodel.Request) error {
	switch r.Op {
	case datamodel.OpGet, datamodel.OpList:
	case datamodel.OpAdd:
		return usperr.Errorf(usperr.CodeObjectNotCreatable, "%s follows the host and cannot be added to", r.Path)
	default:
		return usperr.Errorf(usperr.CodeRequestDenied, "%s follows the host and is read-only", r.Path)
	}
	v, prev, err := hd.h.current(ctx, hd.ar, r.Op == datamodel.OpList)
	if err != nil {
		return usperr.Errorf(usperr.CodeInternal, "reading the host: %v", err)
	}
	if r.Op == datamodel.OpList {
		for _, n := range v.lists[r.Path] {
			w.AddInstance(n)
		}
		return nil
	}
	p, ok := v.objs[r.Path]
	if !ok && prev != nil {
		// Listed from the previous reading and gone since: its last
		// values answer, so that one Get sees one consistent table.
		p, ok = prev.objs[r.Path]
	}
	if !ok {
		return usperr.Errorf(usperr.CodeObjectNotFound, "%s no longer exists", r.Path)
	}
	for _, n := range r.Names {
		val, ok := p[n]
		if !ok {
			val = zero(r.Object.Param(n))
		}
		w.SetValue(n, val)
	}
	return nil
}

// zero is the value of a parameter the host has nothing for: its
// default, or its type's zero value.
func zero(p *schema.Param) string {
	if p == nil {
		return ""
	}
	if p.HasDefault {
		return p.Default
	}
	switch p.Type.Base {
	case schema.BaseBoolean:
		return "false"
	case schema.BaseInt, schema.BaseUnsignedInt, schema.BaseLong, schema.BaseUnsignedLong, schema.BaseDecimal:
		return "0"
	case schema.BaseDateTime:
		return "0001-01-01T00:00:00Z"
	}
	return ""
}

// Run reads the areas every Options.Interval until ctx ends and calls
// announce with the table rows that appeared (datamodel.OpAdd, with the
// row's parameters, among them its unique keys) or vanished
// (datamodel.OpDelete) since the previous reading, parents before their
// sub-objects, so that an Agent can send ObjectCreation and
// ObjectDeletion notifications for them. The first reading only sets
// the baseline. Parameters that change are left to the Agent's own
// polling of ValueChange subscriptions.
func (h *Host) Run(ctx context.Context, announce func(context.Context, []datamodel.Change)) error {
	last := h.Poll(ctx, nil, nil)
	t := time.NewTicker(h.opt.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			last = h.Poll(ctx, last, announce)
		}
	}
}

// Rows is what one Poll saw: the table rows of every area with their
// parameters.
type Rows map[string]map[string]string

// Poll reads every area once and calls announce, when not nil, with the
// rows that appeared or vanished since last (nil: nothing announced).
// It returns the rows it saw, for the next Poll. An area that cannot be
// read keeps its rows from last.
func (h *Host) Poll(ctx context.Context, last Rows, announce func(context.Context, []datamodel.Change)) Rows {
	cur := Rows{}
	now := h.opt.Now()
	for _, ar := range h.order {
		ar.mu.Lock()
		v, err := h.reread(ctx, ar, now)
		ar.mu.Unlock()
		if err != nil {
			for path, p := range last {
				if ar.owns(path) {
					cur[path] = p
				}
			}
			continue
		}
		for path := range v.rows() {
			cur[path] = v.objs[path]
		}
	}
	if last == nil || announce == nil {
		return cur
	}
	var changes []datamodel.Change
	for _, path := range slices.Sorted(maps.Keys(last)) {
		if _, ok := cur[path]; !ok {
			changes = append(changes, datamodel.Change{Op: datamodel.OpDelete, Path: path})
		}
	}
	// Deeper rows go before the rows they are under.
	slices.SortStableFunc(changes, func(a, b datamodel.Change) int { return strings.Count(b.Path, ".") - strings.Count(a.Path, ".") })
	for _, path := range slices.Sorted(maps.Keys(cur)) {
		if _, ok := last[path]; !ok {
			changes = append(changes, datamodel.Change{Op: datamodel.OpAdd, Path: path, Params: maps.Clone(cur[path])})
		}
	}
	if len(changes) > 0 {
		announce(ctx, changes)
	}
	return cur
}

// owns reports whether path is below one of the area's objects.
func (ar *area) owns(path string) bool {
	for _, p := range ar.prefixes() {
		if strings.HasPrefix(path, p) {
			return true
		}
	}
	return false
}
