package journal

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/uspkit/uspkit/store"
)

// TestStaleJournalIgnored leaves the journal of an older generation next
// to a newer snapshot, as a crash between writing the snapshot and
// replacing the journal does: its records must not be applied again. The
// newer snapshot here differs from what the journal would make, so a
// replay would show.
func TestStaleJournalIgnored(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := Open(ctx, dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	put := func(v string) *store.Batch {
		return &store.Batch{Put: []store.Object{{Path: "Device.X.1.", Params: map[string]string{"V": v}}}}
	}
	db.Apply(ctx, put("old"))
	db.Apply(ctx, put("journal"))
	gen := db.gen
	db.Close()
	folded := &store.Snapshot{Objects: []store.Object{{Path: "Device.X.1.", Params: map[string]string{"V": "folded"}}}}
	if err := os.WriteFile(filepath.Join(dir, snapshotName), encodeSnapshot(gen+1, folded), 0o600); err != nil {
		t.Fatal(err)
	}
	db, err = Open(ctx, dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	snap, _ := db.Load(ctx)
	if got := snap.Objects[0].Params["V"]; got != "folded" {
		t.Fatalf("V = %q after reopen: the journal of generation %d was replayed onto snapshot %d", got, gen, gen+1)
	}
	// And the store goes on from there.
	db.Apply(ctx, put("after"))
	db.Close()
	db, err = Open(ctx, dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	snap, _ = db.Load(ctx)
	if got := snap.Objects[0].Params["V"]; got != "after" {
		t.Fatalf("V = %q, want after", got)
	}
}
