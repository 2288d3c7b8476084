package postgres

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/uspkit/uspkit/store"
)

// The statements of one Apply, in the order they run. Rows are passed as
// arrays, so a Batch costs one statement per kind of change (and one per
// deleted subtree) whatever its size.
const (
	deleteRange = `DELETE FROM objects WHERE path >= $1 AND path < $2`
	deleteFrom  = `DELETE FROM objects WHERE path >= $1`
	putObjects  = `INSERT INTO objects (path, params)
SELECT p, v::jsonb FROM unnest($1::text[], $2::text[]) AS u(p, v)
ON CONFLICT (path) DO UPDATE SET params = excluded.params`
	putCounters = `INSERT INTO counters (name, value)
SELECT * FROM unnest($1::text[], $2::bigint[])
ON CONFLICT (name) DO UPDATE SET value = excluded.value WHERE counters.value < excluded.value`
	deleteItems = `DELETE FROM items WHERE (kind, id) IN (SELECT * FROM unnest($1::text[], $2::text[]))`
	putItems    = `INSERT INTO items (kind, id, data)
SELECT * FROM unnest($1::text[], $2::text[], $3::bytea[])
ON CONFLICT (kind, id) DO UPDATE SET data = excluded.data`
)

// maxAttempts bounds how often Apply runs a Batch that keeps losing
// serialization conflicts; the back-off between attempts grows to
// maxBackoff.
const (
	maxAttempts = 30
	maxBackoff  = 100 * time.Millisecond
)

// Apply applies b in one SERIALIZABLE transaction, durable when it
// returns nil. Deletes apply before Puts, DeleteItems before PutItems;
// when a Batch puts the same object or item twice the later one wins.
func (db *DB) Apply(ctx context.Context, b *store.Batch) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("postgres: apply: %w", err)
	}
	if b.Empty() {
		return nil
	}
	w, err := newWrite(b)
	if err != nil {
		return fmt.Errorf("postgres: apply: %w", err)
	}
	for attempt := 1; ; attempt++ {
		err := db.applyOnce(ctx, w)
		if err == nil {
			return nil
		}
		if !retryable(err) {
			return fmt.Errorf("postgres: apply: %w", err)
		}
		if attempt == maxAttempts {
			return fmt.Errorf("postgres: apply: gave up after %d attempts: %w", attempt, err)
		}
		if err := sleep(ctx, backoff(attempt)); err != nil {
			return fmt.Errorf("postgres: apply: %w", err)
		}
	}
}

// applyOnce sends the transaction's BEGIN and statements in one round
// trip and commits in a second.
func (db *DB) applyOnce(ctx context.Context, w *write) error {
	br := db.pool.SendBatch(ctx, w.batch())
	tx := br.Tx()
	if err := br.Close(); err != nil {
		tx.Rollback(ctx)
		return err
	}
	return tx.Commit(ctx)
}

// retryable reports whether err says the transaction was rolled back for
// a conflict with another (serialization failure, deadlock), or failed
// before anything reached the server (a pooled connection that broke).
func retryable(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "40001" || pe.Code == "40P01"
	}
	return pgconn.SafeToRetry(err)
}

// backoff is a random pause before attempt+1, growing exponentially from
// about a millisecond up to maxBackoff.
func backoff(attempt int) time.Duration {
	d := min(time.Millisecond<<min(attempt, 20), maxBackoff)
	return d/2 + rand.N(d/2+1)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// write is a Batch as statement arguments, built once and sent on every
// attempt. Rows are sorted by key, so that concurrent transactions lock
// rows in the same order, and duplicates keep the last value, which
// ON CONFLICT requires.
type write struct {
	deletes       []string
	paths, params []string
	names         []string
	values        []int64
	delKinds      []string
	delIDs        []string
	kinds, ids    []string
	data          [][]byte
}

func newWrite(b *store.Batch) (*write, error) {
	w := &write{deletes: b.Delete}
	for _, o := range lastOf(b.Put, comparePaths) {
		params := []byte("{}")
		if len(o.Params) > 0 {
			var err error
			if params, err = json.Marshal(o.Params); err != nil {
				return nil, fmt.Errorf("object %s: %w", o.Path, err)
			}
		}
		w.paths = append(w.paths, o.Path)
		w.params = append(w.params, string(params))
	}
	for _, n := range slices.Sorted(maps.Keys(b.Counters)) {
		if v := b.Counters[n]; v > 0 { // 0 is where every counter starts
			w.names = append(w.names, n)
			w.values = append(w.values, int64(v))
		}
	}
	for _, it := range b.DeleteItems {
		w.delKinds = append(w.delKinds, it.Kind)
		w.delIDs = append(w.delIDs, it.ID)
	}
	for _, it := range lastOf(b.PutItems, compareItems) {
		data := it.Data
		if data == nil {
			data = []byte{} // NULL is not allowed
		}
		w.kinds = append(w.kinds, it.Kind)
		w.ids = append(w.ids, it.ID)
		w.data = append(w.data, data)
	}
	return w, nil
}

func comparePaths(a, b store.Object) int { return strings.Compare(a.Path, b.Path) }

func compareItems(a, b store.Item) int {
	return cmp.Or(strings.Compare(a.Kind, b.Kind), strings.Compare(a.ID, b.ID))
}

// lastOf returns xs sorted by compare, keeping only the last of each run
// of equal elements.
func lastOf[T any](xs []T, compare func(a, b T) int) []T {
	if len(xs) < 2 {
		return xs
	}
	s := slices.Clone(xs)
	slices.SortStableFunc(s, compare)
	out := s[:0]
	for i, x := range s {
		if i+1 < len(s) && compare(s[i+1], x) == 0 {
			continue
		}
		out = append(out, x)
	}
	return out
}

// batch queues the transaction: a pgx.Batch is sent only once, so every
// attempt gets a new one.
func (w *write) batch() *pgx.Batch {
	b := &pgx.Batch{}
	b.BeginTx(pgx.TxOptions{IsoLevel: pgx.Serializable})
	for _, d := range w.deletes {
		if end, ok := prefixEnd(d); ok {
			b.Queue(deleteRange, d, end)
		} else {
			b.Queue(deleteFrom, d)
		}
	}
	if len(w.paths) > 0 {
		b.Queue(putObjects, w.paths, w.params)
	}
	if len(w.names) > 0 {
		b.Queue(putCounters, w.names, w.values)
	}
	if len(w.delKinds) > 0 {
		b.Queue(deleteItems, w.delKinds, w.delIDs)
	}
	if len(w.kinds) > 0 {
		b.Queue(putItems, w.kinds, w.ids, w.data)
	}
	return b
}

// prefixEnd returns the least string greater than every string that
// begins with p, so that a prefix is the range [p, end) of an index in
// byte order. It is p with its last character replaced by the next one
// (code points order as their UTF-8 bytes do); ok is false when there is
// no bound, for "" and strings of U+10FFFF only.
func prefixEnd(p string) (end string, ok bool) {
	for p != "" {
		r, size := utf8.DecodeLastRuneInString(p)
		p = p[:len(p)-size]
		switch {
		case r == utf8.MaxRune:
			continue
		case r == 0xD7FF: // the surrogates are not characters
			r = 0xE000
		default:
			r++
		}
		return p + string(r), true
	}
	return "", false
}
