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

// Listener hears of table rows that appear and vanish; *agent.Agent is
// one. Its methods are called from the goroutine of Run.
type Listener interface {
	// Announce receives rows that appeared (datamodel.OpAdd, with the
	// row's parameters, among them its unique keys) or vanished
	// (datamodel.OpDelete).
	Announce(ctx context.Context, changes []datamodel.Change)
	// Watching reports whether anyone listens for rows of the table
	// ("Device.Hosts.Host."): areas none of whose tables are watched are
	// not read.
	Watching(table string) bool
}

// Run reads the areas every Options.Interval until ctx ends and
// announces to l the table rows that appeared or vanished since the
// previous reading, parents before their sub-objects, so that an Agent
// can send ObjectCreation and ObjectDeletion notifications for them.
// Only areas l is watching are read; the first reading of an area (at
// the start, or once it is watched again) only sets its baseline.
// Parameters that change are left to the Agent's own polling of
// ValueChange subscriptions.
func (h *Host) Run(ctx context.Context, l Listener) error {
	last := h.Poll(ctx, nil, l)
	t := time.NewTicker(h.opt.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			last = h.Poll(ctx, last, l)
		}
	}
}

// Rows is what one Poll saw: the table rows of the areas it read, with
// their parameters.
type Rows struct {
	rows map[string]map[string]string
	read map[Area]bool
}

// Len returns the number of rows.
func (r *Rows) Len() int { return len(r.rows) }

// Poll reads the areas once — those l is watching, or all when l is nil
// — announces to l the rows that appeared or vanished since last in the
// areas last also read, and returns what it saw, for the next Poll. An
// area that cannot be read keeps its rows from last.
func (h *Host) Poll(ctx context.Context, last *Rows, l Listener) *Rows {
	cur := &Rows{rows: map[string]map[string]string{}, read: map[Area]bool{}}
	now := h.opt.Now()
	var changes []datamodel.Change
	for _, ar := range h.order {
		if l != nil && !ar.watched(l) {
			continue
		}
		ar.mu.Lock()
		v, err := h.reread(ctx, ar, now)
		ar.mu.Unlock()
		rows := map[string]map[string]string{}
		switch {
		case err == nil:
			for path := range v.rows() {
				rows[path] = v.objs[path]
			}
		case last != nil && last.read[ar.name]:
			for path, p := range last.rows {
				if ar.owns(path) {
					rows[path] = p
				}
			}
		default:
			continue
		}
		cur.read[ar.name] = true
		maps.Copy(cur.rows, rows)
		if last != nil && last.read[ar.name] {
			changes = append(changes, diff(last.rows, rows, ar)...)
		}
	}
	if len(changes) > 0 && l != nil {
		l.Announce(ctx, changes)
	}
	return cur
}

// diff returns the rows of ar that vanished (deeper rows before the rows
// they are under) and then those that appeared (parents first).
func diff(last, cur map[string]map[string]string, ar *area) []datamodel.Change {
	var changes []datamodel.Change
	for _, path := range slices.Sorted(maps.Keys(last)) {
		if _, ok := cur[path]; !ok && ar.owns(path) {
			changes = append(changes, datamodel.Change{Op: datamodel.OpDelete, Path: path})
		}
	}
	slices.SortStableFunc(changes, func(a, b datamodel.Change) int { return strings.Count(b.Path, ".") - strings.Count(a.Path, ".") })
	for _, path := range slices.Sorted(maps.Keys(cur)) {
		if _, ok := last[path]; !ok {
			changes = append(changes, datamodel.Change{Op: datamodel.OpAdd, Path: path, Params: maps.Clone(cur[path])})
		}
	}
	return changes
}

// watched reports whether l watches any table of the area.
func (ar *area) watched(l Listener) bool {
	for _, t := range ar.tables {
		if l.Watching(t) {
			return true
		}
	}
	return false
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
