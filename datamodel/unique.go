package datamodel

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/uspkit/uspkit/usperr"
)

// keyIndex finds the committed rows of one stored table by the values of
// each of its unique keys, so that an Add or a Set checks its keys
// without reading the whole table. It is built from the committed rows
// the first time a transaction checks the table, kept up to date by
// commit, and read and written only with the engine's lock held for
// writing (in Add, Set, Delete and commit).
type keyIndex struct {
	keys [][]string          // the parameters of each unique key
	rows []map[string]uint32 // per key: key value → instance number
	// vals counts, for each parameter of a key of several parameters,
	// the committed rows per value, so that assigning such a parameter a
	// value no row has [R-ADD.5] reads no row.
	vals map[string]map[string]int
	// shrink counts the rows deleted, to rebuild the maps once most of
	// what they grew to is gone (shrink.go).
	shrink shrinker
}

// appendKey appends the value of key in row p: its parameters' values,
// separated by zero bytes.
func appendKey(dst []byte, key []string, p map[string]string) []byte {
	for i, kp := range key {
		if i > 0 {
			dst = append(dst, 0)
		}
		dst = append(dst, p[kp]...)
	}
	return dst
}

func (ix *keyIndex) add(n uint32, p map[string]string, buf []byte) []byte {
	for i, k := range ix.keys {
		buf = appendKey(buf[:0], k, p)
		ix.rows[i][string(buf)] = n
	}
	for name, c := range ix.vals {
		c[p[name]]++
	}
	return buf
}

func (ix *keyIndex) remove(n uint32, p map[string]string, buf []byte) []byte {
	for i, k := range ix.keys {
		buf = appendKey(buf[:0], k, p)
		if m, ok := ix.rows[i][string(buf)]; ok && m == n {
			delete(ix.rows[i], string(buf))
		}
	}
	for name, c := range ix.vals {
		v := p[name]
		if c[v] <= 1 {
			delete(c, v)
		} else {
			c[v]--
		}
	}
	return buf
}

// deletedRow counts a row deleted from the table and rebuilds the maps
// once most of what they grew to is gone.
func (ix *keyIndex) deletedRow() {
	if len(ix.rows) == 0 || !ix.shrink.deletedOne(len(ix.rows[0])) {
		return
	}
	for i := range ix.rows {
		ix.rows[i] = rebuilt(ix.rows[i])
	}
	for name, c := range ix.vals {
		ix.vals[name] = rebuilt(c)
	}
}

// index returns the key index of a stored table, building it from the
// committed rows on first use.
func (e *Engine) index(in *objInfo, table string) *keyIndex {
	d := &e.data
	if ix := d.index[table]; ix != nil {
		return ix
	}
	if d.index == nil {
		d.index = map[string]*keyIndex{}
	}
	ix := &keyIndex{}
	for _, k := range in.obj.UniqueKeys {
		ix.keys = append(ix.keys, k.Params)
		ix.rows = append(ix.rows, map[string]uint32{})
		if len(k.Params) > 1 {
			for _, kp := range k.Params {
				if ix.vals == nil {
					ix.vals = map[string]map[string]int{}
				}
				ix.vals[kp] = map[string]int{}
			}
		}
	}
	var buf []byte
	for _, n := range d.tables[table] {
		if p := d.objs[table+itoa(n)+"."]; p != nil {
			buf = ix.add(n, p, buf)
		}
	}
	d.index[table] = ix
	return ix
}

// reindex updates the key indexes for the committed row at path going from
// old to v (nil: deleted, or not there before).
func (d *storedData) reindex(path string, old, v map[string]string, buf []byte) []byte {
	if len(d.index) == 0 {
		return buf
	}
	table, n, ok := rowOf(path)
	if !ok {
		return buf
	}
	ix := d.index[table]
	if ix == nil {
		return buf
	}
	if old != nil {
		buf = ix.remove(n, old, buf)
	}
	if v != nil {
		buf = ix.add(n, v, buf)
	} else if old != nil {
		ix.deletedRow()
	}
	return buf
}

// rowOf splits a row's path "Device.X.3." into its table "Device.X." and
// instance number.
func rowOf(path string) (table string, n uint32, ok bool) {
	s, ok := strings.CutSuffix(path, ".")
	if !ok {
		return "", 0, false
	}
	i := strings.LastIndexByte(s, '.')
	if i < 0 {
		return "", 0, false
	}
	n, ok = parseInstance(s[i+1:])
	return path[:i+1], n, ok
}

// rowReader reads rows of one table as the transaction sees them, without
// allocating.
type rowReader struct {
	t     *txn
	table string
	buf   []byte
}

func (r *rowReader) row(n uint32) map[string]string {
	r.buf = append(strconv.AppendUint(append(r.buf[:0], r.table...), uint64(n), 10), '.')
	if p, ok := r.t.objs[string(r.buf)]; ok {
		return p
	}
	return r.t.e.data.objs[string(r.buf)]
}

// changedRows are the rows of table this transaction created or changed,
// and not deleted.
func (t *txn) changedRows(table string) []uint32 {
	var out []uint32
	for path, p := range t.objs {
		if p == nil || !strings.HasPrefix(path, table) {
			continue
		}
		if tb, n, ok := rowOf(path); ok && tb == table {
			out = append(out, n)
		}
	}
	return out
}

// checkUnique checks that the rows of a stored table this transaction
// created or changed share no unique key with another row (Object exists
// with duplicate key, 7025): against the committed rows through the
// table's key index, and against each other. Rows the transaction did not
// touch were checked when they were written.
func (t *txn) checkUnique(in *objInfo, table string) error {
	if len(in.obj.UniqueKeys) == 0 {
		return nil
	}
	changed := t.changedRows(table)
	if len(changed) == 0 {
		return nil
	}
	ix := t.e.index(in, table)
	rr := &rowReader{t: t, table: table}
	var buf []byte
	for i, key := range ix.keys {
		var seen map[string]uint32 // among the changed rows
		if len(changed) > 1 {
			seen = make(map[string]uint32, len(changed))
		}
		for _, c := range changed {
			cp := rr.row(c)
			buf = appendKey(buf[:0], key, cp)
			if n, ok := ix.rows[i][string(buf)]; ok && n != c {
				if p := rr.row(n); p != nil && sameKey(key, cp, p) {
					return duplicate(table, n, c, key)
				}
			}
			if seen != nil {
				if n, ok := seen[string(buf)]; ok {
					return duplicate(table, min(n, c), max(n, c), key)
				}
				seen[string(buf)] = c
			}
		}
	}
	return nil
}

func duplicate(table string, a, b uint32, key []string) error {
	return usperr.Errorf(usperr.CodeDuplicateKey, "%s%d. and %s%d. have the same %s", table, a, table, b,
		strings.Join(key, ", ")).WithPath(fmt.Sprintf("%s%d.", table, b))
}

// sameKey reports whether rows a and b have the same values for the
// parameters of a unique key.
func sameKey(key []string, a, b map[string]string) bool {
	for _, kp := range key {
		if a[kp] != b[kp] {
			return false
		}
	}
	return true
}

// valueTaken reports whether a row of table, as the transaction sees it,
// has v for the parameter name: through the key index when name is a
// parameter of a unique key, else by reading the table.
func (t *txn) valueTaken(in *objInfo, table, name, v string) bool {
	rr := &rowReader{t: t, table: table}
	for i, k := range in.obj.UniqueKeys {
		if len(k.Params) != 1 || k.Params[0] != name {
			continue
		}
		if n, ok := t.e.index(in, table).rows[i][v]; ok {
			if p := rr.row(n); p != nil && p[name] == v {
				return true
			}
		}
		for _, n := range t.changedRows(table) {
			if rr.row(n)[name] == v {
				return true
			}
		}
		return false
	}
	if c, ok := t.e.index(in, table).vals[name]; ok {
		// The committed rows with v, less those this transaction changed
		// or deleted, plus its own rows with v.
		taken := c[v]
		for path, p := range t.objs {
			if !strings.HasPrefix(path, table) {
				continue
			}
			if tb, _, ok := rowOf(path); !ok || tb != table {
				continue
			}
			if old := t.e.data.objs[path]; old != nil && old[name] == v {
				taken--
			}
			if p != nil && p[name] == v {
				taken++
			}
		}
		return taken > 0
	}
	for _, n := range t.storedInstances(table) {
		if rr.row(n)[name] == v {
			return true
		}
	}
	return false
}
