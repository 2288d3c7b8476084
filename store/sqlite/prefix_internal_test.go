package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/uspkit/uspkit/store"
)

func TestPrefixSuccessor(t *testing.T) {
	tests := []struct {
		in   string
		want string
		ok   bool
	}{
		{"Device.X.3.", "Device.X.3/", true},
		{"a", "b", true},
		{"a\xff", "b", true},
		{"a\xfe\xff\xff", "a\xff", true},
		{"\xff\xff", "", false},
		{"", "", false},
	}
	for _, tc := range tests {
		got, ok := prefixSuccessor(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("prefixSuccessor(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func openTest(t testing.TB) *DB {
	t.Helper()
	db, err := Open(context.Background(), filepath.Join(t.TempDir(), "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// TestDeleteUsesPrimaryKeyRange checks that deleting an object and its
// descendants searches the primary key instead of scanning the table.
func TestDeleteUsesPrimaryKeyRange(t *testing.T) {
	db := openTest(t)
	for _, q := range []string{deleteRangeSQL, deleteFromSQL} {
		rows, err := db.db.Query("EXPLAIN QUERY PLAN "+q, "Device.X.3.", "Device.X.3/")
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		all := strings.Join(plan, "; ")
		if !strings.Contains(all, "SEARCH objects") || strings.Contains(all, "SCAN") {
			t.Errorf("%s: plan %q, want a SEARCH on the primary key", q, all)
		}
	}
}

// TestDeletePrefixBoundaries checks that a Delete removes exactly the
// object and what is below it, not its siblings that share leading bytes.
func TestDeletePrefixBoundaries(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		del  string
		keep []string
		gone []string
	}{
		{
			del:  "Device.X.3.",
			gone: []string{"Device.X.3.", "Device.X.3.Y.1.", "Device.X.3.\xff."},
			keep: []string{"Device.X.3", "Device.X.30.", "Device.X.3/", "Device.X.2.", "Device.X.4."},
		},
		{
			del:  "Device.Ü.1.",
			gone: []string{"Device.Ü.1.", "Device.Ü.1.A."},
			keep: []string{"Device.Ü.10.", "Device.Ü.2.", "Device.U.1."},
		},
		{
			del:  "",
			gone: []string{"Device.", "Device.X.1.", "\xff"},
		},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%q", tc.del), func(t *testing.T) {
			db := openTest(t)
			var b store.Batch
			for _, p := range append(append([]string{}, tc.keep...), tc.gone...) {
				b.Put = append(b.Put, store.Object{Path: p, Params: map[string]string{"A": p}})
			}
			if err := db.Apply(ctx, &b); err != nil {
				t.Fatal(err)
			}
			if err := db.Apply(ctx, &store.Batch{Delete: []string{tc.del}}); err != nil {
				t.Fatal(err)
			}
			snap, err := db.Load(ctx)
			if err != nil {
				t.Fatal(err)
			}
			left := map[string]bool{}
			for _, o := range snap.Objects {
				left[o.Path] = true
			}
			for _, p := range tc.keep {
				if !left[p] {
					t.Errorf("%q deleted, want kept", p)
				}
			}
			for _, p := range tc.gone {
				if left[p] {
					t.Errorf("%q kept, want deleted", p)
				}
			}
		})
	}
}

// BenchmarkDelete deletes one row (with a sub-object) from a table of
// 10,000 rows and puts it back, as an Agent's Delete and Add do.
func BenchmarkDelete(b *testing.B) {
	ctx := context.Background()
	db := openTest(b)
	const rows = 10000
	var batch store.Batch
	for i := range rows {
		p := fmt.Sprintf("Device.LocalAgent.Subscription.%d.", i+1)
		batch.Put = append(batch.Put, store.Object{Path: p, Params: map[string]string{"ID": p}})
	}
	if err := db.Apply(ctx, &batch); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p := fmt.Sprintf("Device.LocalAgent.Subscription.%d.", i%rows+1)
		if err := db.Apply(ctx, &store.Batch{Delete: []string{p}}); err != nil {
			b.Fatal(err)
		}
		if err := db.Apply(ctx, &store.Batch{Put: []store.Object{{Path: p, Params: map[string]string{"ID": p}}}}); err != nil {
			b.Fatal(err)
		}
	}
}

// TestCacheSize: Options.CacheKiB sets the connection's page cache, and
// the default is SQLite's.
func TestCacheSize(t *testing.T) {
	tests := []struct {
		kib  int
		want int
	}{{0, -2000}, {256, -256}}
	for _, tc := range tests {
		db, err := OpenOptions(context.Background(), filepath.Join(t.TempDir(), "c.db"), Options{CacheKiB: tc.kib})
		if err != nil {
			t.Fatal(err)
		}
		var got int
		if err := db.db.QueryRow("PRAGMA cache_size").Scan(&got); err != nil {
			t.Fatal(err)
		}
		db.Close()
		if got != tc.want {
			t.Errorf("CacheKiB %d: cache_size %d, want %d", tc.kib, got, tc.want)
		}
	}
}
