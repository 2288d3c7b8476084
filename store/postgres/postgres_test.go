package postgres_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/jackc/pgx/v5"

	"github.com/uspkit/uspkit/internal/testenv"
	"github.com/uspkit/uspkit/store"
	"github.com/uspkit/uspkit/store/postgres"
	"github.com/uspkit/uspkit/store/storetest"
)

// open opens dsn, closed at the end of t.
func open(t testing.TB, dsn string) *postgres.DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// fresh opens a new, empty database on the shared server.
func fresh(t testing.TB) (*postgres.DB, string) {
	t.Helper()
	s := testenv.Postgres(t)
	dsn := s.DSN(s.NewDatabase(t))
	return open(t, dsn), dsn
}

// execSQL runs sql in the database of dsn.
func execSQL(t testing.TB, dsn, sql string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// testDB remembers where a store is, for the suite's reopen.
type testDB struct {
	*postgres.DB
	dsn string
}

func TestSuite(t *testing.T) {
	testenv.Postgres(t) // skips here, once, when PostgreSQL is missing
	storetest.Run(t,
		func(t *testing.T) storetest.Store {
			db, dsn := fresh(t)
			return testDB{db, dsn}
		},
		func(t *testing.T, s storetest.Store) storetest.Store {
			db := s.(testDB)
			db.Close()
			return testDB{open(t, db.dsn), db.dsn}
		})
}

func TestOpen(t *testing.T) {
	s := testenv.Postgres(t)
	ctx := context.Background()
	tests := []struct {
		name    string
		dsn     func(t *testing.T) string // prepares a database
		wantErr string                    // "" for success
	}{
		{"fresh database", func(t *testing.T) string { return s.DSN(s.NewDatabase(t)) }, ""},
		{"migrated before", func(t *testing.T) string {
			dsn := s.DSN(s.NewDatabase(t))
			open(t, dsn).Close()
			return dsn
		}, ""},
		{"URL over the unix socket", func(t *testing.T) string {
			return fmt.Sprintf("postgres://postgres@/%s?host=%s&port=%d", s.NewDatabase(t), s.SockDir(), s.Port())
		}, ""},
		{"schema from the future", func(t *testing.T) string {
			dsn := s.DSN(s.NewDatabase(t))
			open(t, dsn).Close()
			execSQL(t, dsn, "UPDATE schema_version SET version = 99")
			return dsn
		}, "schema version 99 is newer"},
		{"malformed", func(t *testing.T) string { return "host=127.0.0.1 port=none" }, "cannot parse"},
		{"no such database", func(t *testing.T) string { return s.DSN("usp_absent") }, `database "usp_absent" does not exist`},
		{"nothing listening", func(t *testing.T) string {
			return fmt.Sprintf("host=127.0.0.1 port=%d user=postgres connect_timeout=5", testenv.FreePort(t))
		}, "connect"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, err := postgres.Open(ctx, tt.dsn(t))
			if err == nil {
				defer db.Close()
			}
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Open: %v", err)
			case tt.wantErr != "" && err == nil:
				t.Fatalf("Open succeeded, want an error with %q", tt.wantErr)
			case tt.wantErr != "" && !strings.Contains(err.Error(), tt.wantErr):
				t.Fatalf("Open: %v, want an error with %q", err, tt.wantErr)
			case err == nil:
				if err := db.Apply(ctx, &store.Batch{Put: []store.Object{{Path: "Device.X."}}}); err != nil {
					t.Fatalf("Apply: %v", err)
				}
			}
		})
	}
}

// TestSearchPath keeps the tables in a schema of their own.
func TestSearchPath(t *testing.T) {
	s := testenv.Postgres(t)
	dsn := s.DSN(s.NewDatabase(t))
	execSQL(t, dsn, "CREATE SCHEMA uspkit")
	db := open(t, dsn+" search_path=uspkit")
	if err := db.Apply(context.Background(), &store.Batch{Put: []store.Object{{Path: "Device.X."}}}); err != nil {
		t.Fatal(err)
	}
	tables := map[string][]string{}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, _ := conn.Query(ctx, "SELECT schemaname, tablename FROM pg_tables WHERE schemaname IN ('public', 'uspkit') ORDER BY 2")
	var schema, table string
	_, err = pgx.ForEachRow(rows, []any{&schema, &table}, func() error {
		tables[schema] = append(tables[schema], table)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{"uspkit": {"counters", "fleet_agents", "fleet_params", "fleet_tags", "items", "objects", "schema_version"}}
	if diff := cmp.Diff(want, tables); diff != "" {
		t.Errorf("tables by schema (-want +got):\n%s", diff)
	}
}

// TestOpenConcurrently opens a new database from many goroutines at once:
// the first migrates it, the others wait for the advisory lock.
func TestOpenConcurrently(t *testing.T) {
	s := testenv.Postgres(t)
	dsn := s.DSN(s.NewDatabase(t))
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			db, err := postgres.Open(context.Background(), dsn)
			if err != nil {
				t.Error(err)
				return
			}
			db.Close()
		})
	}
	wg.Wait()
}

// TestMatchesMemory applies the same Batches to a database and to
// store.Memory, the reference, and compares what each loads.
func TestMatchesMemory(t *testing.T) {
	db, dsn := fresh(t)
	obj := func(p string, kv ...string) store.Object {
		o := store.Object{Path: p, Params: map[string]string{}}
		for i := 0; i+1 < len(kv); i += 2 {
			o.Params[kv[i]] = kv[i+1]
		}
		return o
	}
	objs := func(paths ...string) []store.Object {
		var out []store.Object
		for _, p := range paths {
			out = append(out, obj(p))
		}
		return out
	}
	tests := []struct {
		name    string
		batches []store.Batch
	}{
		{"delete a subtree, not its siblings", []store.Batch{
			{Put: objs("Device.A.1.", "Device.A.1.B.1.", "Device.A.10.", "Device.A.2.", "Device.A.")},
			{Delete: []string{"Device.A.1."}},
		}},
		{"a prefix need not end at a dot", []store.Batch{
			{Put: objs("Device.A.1.", "Device.A.10.", "Device.A.2.")},
			{Delete: []string{"Device.A.1"}},
		}},
		{"delete at the end of ASCII", []store.Batch{
			{Put: objs("P.\x7f", "P.\x7f.x", "P.\u0080", "P.\x7e")},
			{Delete: []string{"P.\x7f"}},
		}},
		{"delete before the surrogates", []store.Batch{
			{Put: objs("P.\ud7ff", "P.\ud7ffx", "P.\ue000", "P.\ud7fe")},
			{Delete: []string{"P.\ud7ff"}},
		}},
		{"delete at the last code point", []store.Batch{
			{Put: objs("P.\U0010ffff", "P.\U0010ffffz", "P/", "P.\U0010fffe")},
			{Delete: []string{"P.\U0010ffff"}},
		}},
		{"delete with multibyte prefixes", []store.Batch{
			{Put: objs("Dévice.1.", "Dévice.10.", "Dévicf.", "Device.1.", "Dêvice.")},
			{Delete: []string{"Dévice.1"}},
		}},
		{"delete everything", []store.Batch{
			{Put: objs("A.", "B.1.", "\U0010ffff")},
			{Delete: []string{""}},
		}},
		{"deletes before puts", []store.Batch{
			{Put: objs("A.1.", "A.2.")},
			{Delete: []string{"A.", "A.1."}, Put: []store.Object{obj("A.1.", "X", "new")}},
		}},
		{"the last put of a path wins", []store.Batch{
			{Put: []store.Object{obj("A.1.", "X", "1"), obj("A.2."), obj("A.1.", "X", "2", "Y", "y")}},
		}},
		{"puts replace every parameter", []store.Batch{
			{Put: []store.Object{obj("A.1.", "X", "1", "Y", "1")}},
			{Put: []store.Object{obj("A.1.", "Y", "2")}},
		}},
		{"parameters keep any text", []store.Batch{
			{Put: []store.Object{obj("A.1.", "", "empty key", "Quote", `"\`, "Unicode", "ünï €𝄞", "Empty", "", "JSON", `{"a":1}`)}},
			{Put: []store.Object{{Path: "A.2."}}},
		}},
		{"counters only grow", []store.Batch{
			{Counters: map[string]uint32{"a": 5, "b": 1, "max": 1<<32 - 1}},
			{Counters: map[string]uint32{"a": 3, "b": 2, "c": 0}},
		}},
		{"items: deletes before puts, last put wins", []store.Batch{
			{PutItems: []store.Item{{Kind: "q", ID: "1", Data: []byte("a")}, {Kind: "q", ID: "2", Data: []byte("b")}}},
			{DeleteItems: []store.Item{{Kind: "q", ID: "1"}, {Kind: "q", ID: "absent"}},
				PutItems: []store.Item{{Kind: "q", ID: "1", Data: []byte("c")}, {Kind: "q", ID: "1", Data: []byte{0, 255}}}},
		}},
		{"items sort by kind, then id, as bytes", []store.Batch{
			{PutItems: []store.Item{{Kind: "b", ID: "1"}, {Kind: "a", ID: "b"}, {Kind: "a", ID: "B"}, {Kind: "a", ID: "é"}, {Kind: "ab", ID: "0", Data: []byte{}}}},
		}},
		{"objects sort as bytes", []store.Batch{
			{Put: objs("a.", "B.", "é.", "e.", "Z.", "_.", "1.")},
		}},
	}
	ctx := context.Background()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			execSQL(t, dsn, "TRUNCATE objects, counters, items")
			mem := store.NewMemory()
			for _, b := range tt.batches {
				if err := db.Apply(ctx, &b); err != nil {
					t.Fatalf("Apply: %v", err)
				}
				mem.Apply(ctx, &b)
			}
			want, _ := mem.Load(ctx)
			got, err := db.Load(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("snapshot (-memory +postgres):\n%s", diff)
			}
		})
	}
}

// TestFailedBatchChangesNothing applies a Batch that PostgreSQL rejects
// in its last statement (text cannot hold NUL) and checks that none of it
// took effect.
func TestFailedBatchChangesNothing(t *testing.T) {
	db, _ := fresh(t)
	ctx := context.Background()
	before := &store.Batch{Put: []store.Object{{Path: "Device.A.1.", Params: map[string]string{"X": "1"}}}, Counters: map[string]uint32{"n": 1}}
	if err := db.Apply(ctx, before); err != nil {
		t.Fatal(err)
	}
	want, _ := db.Load(ctx)
	bad := &store.Batch{
		Delete:   []string{"Device.A."},
		Put:      []store.Object{{Path: "Device.B.1."}},
		Counters: map[string]uint32{"n": 9},
		PutItems: []store.Item{{Kind: "bad\x00kind", ID: "1"}},
	}
	if err := db.Apply(ctx, bad); err == nil {
		t.Fatal("Apply of a batch with a NUL in a kind succeeded")
	}
	got, err := db.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("a failed batch changed the store (-before +after):\n%s", diff)
	}
}

// TestSerializable runs writers that each delete one subtree and add to
// the other, A and B in turn. In any serial order of those Batches one of
// the subtrees is empty, so no snapshot may hold objects in both. Under
// READ COMMITTED two such Batches that overlap each miss the other's new
// object, and both survive (write skew); SERIALIZABLE aborts one, and
// Apply retries it.
func TestSerializable(t *testing.T) {
	db, _ := fresh(t)
	ctx := context.Background()
	check := func(snap *store.Snapshot) error {
		var a, b int
		for _, o := range snap.Objects {
			if strings.HasPrefix(o.Path, "Device.A.") {
				a++
			} else {
				b++
			}
		}
		if a > 0 && b > 0 {
			return fmt.Errorf("a snapshot holds %d objects under Device.A. and %d under Device.B.", a, b)
		}
		return nil
	}
	done := make(chan struct{})
	var readers sync.WaitGroup
	readers.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
			}
			snap, err := db.Load(ctx)
			if err == nil {
				err = check(snap)
			}
			if err != nil {
				t.Error(err)
				return
			}
		}
	})
	var writers sync.WaitGroup
	for g := range 4 {
		writers.Go(func() {
			for i := range 25 {
				add, del := "Device.A.", "Device.B."
				if (g+i)%2 == 1 {
					add, del = del, add
				}
				b := &store.Batch{Delete: []string{del}, Put: []store.Object{{Path: fmt.Sprintf("%s%d.", add, 100*g+i)}}}
				if err := db.Apply(ctx, b); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	writers.Wait()
	close(done)
	readers.Wait()
	snap, err := db.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := check(snap); err != nil {
		t.Error(err)
	}
}

func TestPrefixEnd(t *testing.T) {
	tests := []struct {
		prefix, end string
		ok          bool
	}{
		{"", "", false},
		{"a", "b", true},
		{"Device.A.1.", "Device.A.1/", true},
		{"x\x7f", "x\u0080", true},
		{"é", "ê", true},
		{"\ud7ff", "\ue000", true},
		{"\uffff", "\U00010000", true},
		{"a\U0010ffff", "b", true},
		{"a\U0010ffff\U0010ffff", "b", true},
		{"\U0010ffff", "", false},
	}
	for _, tt := range tests {
		end, ok := postgres.PrefixEnd(tt.prefix)
		if end != tt.end || ok != tt.ok {
			t.Errorf("PrefixEnd(%+q) = %+q, %v; want %+q, %v", tt.prefix, end, ok, tt.end, tt.ok)
			continue
		}
		if !ok {
			continue
		}
		// Every extension of the prefix sorts in [prefix, end).
		for _, ext := range []string{"", "\x00", "\x7f", "é", "\U0010ffff", "\U0010ffff\U0010ffff"} {
			if s := tt.prefix + ext; s < tt.prefix || s >= end {
				t.Errorf("%+q is outside [%+q, %+q)", s, tt.prefix, end)
			}
		}
	}
}
