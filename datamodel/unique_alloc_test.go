package datamodel_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/uspkit/uspkit/datamodel"
	"github.com/uspkit/uspkit/schema"
)

// itemEngine is an engine with a stored table Device.Item.{i}. keyed by
// Alias and by Name, holding n rows.
func itemEngine(t testing.TB, n int) *datamodel.Engine {
	t.Helper()
	m := schema.New()
	m.Define("Device.")
	m.Define("Device.Item.{i}.", schema.ObjAddDelete, schema.AliasKey(), schema.Keys("Name")).
		Param("Alias", schema.String(schema.MaxLen(64)), schema.ReadWrite).
		Param("Name", schema.String(), schema.ReadWrite)
	mux := datamodel.NewMux(m)
	mux.Store("Device.Item.{i}.", nil)
	eng, err := datamodel.New(context.Background(), mux, datamodel.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if _, err := eng.Add(context.Background(), admin, false, []datamodel.CreateObject{{Path: "Device.Item.",
			Params: []datamodel.ParamSetting{{Param: "Name", Value: fmt.Sprint("item-", i), Required: true}}}}); err != nil {
			t.Fatal(err)
		}
	}
	return eng
}

// addDelete adds a row (the Agent assigns its Alias [R-ADD.5]) and deletes
// it again.
func addDelete(t testing.TB, eng *datamodel.Engine) {
	ctx := context.Background()
	res, err := eng.Add(ctx, admin, false, []datamodel.CreateObject{{Path: "Device.Item.",
		Params: []datamodel.ParamSetting{{Param: "Name", Value: "new", Required: true}}}})
	if err != nil || res[0].Err != nil {
		t.Fatalf("add: %v %v", err, res)
	}
	if _, err := eng.Delete(ctx, admin, false, []string{res[0].Path}); err != nil {
		t.Fatal(err)
	}
}

// TestUniqueKeyCheckAllocs: checking the unique keys of an Add (and
// assigning its Alias) allocates nothing per row of the table: an Add and
// Delete allocate as much with 500 rows as with 50.
func TestUniqueKeyCheckAllocs(t *testing.T) {
	small, large := itemEngine(t, 50), itemEngine(t, 500)
	a := testing.AllocsPerRun(20, func() { addDelete(t, small) })
	b := testing.AllocsPerRun(20, func() { addDelete(t, large) })
	if b > a+5 {
		t.Errorf("Add and Delete: %.0f allocations with 50 rows, %.0f with 500", a, b)
	}
}

// TestUniqueKeyStillChecked: a Set or Add that would give two rows the
// same Name is refused (7025), whichever row changes.
func TestUniqueKeyStillChecked(t *testing.T) {
	eng := itemEngine(t, 3)
	ctx := context.Background()
	res, err := eng.Set(ctx, admin, false, []datamodel.UpdateObject{{Path: "Device.Item.3.",
		Params: []datamodel.ParamSetting{{Param: "Name", Value: "item-0", Required: true}}}})
	if err == nil && (len(res) == 0 || res[0].Err == nil) {
		t.Errorf("Set to a Name taken: %v", res)
	}
	ares, err := eng.Add(ctx, admin, false, []datamodel.CreateObject{{Path: "Device.Item.",
		Params: []datamodel.ParamSetting{{Param: "Name", Value: "item-1", Required: true}}}})
	if err == nil && (len(ares) == 0 || ares[0].Err == nil) {
		t.Errorf("Add with a Name taken: %v", ares)
	}
}

// BenchmarkAddDelete is an Add and a Delete in a stored table of 1,000
// rows with two unique keys.
func BenchmarkAddDelete(b *testing.B) {
	eng := itemEngine(b, 1000)
	b.ReportAllocs()
	for b.Loop() {
		addDelete(b, eng)
	}
}
