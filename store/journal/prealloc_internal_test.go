package journal

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/uspkit/uspkit/store"
)

// TestZeroRecordEndsJournal: a record is never empty, so the zeros the
// journal is extended with read as its end, not as records.
func TestZeroRecordEndsJournal(t *testing.T) {
	if b, err := decodeBatch(nil); err == nil {
		t.Fatalf("an empty payload decodes to %+v", b)
	}
	if rec := appendRecord(nil, &store.Batch{Put: []store.Object{{Path: "Device.X.1.", Params: map[string]string{}}}}); rec[0] == 0 {
		t.Fatalf("a record starts with a zero length: %x", rec)
	}
}

// TestPreallocatedTail: the journal file reaches past its records with
// zeros; reopening keeps every record and the zeros (nothing is cut, no
// warning), a record torn inside the zeros is cut, and appends after
// either are read back.
func TestPreallocatedTail(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	put := func(db *DB, i int) {
		t.Helper()
		if err := db.Apply(ctx, &store.Batch{Put: []store.Object{{Path: "Device.X." + itoa(i) + ".", Params: map[string]string{"A": "v"}}}}); err != nil {
			t.Fatal(err)
		}
	}
	count := func(db *DB) int {
		t.Helper()
		s, err := db.Load(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return len(s.Objects)
	}
	jPath := filepath.Join(dir, journalName)
	db, err := Open(ctx, dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 5; i++ {
		put(db, i)
	}
	size := db.size
	db.Close()
	fi, err := os.Stat(jPath)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() < size+preallocate/2 {
		t.Fatalf("journal file %d bytes for %d bytes of records: not extended ahead", fi.Size(), size)
	}
	var warned logCounter
	if db, err = Open(ctx, dir, Options{Logger: warned.logger()}); err != nil {
		t.Fatal(err)
	}
	if n := count(db); n != 5 || db.size != size || warned.n != 0 {
		t.Fatalf("reopened: %d objects, records end at %d (want %d), %d warnings", n, db.size, size, warned.n)
	}
	put(db, 6)
	size = db.size
	db.Close()
	// A crash in the middle of the next record's write: its first bytes are
	// in the zeros.
	f, err := os.OpenFile(jPath, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte{0x30, 1, 2, 3, 4, 5}, size)
	f.Close()
	if db, err = Open(ctx, dir, Options{Logger: warned.logger()}); err != nil {
		t.Fatal(err)
	}
	if n := count(db); n != 6 || warned.n != 1 {
		t.Fatalf("after a torn record: %d objects, %d warnings; want 6, 1", n, warned.n)
	}
	put(db, 7)
	db.Close()
	if db, err = Open(ctx, dir, Options{}); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if n := count(db); n != 7 {
		t.Fatalf("after an append past the cut: %d objects, want 7", n)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

// logCounter counts the log lines at warn level.
type logCounter struct{ n int }

func (c *logCounter) logger() *slog.Logger { return slog.New(countHandler{c}) }

type countHandler struct{ c *logCounter }

func (h countHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h countHandler) Handle(_ context.Context, r slog.Record) error {
	if r.Level >= slog.LevelWarn {
		h.c.n++
	}
	return nil
}
func (h countHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h countHandler) WithGroup(string) slog.Handler      { return h }
