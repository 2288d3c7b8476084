package datamodel_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/uspkit/uspkit/datamodel"
	"github.com/uspkit/uspkit/schema"
	"github.com/uspkit/uspkit/store"
)

// pairEngine is an engine with a stored table Device.Pair.{i}. keyed by
// Alias and by the pair (Owner, ID), holding n rows with IDs id-0…, Owner
// left to the engine.
func pairEngine(t testing.TB, n int) *datamodel.Engine {
	return pairEngineStore(t, n, nil)
}

// discard is a Store that keeps nothing, for benchmarks of the engine
// alone.
type discard struct{}

func (discard) Load(context.Context) (*store.Snapshot, error) { return &store.Snapshot{}, nil }
func (discard) Apply(context.Context, *store.Batch) error     { return nil }

func pairEngineStore(t testing.TB, n int, st datamodel.Store) *datamodel.Engine {
	t.Helper()
	m := schema.New()
	m.Define("Device.")
	m.Define("Device.Pair.{i}.", schema.ObjAddDelete, schema.AliasKey(), schema.Keys("Owner", "ID")).
		Param("Alias", schema.String(schema.MaxLen(64)), schema.ReadWrite).
		Param("Owner", schema.String(), schema.ReadWrite).
		Param("ID", schema.String(), schema.ReadWrite)
	mux := datamodel.NewMux(m)
	mux.Store("Device.Pair.{i}.", nil)
	eng, err := datamodel.New(context.Background(), mux, datamodel.Options{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if _, err := eng.Add(context.Background(), admin, false, []datamodel.CreateObject{{Path: "Device.Pair.",
			Params: []datamodel.ParamSetting{{Param: "ID", Value: fmt.Sprint("id-", i), Required: true}}}}); err != nil {
			t.Fatal(err)
		}
	}
	return eng
}

// TestCompositeKeyAssigned: a parameter of a key of several parameters
// the Controller leaves out gets a value no other row has [R-ADD.5], as
// the rows stand in the same transaction: rows added or changed before it
// count, rows deleted or changed away do not.
func TestCompositeKeyAssigned(t *testing.T) {
	ctx := context.Background()
	owner := func(t *testing.T, eng *datamodel.Engine, path string) string {
		t.Helper()
		r := eng.Get(ctx, admin, []string{path + "Owner"}, 0)
		if r[0].Err != nil || len(r[0].Objects) != 1 {
			t.Fatalf("get %sOwner: %v", path, r[0].Err)
		}
		return r[0].Objects[0].Params["Owner"]
	}
	addOne := func(t *testing.T, eng *datamodel.Engine, objs ...datamodel.CreateObject) []datamodel.CreatedObjectResult {
		t.Helper()
		res, err := eng.Add(ctx, admin, false, objs)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	obj := func(id string, more ...datamodel.ParamSetting) datamodel.CreateObject {
		return datamodel.CreateObject{Path: "Device.Pair.", Params: append([]datamodel.ParamSetting{{Param: "ID", Value: id, Required: true}}, more...)}
	}
	for _, tc := range []struct {
		name string
		run  func(t *testing.T, eng *datamodel.Engine) (path, want string)
	}{
		{"first free value", func(t *testing.T, eng *datamodel.Engine) (string, string) {
			return addOne(t, eng, obj("x"))[0].Path, "cpe-4"
		}},
		{"a committed row holds the value", func(t *testing.T, eng *datamodel.Engine) (string, string) {
			addOne(t, eng, obj("x", datamodel.ParamSetting{Param: "Owner", Value: "cpe-5"}))
			return addOne(t, eng, obj("y"))[0].Path, "cpe-5-2"
		}},
		{"a row added before it in the same Add holds the value", func(t *testing.T, eng *datamodel.Engine) (string, string) {
			res := addOne(t, eng, obj("x", datamodel.ParamSetting{Param: "Owner", Value: "cpe-5"}), obj("y"))
			return res[1].Path, "cpe-5-2"
		}},
		{"a value set away in the same Set is free again", func(t *testing.T, eng *datamodel.Engine) (string, string) {
			addOne(t, eng, obj("x", datamodel.ParamSetting{Param: "Owner", Value: "cpe-6"}))
			if _, err := eng.Set(ctx, admin, false, []datamodel.UpdateObject{{Path: "Device.Pair.4.",
				Params: []datamodel.ParamSetting{{Param: "Owner", Value: "other", Required: true}}}}); err != nil {
				t.Fatal(err)
			}
			addOne(t, eng, obj("y"))
			return addOne(t, eng, obj("z"))[0].Path, "cpe-6"
		}},
		{"a value freed by a Delete is free again", func(t *testing.T, eng *datamodel.Engine) (string, string) {
			addOne(t, eng, obj("x", datamodel.ParamSetting{Param: "Owner", Value: "cpe-6"}))
			if _, err := eng.Delete(ctx, admin, false, []string{"Device.Pair.4."}); err != nil {
				t.Fatal(err)
			}
			addOne(t, eng, obj("y"))
			return addOne(t, eng, obj("z"))[0].Path, "cpe-6"
		}},
		{"two committed rows hold the value, one changes", func(t *testing.T, eng *datamodel.Engine) (string, string) {
			addOne(t, eng, obj("x", datamodel.ParamSetting{Param: "Owner", Value: "cpe-7"}),
				obj("y", datamodel.ParamSetting{Param: "Owner", Value: "cpe-7"}))
			if _, err := eng.Set(ctx, admin, false, []datamodel.UpdateObject{{Path: "Device.Pair.4.",
				Params: []datamodel.ParamSetting{{Param: "Owner", Value: "other", Required: true}}}}); err != nil {
				t.Fatal(err)
			}
			return addOne(t, eng, obj("z"))[0].Path, "cpe-6"
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			eng := pairEngine(t, 3) // Owners cpe-1…cpe-3
			path, want := tc.run(t, eng)
			if got := owner(t, eng, path); got != want {
				t.Errorf("%sOwner = %q, want %q", path, got, want)
			}
		})
	}
	t.Run("index follows the commits", func(t *testing.T) {
		eng := pairEngine(t, 3)
		addOne(t, eng, obj("x", datamodel.ParamSetting{Param: "Owner", Value: "cpe-6"}),
			obj("y", datamodel.ParamSetting{Param: "Owner", Value: "cpe-6"}))
		// Row 6 cannot be cpe-6 while rows 4 and 5 hold it.
		if p := addOne(t, eng, obj("z"))[0].Path; owner(t, eng, p) != "cpe-6-2" {
			t.Errorf("%sOwner = %q, want cpe-6-2", p, owner(t, eng, p))
		}
		if _, err := eng.Delete(ctx, admin, false, []string{"Device.Pair.4.", "Device.Pair.5."}); err != nil {
			t.Fatal(err)
		}
		addOne(t, eng, obj("w", datamodel.ParamSetting{Param: "Owner", Value: "cpe-8"}))
		if _, err := eng.Delete(ctx, admin, false, []string{"Device.Pair.7."}); err != nil {
			t.Fatal(err)
		}
		if p := addOne(t, eng, obj("v"))[0].Path; p != "Device.Pair.8." || owner(t, eng, p) != "cpe-8" {
			t.Errorf("%sOwner = %q, want Device.Pair.8. with cpe-8", p, owner(t, eng, p))
		}
	})
}

// BenchmarkAddCompositeKey is an Add and a Delete in a stored table of
// 5,000 rows whose key of two parameters the Add leaves one of to the
// engine (the Recipient of a Subscription). The store keeps nothing: this
// is the engine's cost.
func BenchmarkAddCompositeKey(b *testing.B) {
	eng := pairEngineStore(b, 5000, discard{})
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		res, err := eng.Add(ctx, admin, false, []datamodel.CreateObject{{Path: "Device.Pair.",
			Params: []datamodel.ParamSetting{{Param: "ID", Value: "new", Required: true}}}})
		if err != nil || res[0].Err != nil {
			b.Fatalf("add: %v %v", err, res)
		}
		if _, err := eng.Delete(ctx, admin, false, []string{res[0].Path}); err != nil {
			b.Fatal(err)
		}
	}
}

// TestInstancesAfterRefusedAdd: the rows of a table listed before an Add
// that is refused, and after the next Add that is not, are the committed
// ones (a new row's number is written past the end of the committed list,
// never into it).
func TestInstancesAfterRefusedAdd(t *testing.T) {
	ctx := context.Background()
	eng := pairEngine(t, 3)
	list := func() []string {
		var out []string
		for _, i := range eng.Instances(ctx, admin, []string{"Device.Pair."}, true)[0].Instances {
			out = append(out, i.Path)
		}
		return out
	}
	before := list()
	// The second object takes the first's (Owner, ID): the Add is refused
	// as a whole (7025) and changes nothing.
	if _, err := eng.Add(ctx, admin, false, []datamodel.CreateObject{
		{Path: "Device.Pair.", Params: []datamodel.ParamSetting{{Param: "ID", Value: "a"}, {Param: "Owner", Value: "o"}}},
		{Path: "Device.Pair.", Params: []datamodel.ParamSetting{{Param: "ID", Value: "a"}, {Param: "Owner", Value: "o"}}},
	}); err == nil {
		t.Fatal("duplicate key accepted")
	}
	if got := list(); !slices.Equal(got, before) {
		t.Errorf("after the refused Add: %v, want %v", got, before)
	}
	res, err := eng.Add(ctx, admin, false, []datamodel.CreateObject{{Path: "Device.Pair.", Params: []datamodel.ParamSetting{{Param: "ID", Value: "b"}}}})
	if err != nil {
		t.Fatal(err)
	}
	want := append(slices.Clone(before), res[0].Path)
	if got := list(); !slices.Equal(got, want) || res[0].Path != "Device.Pair.4." {
		t.Errorf("after the next Add (%s): %v, want %v", res[0].Path, got, want)
	}
}

// TestInstancesAfterDeletes: deleting the first and the last rows, in a
// Delete that is refused and in one that is not, leaves the committed
// list as it should be, and a later Add goes after the last number ever
// issued.
func TestInstancesAfterDeletes(t *testing.T) {
	ctx := context.Background()
	eng := pairEngine(t, 5)
	list := func() []string {
		var out []string
		for _, i := range eng.Instances(ctx, admin, []string{"Device.Pair."}, true)[0].Instances {
			out = append(out, i.Path)
		}
		return out
	}
	all := []string{"Device.Pair.1.", "Device.Pair.2.", "Device.Pair.3.", "Device.Pair.4.", "Device.Pair.5."}
	// Not allow_partial: the path that names nothing fails the whole Delete.
	if _, err := eng.Delete(ctx, admin, false, []string{"Device.Pair.1.", "Device.Pair.5.", "Device.Nope."}); err == nil {
		t.Fatal("Delete with a bad path accepted")
	}
	if got := list(); !slices.Equal(got, all) {
		t.Errorf("after the refused Delete: %v", got)
	}
	if _, err := eng.Delete(ctx, admin, false, []string{"Device.Pair.1.", "Device.Pair.5."}); err != nil {
		t.Fatal(err)
	}
	if got := list(); !slices.Equal(got, all[1:4]) {
		t.Errorf("after deleting the first and the last: %v", got)
	}
	res, err := eng.Add(ctx, admin, false, []datamodel.CreateObject{{Path: "Device.Pair.", Params: []datamodel.ParamSetting{{Param: "ID", Value: "n"}}}})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := list(), append(slices.Clone(all[1:4]), "Device.Pair.6."); res[0].Path != "Device.Pair.6." || !slices.Equal(got, want) {
		t.Errorf("after an Add (%s): %v, want %v", res[0].Path, got, want)
	}
	if _, err := eng.Delete(ctx, admin, false, []string{"Device.Pair.6.", "Device.Pair.2."}); err != nil {
		t.Fatal(err)
	}
	if got := list(); !slices.Equal(got, all[2:4]) {
		t.Errorf("after deleting the last and the first again: %v", got)
	}
}
