package datamodel_test

import (
	"context"
	"testing"

	"github.com/uspkit/uspkit/datamodel"
	"github.com/uspkit/uspkit/schema"
	"github.com/uspkit/uspkit/store"
)

// TestUpdate: the Agent's own updates write read-only parameters, check
// types, and are stored and published only when they change a value.
func TestUpdate(t *testing.T) {
	ctx := context.Background()
	m := schema.New()
	m.Define("Device.")
	m.Define("Device.Row.{i}.", schema.ObjAddDelete).
		Param("Status", schema.String(schema.Enum("Up", "Down")), schema.Default("Down")).
		Param("Count", schema.UnsignedInt(), schema.ReadWrite)
	mux := datamodel.NewMux(m)
	mux.Store("Device.Row.{i}.", nil)
	st := &countingStore{Memory: store.NewMemory()}
	published := 0
	eng, err := datamodel.New(ctx, mux, datamodel.Options{Store: st, OnChange: func(_ context.Context, cs []datamodel.Change) {
		published += len(cs)
	}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := eng.Add(ctx, admin, false, []datamodel.CreateObject{{Path: "Device.Row."}}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		path    string
		values  map[string]string
		ok      bool
		changes int // stored and published
	}{
		{"read-only parameter", "Device.Row.1.", map[string]string{"Status": "Up"}, true, 1},
		{"same value again", "Device.Row.1.", map[string]string{"Status": "Up"}, true, 0},
		{"same and new values", "Device.Row.1.", map[string]string{"Status": "Up", "Count": "3"}, true, 1},
		{"value outside the type", "Device.Row.1.", map[string]string{"Status": "Sideways"}, false, 0},
		{"unknown parameter", "Device.Row.1.", map[string]string{"Nope": "1"}, false, 0},
		{"no such row", "Device.Row.9.", map[string]string{"Status": "Up"}, false, 0},
		{"a table", "Device.Row.", map[string]string{"Status": "Up"}, false, 0},
	} {
		applied, pub := st.applied, published
		err := eng.Update(ctx, tc.path, tc.values)
		if tc.ok != (err == nil) {
			t.Errorf("%s: Update: %v", tc.name, err)
		}
		if st.applied-applied != tc.changes || published-pub != tc.changes {
			t.Errorf("%s: %d writes, %d changes published, want %d", tc.name, st.applied-applied, published-pub, tc.changes)
		}
	}
	r := eng.Get(ctx, admin, []string{"Device.Row.1."}, 0)
	if p := r[0].Objects[0].Params; p["Status"] != "Up" || p["Count"] != "3" {
		t.Errorf("Device.Row.1. = %v", p)
	}
}

// BenchmarkUpdateUnchanged is an Update that changes nothing (the Agent
// setting OnBoardingComplete to false again on each SendOnBoardRequest()).
func BenchmarkUpdateUnchanged(b *testing.B) {
	ctx := context.Background()
	eng := pairEngineStore(b, 100, discard{})
	vals := map[string]string{"ID": "id-50"}
	b.ReportAllocs()
	for b.Loop() {
		if err := eng.Update(ctx, "Device.Pair.51.", vals); err != nil {
			b.Fatal(err)
		}
	}
}
