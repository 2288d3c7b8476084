package host

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// numbering gives table rows instance numbers that stay theirs for as
// long as the row exists, keyed by what identifies the row on the host
// (an interface name, a MAC address, a route). A row that vanishes
// frees its key; if it comes back it is a new row and gets a new number:
// numbers are not reused within a table. With a state file the numbers
// survive a restart of the Agent [R-ARC.8].
type numbering struct {
	file string
	log  *slog.Logger

	mu     sync.Mutex
	tables map[string]*numTable // by instantiated table path ("Device.IP.Interface.")
	dirty  bool
}

type numTable struct {
	Next uint32            `json:"next"` // the last number given
	Keys map[string]uint32 `json:"keys"`
}

func newNumbering(file string, log *slog.Logger) *numbering {
	n := &numbering{file: file, log: log, tables: map[string]*numTable{}}
	if file == "" {
		return n
	}
	b, err := os.ReadFile(file)
	if err != nil {
		if !os.IsNotExist(err) {
			log.Warn("reading instance numbers", "file", file, "err", err)
		}
		return n
	}
	var t map[string]*numTable
	if err := json.Unmarshal(b, &t); err != nil {
		log.Warn("reading instance numbers", "file", file, "err", err)
		return n
	}
	for path, x := range t {
		if x == nil {
			continue
		}
		if x.Keys == nil {
			x.Keys = map[string]uint32{}
		}
		for _, v := range x.Keys {
			x.Next = max(x.Next, v) // a damaged file never makes a number given twice
		}
		n.tables[path] = x
	}
	return n
}

// number returns the instance number of the row of table with key,
// giving it the next one if it has none.
func (n *numbering) number(table, key string) uint32 {
	n.mu.Lock()
	defer n.mu.Unlock()
	t := n.tables[table]
	if t == nil {
		t = &numTable{Keys: map[string]uint32{}}
		n.tables[table] = t
	}
	if v, ok := t.Keys[key]; ok {
		return v
	}
	for {
		t.Next++ // after four billion rows it wraps; numbers in use are skipped
		if t.Next != 0 && !inUse(t, t.Next) {
			break
		}
	}
	t.Keys[key] = t.Next
	n.dirty = true
	return t.Next
}

// inUse reports whether a row of t has number v (possible only once the
// numbers have wrapped, or with a damaged state file).
func inUse(t *numTable, v uint32) bool {
	for _, x := range t.Keys {
		if x == v {
			return true
		}
	}
	return false
}

// prune forgets the rows of the tables under prefix that were not seen in
// the last reading. Tables below a row that no longer exists are dropped
// whole; exists reports whether an object instance exists.
func (n *numbering) prune(prefix string, seen map[string]map[string]bool, exists func(path string) bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for path, t := range n.tables {
		if !strings.HasPrefix(path, prefix) {
			continue
		}
		if parent := parentInstance(path); parent != "" && !exists(parent) && len(seen[path]) == 0 {
			delete(n.tables, path)
			n.dirty = true
			continue
		}
		for k := range t.Keys {
			if !seen[path][k] {
				delete(t.Keys, k)
				n.dirty = true
			}
		}
	}
}

// parentInstance returns the object instance a table path is under
// ("Device.IP.Interface.2." for "Device.IP.Interface.2.IPv4Address."),
// or "" for a table whose parent is not a row.
func parentInstance(table string) string {
	s := strings.TrimSuffix(table, ".")
	i := strings.LastIndexByte(s, '.')
	if i < 0 {
		return ""
	}
	parent := s[:i+1]
	last := strings.TrimSuffix(parent, ".")
	j := strings.LastIndexByte(last, '.')
	if _, err := strconv.ParseUint(last[j+1:], 10, 32); err != nil {
		return ""
	}
	return parent
}

// save writes the numbers to the state file when they changed.
func (n *numbering) save() {
	n.mu.Lock()
	if n.file == "" || !n.dirty {
		n.mu.Unlock()
		return
	}
	b, err := json.Marshal(n.tables)
	n.dirty = false
	n.mu.Unlock()
	if err == nil {
		err = writeFile(n.file, b)
	}
	if err != nil {
		n.log.Warn("saving instance numbers", "file", n.file, "err", err)
	}
}

// writeFile replaces file with b through a temporary file and a rename.
func writeFile(file string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(file), ".host-*")
	if err != nil {
		return fmt.Errorf("instance numbers: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("instance numbers: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("instance numbers: %w", err)
	}
	if err := os.Rename(tmp.Name(), file); err != nil {
		return fmt.Errorf("instance numbers: %w", err)
	}
	return nil
}

// view is one reading of an area: the parameters of every object
// instance and the rows of every table.
type view struct {
	at    time.Time
	objs  map[string]map[string]string // instantiated object path → parameters
	lists map[string][]uint32          // instantiated table path → instance numbers, ascending
}

// rows returns the instance paths of every table row in v.
func (v *view) rows() map[string]bool {
	out := map[string]bool{}
	for t, ns := range v.lists {
		for _, n := range ns {
			out[t+strconv.FormatUint(uint64(n), 10)+"."] = true
		}
	}
	return out
}

// builder collects a reading into a view.
type builder struct {
	nums     *numbering
	now      time.Time
	prefixes []string
	v        *view
	seen     map[string]map[string]bool
}

func newBuilder(nums *numbering, now time.Time, prefixes []string) *builder {
	return &builder{nums: nums, now: now, prefixes: prefixes, seen: map[string]map[string]bool{},
		v: &view{at: now, objs: map[string]map[string]string{}, lists: map[string][]uint32{}}}
}

// row adds the row of table identified by key and returns its path. An
// "Alias" parameter left empty becomes "cpe-N", the form TR-181's Alias
// data type gives the aliases an Agent assigns.
func (b *builder) row(table, key string, params map[string]string) string {
	if b.seen[table][key] {
		return "" // a second row with the same key is left out
	}
	n := b.nums.number(table, key)
	if b.seen[table] == nil {
		b.seen[table] = map[string]bool{}
	}
	b.seen[table][key] = true
	path := table + strconv.FormatUint(uint64(n), 10) + "."
	if a, ok := params["Alias"]; ok && a == "" {
		params["Alias"] = "cpe-" + strconv.FormatUint(uint64(n), 10)
	}
	b.v.objs[path] = params
	b.v.lists[table] = append(b.v.lists[table], n)
	return path
}

// table makes an empty table known, so that listing it finds no rows
// rather than an unknown table.
func (b *builder) table(table string) {
	if _, ok := b.v.lists[table]; !ok {
		b.v.lists[table] = []uint32{}
	}
}

// obj adds a single-instance object.
func (b *builder) obj(path string, params map[string]string) { b.v.objs[path] = params }

// finish sorts the tables, forgets the numbers of rows that vanished and
// returns the view.
func (b *builder) finish() *view {
	for _, ns := range b.v.lists {
		slices.Sort(ns)
	}
	exists := func(p string) bool { _, ok := b.v.objs[p]; return ok }
	for _, p := range b.prefixes {
		b.nums.prune(p, b.seen, exists)
	}
	b.nums.save()
	return b.v
}
