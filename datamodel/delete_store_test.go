package datamodel_test

import (
	"context"
	"strings"
	"testing"

	"github.com/uspkit/uspkit/datamodel"
	"github.com/uspkit/uspkit/store"
)

// TestDeleteRemovesStoredDescendants: deleting a stored row removes from
// the store the row, its single-instance sub-objects (Stats) and the rows
// of its sub-tables (Blade), and nothing of the other rows.
func TestDeleteRemovesStoredDescendants(t *testing.T) {
	ctx := context.Background()
	st := store.NewMemory()
	f := newFixture(t, st)
	f.addFan(t, "Name", "a")
	f.addFan(t, "Name", "b")
	for _, p := range []string{"Device.Fan.1.Blade.", "Device.Fan.1.Blade.", "Device.Fan.2.Blade."} {
		if _, err := f.eng.Add(ctx, admin, false, []datamodel.CreateObject{{Path: p}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.eng.Delete(ctx, admin, false, []string{"Device.Fan.1."}); err != nil {
		t.Fatal(err)
	}
	snap, err := st.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var kept []string
	for _, o := range snap.Objects {
		if strings.HasPrefix(o.Path, "Device.Fan.1.") {
			t.Errorf("%s is still stored", o.Path)
		}
		if strings.HasPrefix(o.Path, "Device.Fan.2.") {
			kept = append(kept, o.Path)
		}
	}
	if len(kept) < 3 { // the row, its Stats, its Blade
		t.Errorf("of Device.Fan.2. the store keeps %v", kept)
	}
}
