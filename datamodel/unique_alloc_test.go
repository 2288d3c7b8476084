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

// TestUniqueKeyIndex: the key index follows every committed change, so
// that a key freed by a Set or a Delete can be taken again and a key in
// use cannot, in the same transaction or a later one.
func TestUniqueKeyIndex(t *testing.T) {
	ctx := context.Background()
	name := func(v string) []datamodel.ParamSetting {
		return []datamodel.ParamSetting{{Param: "Name", Value: v, Required: true}}
	}
	set := func(eng *datamodel.Engine, objs ...datamodel.UpdateObject) error {
		res, err := eng.Set(ctx, admin, false, objs)
		if err == nil {
			for _, r := range res {
				if r.Err != nil {
					return r.Err
				}
			}
		}
		return err
	}
	add := func(eng *datamodel.Engine, objs ...datamodel.CreateObject) error {
		res, err := eng.Add(ctx, admin, false, objs)
		if err == nil {
			for _, r := range res {
				if r.Err != nil {
					return r.Err
				}
			}
		}
		return err
	}
	for _, tc := range []struct {
		name string
		run  func(eng *datamodel.Engine) error
		ok   bool
	}{
		{"a Name freed by a Set is taken by an Add", func(eng *datamodel.Engine) error {
			if err := set(eng, datamodel.UpdateObject{Path: "Device.Item.1.", Params: name("renamed")}); err != nil {
				return err
			}
			return add(eng, datamodel.CreateObject{Path: "Device.Item.", Params: name("item-0")})
		}, true},
		{"the Name a Set gave is not taken by an Add", func(eng *datamodel.Engine) error {
			if err := set(eng, datamodel.UpdateObject{Path: "Device.Item.1.", Params: name("renamed")}); err != nil {
				return err
			}
			return add(eng, datamodel.CreateObject{Path: "Device.Item.", Params: name("renamed")})
		}, false},
		{"a Name freed by a Delete is taken by an Add", func(eng *datamodel.Engine) error {
			if _, err := eng.Delete(ctx, admin, false, []string{"Device.Item.2."}); err != nil {
				return err
			}
			return add(eng, datamodel.CreateObject{Path: "Device.Item.", Params: name("item-1")})
		}, true},
		{"two rows swap Names in one Set", func(eng *datamodel.Engine) error {
			return set(eng, datamodel.UpdateObject{Path: "Device.Item.1.", Params: name("item-1")},
				datamodel.UpdateObject{Path: "Device.Item.2.", Params: name("item-0")})
		}, true},
		{"two rows get one Name in one Set", func(eng *datamodel.Engine) error {
			return set(eng, datamodel.UpdateObject{Path: "Device.Item.1.", Params: name("same")},
				datamodel.UpdateObject{Path: "Device.Item.2.", Params: name("same")})
		}, false},
		{"two new rows with one Name in one Add", func(eng *datamodel.Engine) error {
			return add(eng, datamodel.CreateObject{Path: "Device.Item.", Params: name("twin")},
				datamodel.CreateObject{Path: "Device.Item.", Params: name("twin")})
		}, false},
		{"an Alias freed by a Delete is taken by an Add", func(eng *datamodel.Engine) error {
			if _, err := eng.Delete(ctx, admin, false, []string{"Device.Item.1."}); err != nil {
				return err
			}
			return add(eng, datamodel.CreateObject{Path: "Device.Item.", Params: []datamodel.ParamSetting{{Param: "Name", Value: "n"}, {Param: "Alias", Value: "cpe-1", Required: true}}})
		}, true},
		{"an assigned Alias skips one in use [R-ADD.5]", func(eng *datamodel.Engine) error {
			// Instance 4 takes cpe-5, so instance 5 cannot have it.
			if err := add(eng, datamodel.CreateObject{Path: "Device.Item.", Params: []datamodel.ParamSetting{{Param: "Name", Value: "a"}, {Param: "Alias", Value: "cpe-5", Required: true}}}); err != nil {
				return err
			}
			res, err := eng.Add(ctx, admin, false, []datamodel.CreateObject{{Path: "Device.Item.", Params: name("b")}})
			if err != nil || res[0].Err != nil {
				return fmt.Errorf("add: %v %v", err, res)
			}
			if got := res[0].UniqueKeys["Alias"]; got == "cpe-5" || got == "" {
				return fmt.Errorf("assigned Alias %q", got)
			}
			return nil
		}, true},
		{"an Alias in use is refused", func(eng *datamodel.Engine) error {
			return add(eng, datamodel.CreateObject{Path: "Device.Item.", Params: []datamodel.ParamSetting{{Param: "Name", Value: "n"}, {Param: "Alias", Value: "cpe-2", Required: true}}})
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			eng := itemEngine(t, 3) // Names item-0…item-2, Aliases cpe-1…cpe-3
			// A first check builds the index before the case runs.
			if err := set(eng, datamodel.UpdateObject{Path: "Device.Item.3.", Params: name("item-2")}); err != nil {
				t.Fatal(err)
			}
			err := tc.run(eng)
			if tc.ok && err != nil {
				t.Errorf("refused: %v", err)
			}
			if !tc.ok && err == nil {
				t.Error("accepted")
			}
		})
	}
}
