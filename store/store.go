package store

import (
	"context"
	"maps"
	"slices"
	"strings"
	"sync"
)

// Object is one stored data-model object (or object instance): its path,
// ending in '.', and its parameter values.
type Object struct {
	Path   string
	Params map[string]string
}

// Item is an opaque stored value in a named collection, such as a pending
// notification or a queued request.
type Item struct {
	Kind string
	ID   string
	Data []byte
}

// Batch is a set of changes applied together.
type Batch struct {
	// Put creates or replaces objects (all of their parameters).
	Put []Object
	// Delete removes objects and every object below them (by path prefix).
	// Deletes apply before Puts.
	Delete []string
	// Counters sets named counters, e.g. the next instance number of a
	// table; a counter only ever grows.
	Counters map[string]uint32
	// PutItems stores items; DeleteItems removes them (Kind and ID only).
	PutItems    []Item
	DeleteItems []Item
}

// Empty reports whether b changes nothing.
func (b *Batch) Empty() bool {
	return len(b.Put) == 0 && len(b.Delete) == 0 && len(b.Counters) == 0 && len(b.PutItems) == 0 && len(b.DeleteItems) == 0
}

// Snapshot is everything stored.
type Snapshot struct {
	Objects  []Object // sorted by path
	Counters map[string]uint32
	Items    []Item // sorted by kind, then id
}

// Memory is an in-memory store, safe for concurrent use. Its zero value is
// not usable; call NewMemory.
type Memory struct {
	mu       sync.Mutex
	objects  map[string]map[string]string
	counters map[string]uint32
	items    map[[2]string][]byte
	deleted  int // objects deleted since objects was last rebuilt
	// below counts, for each path ending in '.' that is a proper prefix of
	// an object's path at a segment boundary ("Device.", "Device.X.",
	// "Device.X.3." for "Device.X.3.Y.1."), the objects under it, so that
	// a Delete of an object with nothing below it reads no other object.
	below map[string]int
}

// Go maps keep the room they grew to when their entries are deleted (a
// copy made with maps.Clone too), so Memory rebuilds its map of objects
// at its present size once at least shrinkAfter deletions, and three
// times as many as the objects left, are behind it: a burst of Adds and
// Deletes of thousands of rows leaves no map sized for the burst, and the
// copying costs a constant per deletion.
const shrinkAfter = 256

// NewMemory returns an empty in-memory store.
func NewMemory() *Memory {
	return &Memory{objects: map[string]map[string]string{}, counters: map[string]uint32{}, items: map[[2]string][]byte{}, below: map[string]int{}}
}

// remove deletes the object at path p, which is there.
func (m *Memory) remove(p string) {
	delete(m.objects, p)
	m.deleted++
	m.count(p, -1)
}

// count adds n to the count of objects below each proper prefix of p
// ending in '.'.
func (m *Memory) count(p string, n int) {
	for i := 0; i < len(p)-1; i++ {
		if p[i] != '.' {
			continue
		}
		a := p[:i+1]
		old, ok := m.below[a]
		switch c := old + n; {
		case c <= 0:
			delete(m.below, a)
		case ok:
			m.below[a] = c
		default:
			m.below[strings.Clone(a)] = c // not holding on to p once it is deleted
		}
	}
}

// Load returns a copy of everything stored.
func (m *Memory) Load(ctx context.Context) (*Snapshot, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := &Snapshot{Counters: maps.Clone(m.counters)}
	for _, p := range slices.Sorted(maps.Keys(m.objects)) {
		s.Objects = append(s.Objects, Object{Path: p, Params: maps.Clone(m.objects[p])})
	}
	keys := slices.SortedFunc(maps.Keys(m.items), func(a, b [2]string) int {
		if c := strings.Compare(a[0], b[0]); c != 0 {
			return c
		}
		return strings.Compare(a[1], b[1])
	})
	for _, k := range keys {
		s.Items = append(s.Items, Item{Kind: k[0], ID: k[1], Data: slices.Clone(m.items[k])})
	}
	return s, ctx.Err()
}

// Apply applies b atomically.
func (m *Memory) Apply(ctx context.Context, b *Batch) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, d := range b.Delete {
		if _, ok := m.objects[d]; ok {
			m.remove(d)
		}
		if strings.HasSuffix(d, ".") && m.below[d] == 0 {
			continue // nothing below d
		}
		for p := range m.objects {
			if strings.HasPrefix(p, d) {
				m.remove(p)
			}
		}
	}
	if m.deleted >= shrinkAfter && m.deleted >= 3*len(m.objects) {
		objects := make(map[string]map[string]string, len(m.objects))
		maps.Copy(objects, m.objects)
		below := make(map[string]int, len(m.below))
		maps.Copy(below, m.below)
		m.objects, m.below, m.deleted = objects, below, 0
	}
	for _, o := range b.Put {
		if _, ok := m.objects[o.Path]; !ok {
			m.count(o.Path, 1)
		}
		m.objects[o.Path] = maps.Clone(o.Params)
	}
	for k, v := range b.Counters {
		if v > m.counters[k] {
			m.counters[k] = v
		}
	}
	for _, it := range b.DeleteItems {
		delete(m.items, [2]string{it.Kind, it.ID})
	}
	for _, it := range b.PutItems {
		m.items[[2]string{it.Kind, it.ID}] = slices.Clone(it.Data)
	}
	return nil
}
