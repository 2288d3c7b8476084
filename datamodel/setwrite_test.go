package datamodel_test

import (
	"context"
	"testing"

	"github.com/uspkit/uspkit/datamodel"
	"github.com/uspkit/uspkit/schema"
	"github.com/uspkit/uspkit/store"
)

// countingStore is store.Memory counting the batches applied to it.
type countingStore struct {
	*store.Memory
	applied int
}

func (s *countingStore) Apply(ctx context.Context, b *store.Batch) error {
	s.applied++
	return s.Memory.Apply(ctx, b)
}

// TestSetUnchangedNotStored: a Set whose values are those the stored object
// already has succeeds without writing to the store; one that changes a
// value, or gives a value the stored row lacks, writes it.
func TestSetUnchangedNotStored(t *testing.T) {
	ctx := context.Background()
	m := schema.New()
	m.Define("Device.")
	m.Define("Device.Thing.", schema.ObjReadOnly).
		Param("Flag", schema.Boolean(), schema.ReadWrite, schema.Default("false")).
		Param("Name", schema.String(), schema.ReadWrite)
	mux := datamodel.NewMux(m)
	mux.Store("Device.Thing.", nil)
	st := &countingStore{Memory: store.NewMemory()}
	eng, err := datamodel.New(ctx, mux, datamodel.Options{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	set := func(name, v string) map[string]string {
		t.Helper()
		res, err := eng.Set(ctx, admin, false, []datamodel.UpdateObject{{Path: "Device.Thing.",
			Params: []datamodel.ParamSetting{{Param: name, Value: v, Required: true}}}})
		if err != nil || len(res) != 1 || res[0].Err != nil || len(res[0].Updated) != 1 {
			t.Fatalf("Set %s=%q: %v %+v", name, v, err, res)
		}
		return res[0].Updated[0].Params
	}
	for _, tc := range []struct {
		name, value string
		writes      int
	}{
		{"Flag", "false", 0}, // the default, already stored
		{"Flag", "true", 1},
		{"Flag", "true", 0},
		{"Name", "", 0},
		{"Name", "x", 1},
		{"Flag", "false", 1},
	} {
		before := st.applied
		if got := set(tc.name, tc.value); got[tc.name] != tc.value {
			t.Errorf("Set %s=%q answered %v", tc.name, tc.value, got)
		}
		if n := st.applied - before; n != tc.writes {
			t.Errorf("Set %s=%q: %d writes to the store, want %d", tc.name, tc.value, n, tc.writes)
		}
	}
	r := eng.Get(ctx, admin, []string{"Device.Thing."}, 0)
	if p := r[0].Objects[0].Params; p["Flag"] != "false" || p["Name"] != "x" {
		t.Errorf("Device.Thing. = %v", p)
	}
}
