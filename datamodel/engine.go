package datamodel

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/uspkit/uspkit/schema"
	"github.com/uspkit/uspkit/store"
	"github.com/uspkit/uspkit/usperr"
)

// Store persists stored objects; store.Memory and store/sqlite.DB are
// Stores.
type Store interface {
	Load(ctx context.Context) (*store.Snapshot, error)
	Apply(ctx context.Context, b *store.Batch) error
}

// Options configure an Engine.
type Options struct {
	// Store persists stored objects; nil keeps them in memory only.
	Store Store
	// OnChange, if set, is called after every committed change, in commit
	// order, with the engine unlocked. It must not block for long.
	OnChange func(ctx context.Context, changes []Change)
	// Logger receives the engine's log lines; nil discards them.
	Logger *slog.Logger
	// MaxInstances bounds the rows of any stored table that has no
	// maxEntries of its own; 0 means 10000.
	MaxInstances int
}

// Change is one committed change to the instantiated data model.
type Change struct {
	// Op is OpAdd, OpDelete or OpSet.
	Op Op
	// Path is the object instance added, deleted or changed.
	Path string
	// Object is the supported object of Path.
	Object *schema.Object
	// Params are the values set (OpSet: those that changed) or the values
	// of the new instance (OpAdd).
	Params map[string]string
	// Caller is who made the change; its EndpointID is empty for changes
	// the Agent made itself.
	Caller Caller
}

// Engine serves the data-model operations of one Agent. Create it with
// New.
type Engine struct {
	mux   *Mux
	model *schema.Model
	opt   Options
	log   *slog.Logger
	info  map[string]*objInfo // by object pattern
	roots []*objInfo

	mu   sync.RWMutex
	data storedData
}

// objInfo is what the engine knows of one supported object.
type objInfo struct {
	obj      *schema.Object
	name     string // the last name: "Fan" of "Device.Fan.{i}."
	parent   *objInfo
	children []*objInfo
	child    map[string]*objInfo
	h        Handler // provided objects
	stored   bool
	check    CheckFunc
	// served says the object's own parameters and commands are served.
	served bool
	// numEntries maps a parameter of this object to the child table whose
	// rows it counts.
	numEntries map[string]*objInfo
	commands   map[string]Handler
}

// storedData is the stored part of the instantiated data model.
type storedData struct {
	objs     map[string]map[string]string // instance path → parameters
	tables   map[string][]uint32          // table path → sorted instance numbers
	counters map[string]uint32            // table path → last instance number issued
	index    map[string]*keyIndex         // stored table path → its unique keys' index, built on use
	shrink   shrinker                     // deletions from objs (shrink.go)
}

// New builds an Engine for mux and loads the stored objects from
// opt.Store. Single-instance stored objects that do not exist yet are
// created with their defaults.
func New(ctx context.Context, mux *Mux, opt Options) (*Engine, error) {
	if opt.Store == nil {
		opt.Store = store.NewMemory()
	}
	if opt.MaxInstances <= 0 {
		opt.MaxInstances = 10000
	}
	e := &Engine{mux: mux, model: mux.model, opt: opt, log: opt.Logger, info: map[string]*objInfo{}}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	e.compile()
	snap, err := opt.Store.Load(ctx)
	if err != nil {
		return nil, fmt.Errorf("datamodel: loading stored objects: %w", err)
	}
	e.data = storedData{objs: map[string]map[string]string{}, tables: map[string][]uint32{}, counters: maps.Clone(snap.Counters)}
	if e.data.counters == nil {
		e.data.counters = map[string]uint32{}
	}
	for _, o := range snap.Objects {
		e.data.objs[o.Path] = o.Params
		if table, n, ok := splitInstance(o.Path); ok {
			e.data.tables[table] = append(e.data.tables[table], n)
		}
	}
	for t, ns := range e.data.tables {
		slices.Sort(ns)
		e.data.tables[t] = ns
	}
	// Create missing single-instance stored objects outside any table.
	tx := e.begin(Caller{})
	for _, in := range e.info {
		if in.stored && !in.obj.Multi && !strings.Contains(in.obj.Path, "{i}") {
			if tx.storedParams(in.obj.Path) == nil {
				tx.createStored(in, in.obj.Path, nil)
			}
		}
	}
	if err := tx.commit(ctx); err != nil {
		return nil, fmt.Errorf("datamodel: creating stored objects: %w", err)
	}
	return e, nil
}

// Model returns the supported data model.
func (e *Engine) Model() *schema.Model { return e.model }

// compile works out which objects are supported and how they are served.
func (e *Engine) compile() {
	for _, o := range e.model.Objects() {
		b := e.mux.objectBinding(o)
		if b == nil {
			continue
		}
		in := e.ensure(o)
		in.served = true
		if b.stored {
			in.stored = true
			if b.pattern == o.Path {
				in.check = b.check
			}
		} else {
			in.h = e.mux.wrap(b.h)
		}
	}
	for _, in := range e.info {
		for _, c := range in.obj.Commands {
			if b := e.mux.bindings[in.obj.Path+c.Name]; b != nil {
				in.commands[c.Name] = e.mux.wrap(b.h)
			} else if in.h != nil {
				in.commands[c.Name] = in.h
			}
		}
		if in.parent != nil && in.obj.Multi && in.obj.NumEntriesParam != "" && in.parent.obj.Param(in.obj.NumEntriesParam) != nil {
			in.parent.numEntries[in.obj.NumEntriesParam] = in
		}
	}
	for _, in := range e.info {
		slices.SortFunc(in.children, func(a, b *objInfo) int { return strings.Compare(a.obj.Path, b.obj.Path) })
	}
	slices.SortFunc(e.roots, func(a, b *objInfo) int { return strings.Compare(a.obj.Path, b.obj.Path) })
}

// ensure returns o's objInfo, creating it and its ancestors' as needed.
func (e *Engine) ensure(o *schema.Object) *objInfo {
	if in := e.info[o.Path]; in != nil {
		return in
	}
	in := &objInfo{obj: o, name: lastName(o.Path), child: map[string]*objInfo{}, numEntries: map[string]*objInfo{},
		commands: map[string]Handler{}}
	e.info[o.Path] = in
	if p := e.model.Parent(o); p != nil {
		in.parent = e.ensure(p)
		in.parent.children = append(in.parent.children, in)
		in.parent.child[in.name] = in
	} else {
		e.roots = append(e.roots, in)
	}
	return in
}

// lastName returns the last name of an object pattern.
func lastName(p string) string {
	s := strings.TrimSuffix(p, ".")
	s = strings.TrimSuffix(s, ".{i}")
	return s[strings.LastIndexByte(s, '.')+1:]
}

// splitInstance splits "Device.X.3." into "Device.X." and 3.
func splitInstance(p string) (table string, n uint32, ok bool) {
	s := strings.TrimSuffix(p, ".")
	i := strings.LastIndexByte(s, '.')
	if i < 0 {
		return "", 0, false
	}
	v, err := strconv.ParseUint(s[i+1:], 10, 32)
	if err != nil || v == 0 {
		return "", 0, false
	}
	return s[:i+1], uint32(v), true
}

// txn is one unit of work: reads see its own changes; commit writes the
// stored ones in one batch, rollback undoes the provided ones.
type txn struct {
	e        *Engine
	caller   Caller
	objs     map[string]map[string]string // overlay; a nil value is deleted
	tables   map[string][]uint32
	counters map[string]uint32
	undo     []func(context.Context)
	changes  []Change
	touched  map[string]*objInfo // stored tables changed: path → table
	lists    map[string][]uint32 // provided tables listed in this txn
}

// read starts a transaction that only reads (Get, GetInstances,
// GetSupportedDM, Operate's resolution, under the read lock).
func (e *Engine) read(c Caller) *txn {
	return &txn{e: e, caller: c}
}

// begin starts a transaction that may change the data model. Its maps are
// made on first write: a Set that changes nothing, the most common write
// of a running Agent, allocates none of them.
func (e *Engine) begin(c Caller) *txn {
	return &txn{e: e, caller: c}
}

// putObj records the parameters of a stored instance (nil: deleted).
func (t *txn) putObj(path string, params map[string]string) {
	if t.objs == nil {
		t.objs = map[string]map[string]string{}
	}
	t.objs[path] = params
}

// putTable records the instance numbers of a stored table.
func (t *txn) putTable(table string, ns []uint32) {
	if t.tables == nil {
		t.tables = map[string][]uint32{}
	}
	t.tables[table] = ns
}

// touch records a stored table whose unique keys commit checks.
func (t *txn) touch(table string, in *objInfo) {
	if t.touched == nil {
		t.touched = map[string]*objInfo{}
	}
	t.touched[table] = in
}

// storedParams returns the parameters of a stored instance, or nil if it
// does not exist. The map must not be modified.
func (t *txn) storedParams(path string) map[string]string {
	if p, ok := t.objs[path]; ok {
		return p
	}
	return t.e.data.objs[path]
}

func (t *txn) storedInstances(table string) []uint32 {
	if ns, ok := t.tables[table]; ok {
		return ns
	}
	return t.e.data.tables[table]
}

// setStored replaces the parameters of a stored instance.
func (t *txn) setStored(path string, params map[string]string) { t.putObj(path, params) }

// createStored creates a stored object instance at path with the defaults
// of in, overlaid with values, and its single-instance stored
// sub-objects.
func (t *txn) createStored(in *objInfo, path string, values map[string]string) map[string]string {
	params := make(map[string]string, len(in.obj.Params))
	for _, p := range in.obj.Params {
		if _, counted := in.numEntries[p.Name]; counted {
			continue
		}
		params[p.Name] = defaultValue(p)
	}
	maps.Copy(params, values)
	t.putObj(path, params)
	for _, c := range in.children {
		if c.stored && !c.obj.Multi {
			t.createStored(c, path+c.name+".", nil)
		}
	}
	return params
}

// defaultValue returns a parameter's default, or the zero value of its
// type.
func defaultValue(p *schema.Param) string {
	if p.HasDefault {
		return p.Default
	}
	if p.Type.List != nil {
		return ""
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

// addInstance records instance n of a stored table.
func (t *txn) addInstance(table string, n uint32) {
	ns := t.storedInstances(table)
	if len(ns) == 0 || n > ns[len(ns)-1] {
		// Instance numbers only grow, so the new row goes last: appending
		// writes past the end of the slice other readers hold (never
		// inside it), without copying the table's numbers per Add.
		t.putTable(table, append(ns, n))
	} else {
		ns = slices.Clone(ns)
		i, _ := slices.BinarySearch(ns, n)
		t.putTable(table, slices.Insert(ns, i, n))
	}
	if n > t.counter(table) {
		if t.counters == nil {
			t.counters = map[string]uint32{}
		}
		t.counters[table] = n
	}
}

func (t *txn) counter(table string) uint32 {
	if c, ok := t.counters[table]; ok {
		return c
	}
	return t.e.data.counters[table]
}

// deleteStored deletes a stored instance of o and every stored object
// below it, found through the model's objects below o (not by reading
// every stored object: a Delete costs the same in a table of 10,000 rows
// as in one of 10).
func (t *txn) deleteStored(path string, o *schema.Object) {
	if t.storedParams(path) != nil {
		t.dropStored(path)
	}
	for _, c := range t.e.model.Children(o) {
		rel := strings.TrimPrefix(c.Path, o.Path) // "Stats." or "Blade.{i}."
		if !c.Multi {
			t.deleteStored(path+rel, c)
			continue
		}
		table := path + strings.TrimSuffix(rel, "{i}.")
		for _, n := range slices.Clone(t.storedInstances(table)) {
			t.deleteStored(table+itoa(n)+".", c)
		}
	}
}

func (t *txn) dropStored(p string) {
	t.putObj(p, nil)
	if table, n, ok := splitInstance(p); ok {
		ns := t.storedInstances(table)
		if i, found := slices.BinarySearch(ns, n); found {
			switch {
			// The first or the last row: a shorter view of the same
			// numbers, nothing copied and nothing written in them (the
			// last keeps no room, so that an append copies rather than
			// overwrite the number deleted, which the committed list
			// still holds until commit).
			case i == 0:
				t.putTable(table, ns[1:])
			case i == len(ns)-1:
				t.putTable(table, ns[:i:i])
			default:
				t.putTable(table, slices.Delete(slices.Clone(ns), i, i+1))
			}
		}
	}
}

// checkStored runs the object's CheckFunc, if any.
func (t *txn) checkStored(ctx context.Context, in *objInfo, op Op, path string, values map[string]string) error {
	if in.check == nil {
		return nil
	}
	err := in.check(ctx, &Request{Op: op, Path: path, Object: in.obj, Instances: instancesOf(path), Values: values, Caller: t.caller})
	if err != nil && usperr.Code(err) == usperr.CodeInternal {
		if _, ok := err.(interface{ USPErrorCode() uint32 }); !ok {
			err = usperr.Errorf(usperr.CodeInvalidValue, "%v", err)
		}
	}
	return err
}

// onRollback registers an undo action for a provided change.
func (t *txn) onRollback(f func(context.Context)) { t.undo = append(t.undo, f) }

// rollback undoes the provided changes, newest first, and forgets the
// stored ones.
func (t *txn) rollback(ctx context.Context) {
	for i := len(t.undo) - 1; i >= 0; i-- {
		t.undo[i](ctx)
	}
	t.undo = nil
	clear(t.objs)
	clear(t.tables)
	clear(t.counters)
	t.changes = nil
}

// ErrStore wraps a failure to persist a change.
var ErrStore = errors.New("datamodel: store failed")

// commit checks unique keys of the stored tables changed, then writes the
// stored changes in one batch and publishes them. On failure everything is
// rolled back.
func (t *txn) commit(ctx context.Context) error {
	for table, in := range t.touched {
		if err := t.checkUnique(in, table); err != nil {
			t.rollback(ctx)
			return err
		}
	}
	if len(t.objs) == 0 && len(t.tables) == 0 && len(t.counters) == 0 {
		return nil // nothing stored changed
	}
	b := &store.Batch{Counters: map[string]uint32{}}
	for _, p := range slices.Sorted(maps.Keys(t.objs)) {
		if v := t.objs[p]; v == nil {
			b.Delete = append(b.Delete, p)
		} else {
			b.Put = append(b.Put, store.Object{Path: p, Params: v})
		}
	}
	maps.Copy(b.Counters, t.counters)
	if !b.Empty() {
		if err := t.e.opt.Store.Apply(ctx, b); err != nil {
			t.rollback(ctx)
			return fmt.Errorf("%w: %w", ErrStore, err)
		}
	}
	d := &t.e.data
	var buf []byte
	for p, v := range t.objs {
		buf = d.reindex(p, d.objs[p], v, buf)
		if v == nil {
			delete(d.objs, p)
			if d.shrink.deletedOne(len(d.objs)) {
				d.objs = rebuilt(d.objs)
			}
		} else {
			d.objs[p] = v
		}
	}
	for table, ns := range t.tables {
		if len(ns) == 0 {
			delete(d.tables, table)
		} else {
			d.tables[table] = ns
		}
	}
	maps.Copy(d.counters, t.counters)
	return nil
}

// publish hands the committed changes to OnChange; call it unlocked.
func (e *Engine) publish(ctx context.Context, changes []Change) {
	if e.opt.OnChange != nil && len(changes) > 0 {
		e.opt.OnChange(ctx, changes)
	}
}
