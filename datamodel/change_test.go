package datamodel_test

import (
	"context"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/uspkit/uspkit/datamodel"
	"github.com/uspkit/uspkit/store/sqlite"
	"github.com/uspkit/uspkit/usperr"
)

func set(path string, kv ...string) datamodel.UpdateObject {
	uo := datamodel.UpdateObject{Path: path}
	for i := 0; i+1 < len(kv); i += 2 {
		uo.Params = append(uo.Params, datamodel.ParamSetting{Param: kv[i], Value: kv[i+1], Required: true})
	}
	return uo
}

func TestSet(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, nil)
	f.addFan(t, "Name", "a")
	f.addFan(t, "Name", "b")

	res, err := f.eng.Set(ctx, admin, false, []datamodel.UpdateObject{
		set("Device.Fan.1.", "Speed", "70", "Stats.Hours", "3"),
		set("Device.Light.2.", "Level", "9"),
		set("Device.", "Name", "router"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if u := res[0].Updated; len(u) != 1 || u[0].Path != "Device.Fan.1." || !reflect.DeepEqual(u[0].Params, map[string]string{"Speed": "70", "Stats.Hours": "3"}) {
		t.Errorf("fan result: %+v", res[0])
	}
	got, _ := f.get(t, admin, "Device.Fan.1.Stats.Hours", 0)
	if got["Device.Fan.1.Stats.Hours"] != "3" || f.lights.snapshot()[2]["Level"] != "9" || f.dev.name != "router" {
		t.Errorf("values not set: %v %v %q", got, f.lights.snapshot()[2], f.dev.name)
	}

	// A search path sets every match.
	if _, err := f.eng.Set(ctx, admin, false, []datamodel.UpdateObject{set("Device.Fan.*.", "Enable", "true")}); err != nil {
		t.Fatal(err)
	}
	if got, _ := f.get(t, admin, "Device.Fan.[Enable==true].Name", 0); len(got) != 2 {
		t.Errorf("search set: %v", got)
	}
}

func TestSetErrors(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name string
		obj  datamodel.UpdateObject
		code uint32
	}{
		{"read-only", set("Device.Fan.1.", "Serial", "x"), usperr.CodeParamReadOnly},
		{"bad type", set("Device.Fan.1.", "Speed", "fast"), usperr.CodeInvalidType},
		{"out of range", set("Device.Fan.1.", "Speed", "101"), usperr.CodeInvalidValue},
		{"unknown param", set("Device.Fan.1.", "Colour", "red"), usperr.CodeUnsupportedParam},
		{"unknown object", set("Device.Fan.9.", "Speed", "1"), usperr.CodeObjectNotFound},
		{"bad path", set("Device.Fans.1.", "Speed", "1"), usperr.CodeInvalidPath},
		{"parameter path", set("Device.Fan.1.Speed", "Speed", "1"), usperr.CodeInvalidPath},
		{"table path", set("Device.Fan.", "Speed", "1"), usperr.CodeInvalidPath},
		{"duplicate key", set("Device.Fan.1.", "Name", "b"), usperr.CodeDuplicateKey},
		{"provided fails", set("Device.Light.1.", "Name", "broken"), usperr.CodeObjectNotUpdated},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, nil)
			f.lights.failSet = "broken"
			f.addFan(t, "Name", "a")
			f.addFan(t, "Name", "b")
			before, _ := f.get(t, admin, "Device.", 0)

			// allow_partial=false: an Error, and nothing changes — including
			// the provided Light set first.
			_, err := f.eng.Set(ctx, admin, false, []datamodel.UpdateObject{set("Device.Light.2.", "Level", "1"), set("Device.Fan.2.", "Speed", "1"), c.obj})
			me, ok := err.(*datamodel.MessageError)
			if !ok || me.Code != c.code {
				t.Fatalf("allow_partial=false: %v, want code %d", err, c.code)
			}
			if after, _ := f.get(t, admin, "Device.", 0); !reflect.DeepEqual(before, after) {
				t.Errorf("data changed by a failed Set:\n%v\n%v", before, after)
			}

			// allow_partial=true: the others succeed, this one fails.
			res, err := f.eng.Set(ctx, admin, true, []datamodel.UpdateObject{set("Device.Fan.2.", "Speed", "1"), c.obj})
			if err != nil {
				t.Fatal(err)
			}
			if res[0].Err != nil || code(res[1].Err) != c.code {
				t.Errorf("allow_partial=true: %+v", res)
			}
			if got, _ := f.get(t, admin, "Device.Fan.2.Speed", 0); got["Device.Fan.2.Speed"] != "1" {
				t.Errorf("independent object not set: %v", got)
			}
		})
	}
}

func TestSetParamErrors(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, nil)
	f.addFan(t, "Name", "a")
	// A failed parameter that is not required is reported and the rest
	// is set; a required one fails the object with its parameter errors.
	uo := datamodel.UpdateObject{Path: "Device.Fan.1.", Params: []datamodel.ParamSetting{
		{Param: "Speed", Value: "20", Required: true}, {Param: "Enable", Value: "maybe"}}}
	res, err := f.eng.Set(ctx, admin, false, []datamodel.UpdateObject{uo})
	if err != nil {
		t.Fatal(err)
	}
	u := res[0].Updated[0]
	if u.Params["Speed"] != "20" || len(u.ParamErrs) != 1 || u.ParamErrs[0].Param != "Enable" || u.ParamErrs[0].Code != usperr.CodeInvalidType {
		t.Errorf("non-required failure: %+v", u)
	}
	uo.Params[1].Required = true
	_, err = f.eng.Set(ctx, admin, false, []datamodel.UpdateObject{uo})
	me, _ := err.(*datamodel.MessageError)
	if me == nil || len(me.ParamErrs) != 1 || me.ParamErrs[0].Param != "Device.Fan.1.Enable" {
		t.Errorf("required failure: %+v", err)
	}
	res, _ = f.eng.Set(ctx, admin, true, []datamodel.UpdateObject{uo})
	if res[0].Err == nil || len(res[0].Failures) != 1 || res[0].Failures[0].Path != "Device.Fan.1." || res[0].Failures[0].ParamErrs[0].Param != "Enable" {
		t.Errorf("required failure, allow_partial: %+v", res[0])
	}
}

// TestSetSearchHolistic checks [R-SET.2a]: a search path is all or nothing
// even with allow_partial=true.
func TestSetSearchHolistic(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, nil)
	f.addFan(t, "Name", "a")
	f.addFan(t, "Name", "b")
	res, err := f.eng.Set(ctx, admin, true, []datamodel.UpdateObject{set("Device.Fan.*.", "Name", "same")})
	if err != nil {
		t.Fatal(err)
	}
	if code(res[0].Err) != usperr.CodeDuplicateKey {
		t.Errorf("result: %+v", res[0])
	}
	if got, _ := f.get(t, admin, "Device.Fan.*.Name", 0); got["Device.Fan.1.Name"] != "a" || got["Device.Fan.2.Name"] != "b" {
		t.Errorf("partially applied: %v", got)
	}
}

func TestAdd(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, nil)
	res, err := f.eng.Add(ctx, admin, false, []datamodel.CreateObject{{Path: "Device.Fan.", Params: []datamodel.ParamSetting{
		{Param: "Name", Value: "n1"}, {Param: "Stats.Hours", Value: "7"}}}})
	if err != nil {
		t.Fatal(err)
	}
	r := res[0]
	if r.Path != "Device.Fan.1." || !reflect.DeepEqual(r.UniqueKeys, map[string]string{"Alias": "cpe-1", "Name": "n1"}) {
		t.Errorf("created: %+v", r)
	}
	got, _ := f.get(t, admin, "Device.Fan.1.", 0)
	if got["Device.Fan.1.Speed"] != "50" || got["Device.Fan.1.Enable"] != "false" || got["Device.Fan.1.Stats.Hours"] != "7" {
		t.Errorf("defaults: %v", got)
	}
	// Keys not given are assigned, unique [R-ADD.5].
	second := f.addFan(t)
	got, _ = f.get(t, admin, second, 0)
	if got[second+"Name"] == "" || got[second+"Name"] == "n1" || got[second+"Alias"] == "cpe-1" {
		t.Errorf("assigned keys: %v", got)
	}
	// Instance numbers are never reused.
	if _, err := f.eng.Delete(ctx, admin, false, []string{second}); err != nil {
		t.Fatal(err)
	}
	if p := f.addFan(t, "Name", "n3"); p != "Device.Fan.3." {
		t.Errorf("after delete, new instance %s", p)
	}
	// Provided table.
	res, err = f.eng.Add(ctx, admin, false, []datamodel.CreateObject{{Path: "Device.Light.", Params: []datamodel.ParamSetting{{Param: "Name", Value: "porch"}}}})
	if err != nil || res[0].Path != "Device.Light.3." || res[0].UniqueKeys["Name"] != "porch" {
		t.Fatalf("provided add: %+v %v", res, err)
	}
	if row := f.lights.snapshot()[3]; row["Level"] != "5" || row["Name"] != "porch" {
		t.Errorf("provided row: %v", row)
	}
	// Sub-table of a stored instance.
	res, err = f.eng.Add(ctx, admin, false, []datamodel.CreateObject{{Path: "Device.Fan.[Name==\"n1\"].Blade."}})
	if err != nil || res[0].Path != "Device.Fan.1.Blade.1." {
		t.Errorf("blade: %+v %v", res, err)
	}
}

func TestAddErrors(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name string
		obj  datamodel.CreateObject
		code uint32
	}{
		{"duplicate key", datamodel.CreateObject{Path: "Device.Fan.", Params: []datamodel.ParamSetting{{Param: "Name", Value: "a"}}}, usperr.CodeDuplicateKey},
		{"bad key value", datamodel.CreateObject{Path: "Device.Fan.", Params: []datamodel.ParamSetting{{Param: "Name", Value: "0123456789abcdefg"}}}, usperr.CodeInvalidValue},
		{"bad required", datamodel.CreateObject{Path: "Device.Fan.", Params: []datamodel.ParamSetting{{Param: "Speed", Value: "x", Required: true}}}, usperr.CodeInvalidType},
		{"read-only", datamodel.CreateObject{Path: "Device.Fan.", Params: []datamodel.ParamSetting{{Param: "Serial", Value: "x", Required: true}}}, usperr.CodeParamReadOnly},
		{"not a table", datamodel.CreateObject{Path: "Device.Fan.1.Stats."}, usperr.CodeNotATable},
		{"instance path", datamodel.CreateObject{Path: "Device.Fan.1."}, usperr.CodeInvalidPath},
		{"unknown", datamodel.CreateObject{Path: "Device.Fans."}, usperr.CodeInvalidPath},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, nil)
			f.addFan(t, "Name", "a")
			before, _ := f.get(t, admin, "Device.", 0)
			lightsBefore := f.lights.snapshot()
			_, err := f.eng.Add(ctx, admin, false, []datamodel.CreateObject{{Path: "Device.Light.", Params: []datamodel.ParamSetting{{Param: "Name", Value: "x"}}}, {Path: "Device.Fan."}, c.obj})
			if code(err) != c.code {
				t.Fatalf("allow_partial=false: %v, want %d", err, c.code)
			}
			if after, _ := f.get(t, admin, "Device.", 0); !reflect.DeepEqual(before, after) || !reflect.DeepEqual(lightsBefore, f.lights.snapshot()) {
				t.Errorf("failed Add changed data")
			}
			res, err := f.eng.Add(ctx, admin, true, []datamodel.CreateObject{{Path: "Device.Fan."}, c.obj})
			if err != nil || res[0].Err != nil || code(res[1].Err) != c.code {
				t.Errorf("allow_partial=true: %+v %v", res, err)
			}
		})
	}
}

func TestAddLimit(t *testing.T) {
	f := newFixture(t, nil)
	for range 5 {
		f.addFan(t)
	}
	_, err := f.eng.Add(context.Background(), admin, false, []datamodel.CreateObject{{Path: "Device.Fan."}})
	if code(err) != usperr.CodeResourcesExceeded {
		t.Errorf("sixth fan: %v", err)
	}
}

func TestDelete(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, nil)
	f.addFan(t, "Name", "a")
	f.addFan(t, "Name", "b")
	f.eng.Add(ctx, admin, false, []datamodel.CreateObject{{Path: "Device.Fan.1.Blade."}})

	res, err := f.eng.Delete(ctx, admin, false, []string{"Device.Fan.1.", "Device.Fan.7.", `Device.Fan.[Name=="zz"].`, "Device.Light.1."})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(res[0].Affected, []string{"Device.Fan.1."}) || len(res[1].Affected) != 0 || res[1].Err != nil || len(res[2].Affected) != 0 {
		t.Errorf("results: %+v", res)
	}
	if got, _ := f.get(t, admin, "Device.Fan.", 0); len(got) == 0 || got["Device.Fan.1.Blade.1.Length"] != "" {
		t.Errorf("after delete: %v", got)
	}
	if _, code := f.get(t, admin, "Device.Fan.1.Blade.1.", 0); code != usperr.CodeInvalidPath {
		t.Errorf("sub-table row survived its parent")
	}
	if _, ok := f.lights.snapshot()[1]; ok {
		t.Error("provided row not deleted")
	}

	// allow_partial=false: a non-deletable path fails everything.
	_, err = f.eng.Delete(ctx, admin, false, []string{"Device.Fan.2.Stats.", "Device.Fan.2."})
	if code(err) != usperr.CodeInvalidPath {
		t.Errorf("non-instance: %v", err)
	}
	if got, _ := f.get(t, admin, "Device.Fan.2.Name", 0); got["Device.Fan.2.Name"] != "b" {
		t.Error("failed Delete deleted")
	}
	// allow_partial=true: each path on its own.
	res, err = f.eng.Delete(ctx, admin, true, []string{"Device.Fan.2.", "Device.Bogus.1."})
	if err != nil || len(res[0].Affected) != 1 || code(res[1].Err) != usperr.CodeInvalidPath {
		t.Errorf("allow_partial: %+v %v", res, err)
	}
	if want := []string{"add Device.Fan.1.", "add Device.Fan.2.", "add Device.Fan.1.Blade.1.", "delete Device.Fan.1.", "delete Device.Light.1.", "delete Device.Fan.2."}; !reflect.DeepEqual(fmtChanges(f.changes), want) {
		t.Errorf("changes:\n%v\nwant %v", fmtChanges(f.changes), want)
	}
}

func TestInstances(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, nil)
	f.addFan(t, "Name", "a")
	f.eng.Add(ctx, admin, false, []datamodel.CreateObject{{Path: "Device.Fan.1.Blade."}})
	paths := func(r datamodel.InstancesResult) []string {
		var out []string
		for _, i := range r.Instances {
			out = append(out, i.Path)
		}
		return out
	}
	res := f.eng.Instances(ctx, admin, []string{"Device.Fan.", "Device.", "Device.Fan.1.", "Device.Nope.", "Device.Fan.2."}, false)
	if got := paths(res[0]); !reflect.DeepEqual(got, []string{"Device.Fan.1.", "Device.Fan.1.Blade.1."}) {
		t.Errorf("Device.Fan.: %v", got)
	}
	if !reflect.DeepEqual(res[0].Instances[0].UniqueKeys, map[string]string{"Alias": "cpe-1", "Name": "a"}) {
		t.Errorf("keys: %v", res[0].Instances[0].UniqueKeys)
	}
	if got := paths(res[1]); !reflect.DeepEqual(got, []string{"Device.Fan.1.", "Device.Fan.1.Blade.1.", "Device.Light.1.", "Device.Light.2."}) {
		t.Errorf("Device.: %v", got)
	}
	if got := paths(res[2]); !reflect.DeepEqual(got, []string{"Device.Fan.1.", "Device.Fan.1.Blade.1."}) {
		t.Errorf("Device.Fan.1.: %v", got)
	}
	if code(res[3].Err) != usperr.CodeInvalidPath || code(res[4].Err) != usperr.CodeInvalidPath {
		t.Errorf("errors: %v %v", res[3].Err, res[4].Err)
	}
	res = f.eng.Instances(ctx, admin, []string{"Device.Fan.", "Device."}, true)
	if got := paths(res[0]); !reflect.DeepEqual(got, []string{"Device.Fan.1."}) {
		t.Errorf("first level: %v", got)
	}
	if got := paths(res[1]); !reflect.DeepEqual(got, []string{"Device.Fan.1.", "Device.Light.1.", "Device.Light.2."}) {
		t.Errorf("first level of Device.: %v", got)
	}
}

func TestSupported(t *testing.T) {
	f := newFixture(t, nil)
	f.addFan(t)
	all := datamodel.SupportedOptions{Params: true, Commands: true, Events: true}
	res := f.eng.Supported(context.Background(), admin, []string{"Device.", "Device.Fan.", "Device.Fan.1.", "Device.Nope.", "Device.Fan.*."}, all)
	var objs []string
	for _, o := range res[0].Objects {
		objs = append(objs, o.Path)
	}
	if want := []string{"Device.", "Device.Fan.{i}.", "Device.Fan.{i}.Blade.{i}.", "Device.Fan.{i}.Stats.", "Device.Light.{i}.", "Device.Unserved."}; !reflect.DeepEqual(objs, want) {
		t.Errorf("objects: %v", objs)
	}
	dev := res[0].Objects[0]
	if len(dev.Params) != 5 || len(dev.Commands) != 3 || len(dev.Events) != 1 || dev.Commands[1].Name != "Slow()" || !dev.Commands[1].Async {
		t.Errorf("Device.: %d params %d commands %d events", len(dev.Params), len(dev.Commands), len(dev.Events))
	}
	fan := res[1].Objects[0]
	if fan.Path != "Device.Fan.{i}." || !fan.Multi || !reflect.DeepEqual(fan.UniqueKeySets, [][]string{{"Alias"}, {"Name"}}) || res[1].URI != datamodel.DataModelURI {
		t.Errorf("fan: %+v", fan)
	}
	if res[2].Err != nil || res[2].Objects[0].Path != "Device.Fan.{i}." {
		t.Errorf("instance path: %+v", res[2])
	}
	if code(res[3].Err) != usperr.CodeInvalidPath || code(res[4].Err) != usperr.CodeInvalidPath {
		t.Errorf("errors: %v %v", res[3].Err, res[4].Err)
	}
	first := f.eng.Supported(context.Background(), admin, []string{"Device."}, datamodel.SupportedOptions{FirstLevelOnly: true, Params: true})[0]
	if len(first.Objects) != 4 || len(first.Objects[1].Params) != 0 || len(first.Objects[0].Params) == 0 {
		t.Errorf("first level: %+v", first.Objects)
	}
}

func TestOperate(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, nil)
	res, err := f.eng.Operate(ctx, admin, "Device.Echo()", "k1", map[string]string{"Text": "hi"})
	if err != nil || len(res) != 1 || res[0].Output["Result"] != "hi/k1" || res[0].Command != "Device.Echo()" || res[0].Async != nil {
		t.Fatalf("Echo(): %+v %v", res, err)
	}
	res, err = f.eng.Operate(ctx, admin, "Device.Slow()", "", nil)
	if err != nil || res[0].Async == nil {
		t.Fatalf("Slow(): %+v %v", res, err)
	}
	if out, err := res[0].Async(ctx); err != nil || out["Done"] != "true" {
		t.Errorf("Slow() ran: %v %v", out, err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := res[0].Async(cctx); code(err) != usperr.CodeCommandCanceled {
		t.Errorf("cancelled Slow(): %v", err)
	}
	res, err = f.eng.Operate(ctx, admin, "Device.Light.*.Blink()", "", nil)
	if err != nil || len(res) != 2 || res[1].Command != "Device.Light.2.Blink()" || f.lights.snapshot()[1]["Level"] != "0" {
		t.Errorf("Blink(): %+v %v", res, err)
	}
	res, err = f.eng.Operate(ctx, admin, `Device.Light.[Level==99].Blink()`, "", nil)
	if err != nil || len(res) != 0 {
		t.Errorf("search matching nothing: %+v %v", res, err)
	}
	for path, c := range map[string]struct {
		in   map[string]string
		code uint32
	}{
		"Device.Echo() ":         {nil, usperr.CodeInvalidPathSyntax},
		"Device.Nope()":          {nil, usperr.CodeInvalidPath},
		"Device.UpTime":          {nil, usperr.CodeInvalidPath},
		"Device.Light.9.Blink()": {nil, usperr.CodeObjectNotFound},
	} {
		if _, err := f.eng.Operate(ctx, admin, path, "", c.in); code(err) != c.code {
			t.Errorf("%s: %v, want %d", path, err, c.code)
		}
	}
	// Bad input fails the command with 7027; unknown arguments are
	// ignored.
	for _, in := range []map[string]string{{"Text": "x", "Times": "4"}, {}, {"Times": "1"}} {
		res, err := f.eng.Operate(ctx, admin, "Device.Echo()", "", in)
		if err != nil || len(res) != 1 || code(res[0].Err) != usperr.CodeInvalidCommandArgs {
			t.Errorf("input %v: %+v %v", in, res, err)
		}
	}
	res, err = f.eng.Operate(ctx, admin, "Device.Echo()", "k", map[string]string{"Text": "x", "Colour": "red"})
	if err != nil || res[0].Err != nil || res[0].Output["Result"] != "x/k" {
		t.Errorf("unknown argument not ignored: %+v %v", res, err)
	}
	// A panicking handler fails its command, not the agent.
	res, err = f.eng.Operate(ctx, admin, "Device.Crash()", "", nil)
	if err != nil || code(res[0].Err) != usperr.CodeCommandFailure {
		t.Errorf("Crash(): %+v %v", res, err)
	}
}

// TestPersistence checks that stored objects and instance counters
// survive a restart on SQLite.
func TestPersistence(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "dm.db")
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, db)
	f.addFan(t, "Name", "a", "Stats.Hours", "9")
	f.addFan(t, "Name", "b")
	f.eng.Delete(ctx, admin, false, []string{"Device.Fan.2."})
	before, _ := f.get(t, admin, "Device.Fan.", 0)
	db.Close()

	db, err = sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	f = newFixture(t, db)
	after, _ := f.get(t, admin, "Device.Fan.", 0)
	if !reflect.DeepEqual(before, after) || after["Device.Fan.1.Stats.Hours"] != "9" {
		t.Errorf("after restart:\n%v\n%v", before, after)
	}
	if p := f.addFan(t, "Name", "c"); p != "Device.Fan.3." {
		t.Errorf("instance number reused after restart: %s", p)
	}
}

func TestMuxPanics(t *testing.T) {
	for name, f := range map[string]func(*datamodel.Mux){
		"unknown object":  func(m *datamodel.Mux) { m.Store("Device.Nope.", nil) },
		"unknown command": func(m *datamodel.Mux) { m.HandleFunc("Device.Nope()", nil) },
		"twice":           func(m *datamodel.Mux) { m.Store("Device.Fan.{i}.", nil); m.Store("Device.Fan.{i}.", nil) },
		"nil handler":     func(m *datamodel.Mux) { m.Handle("Device.", nil) },
		"store command":   func(m *datamodel.Mux) { m.Store("Device.Echo()", nil) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f(datamodel.NewMux(testModel()))
		}()
	}
}

// TestStoreCheck checks that a stored object's CheckFunc sees every
// change, may fill in values, and fails the change with its error.
func TestStoreCheck(t *testing.T) {
	ctx := context.Background()
	mux := datamodel.NewMux(testModel())
	var seen []string
	mux.Store("Device.Fan.{i}.", func(ctx context.Context, r *datamodel.Request) error {
		seen = append(seen, r.Op.String()+" "+r.Path+" "+r.Caller.EndpointID)
		switch {
		case r.Op == datamodel.OpAdd:
			r.Values["Serial"] = "S-" + r.Values["Name"]
		case r.Op == datamodel.OpSet && r.Values["Speed"] == "13":
			return usperr.Errorf(usperr.CodeInvalidValue, "unlucky")
		case r.Op == datamodel.OpDelete && r.Values["Name"] == "keep":
			return usperr.Errorf(usperr.CodeDeleteFailure, "kept")
		}
		return nil
	})
	eng, err := datamodel.New(ctx, mux, datamodel.Options{})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{eng: eng}
	p := f.addFan(t, "Name", "keep")
	if got, _ := f.get(t, admin, p+"Serial", 0); got[p+"Serial"] != "S-keep" {
		t.Errorf("value filled in by the check: %v", got)
	}
	if _, err := eng.Set(ctx, admin, false, []datamodel.UpdateObject{set(p, "Speed", "13")}); code(err) != usperr.CodeInvalidValue {
		t.Errorf("set refused by the check: %v", err)
	}
	if _, err := eng.Delete(ctx, admin, false, []string{p}); code(err) != usperr.CodeDeleteFailure {
		t.Errorf("delete refused by the check: %v", err)
	}
	if want := []string{"add Device.Fan.1. proto::ctrl", "set Device.Fan.1. proto::ctrl", "delete Device.Fan.1. proto::ctrl"}; !reflect.DeepEqual(seen, want) {
		t.Errorf("checks: %v", seen)
	}
}

func TestSupportedItems(t *testing.T) {
	f := newFixture(t, nil)
	all := datamodel.SupportedOptions{Params: true, Commands: true, Events: true}
	res := f.eng.Supported(context.Background(), admin, []string{"Device.Echo()", "Device.Boot!", "Device.UpTime", "Device.Fan", "Device.Nope()", "Device.FanNumberOfEntries"}, all)
	one := func(i int) datamodel.SupportedObject {
		if res[i].Err != nil || len(res[i].Objects) != 1 {
			t.Fatalf("%s: %+v", res[i].Path, res[i])
		}
		return res[i].Objects[0]
	}
	if o := one(0); o.Path != "Device." || len(o.Commands) != 1 || o.Commands[0].Name != "Echo()" || len(o.Params)+len(o.Events) != 0 {
		t.Errorf("command: %+v", o)
	}
	if o := one(1); len(o.Events) != 1 || o.Events[0].Name != "Boot!" || len(o.Params)+len(o.Commands) != 0 {
		t.Errorf("event: %+v", o)
	}
	if o := one(2); len(o.Params) != 1 || o.Params[0].Name != "UpTime" || len(o.Events)+len(o.Commands) != 0 {
		t.Errorf("param: %+v", o)
	}
	// An Object Path ends in '.' (TR-369 "Path Names"): without it the
	// path names no object.
	if code(res[3].Err) != usperr.CodeInvalidPath {
		t.Errorf("object without its dot: %+v", res[3])
	}
	if code(res[4].Err) != usperr.CodeInvalidPath {
		t.Errorf("unknown command: %+v", res[4])
	}
	if o := one(5); len(o.Params) != 1 {
		t.Errorf("counted param: %+v", o)
	}
}

type denyAdd string

func (d denyAdd) Perms(path string) datamodel.Perms {
	if path == string(d) {
		return datamodel.AllPerms &^ datamodel.ObjWrite
	}
	return datamodel.AllPerms
}

// TestAddSearchPath: an Add on a search path creates one instance per
// table; with allow_partial each table succeeds or fails alone, without
// it one failure fails all (TP-469 2.23, 2.24).
func TestAddSearchPath(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, nil)
	f.addFan(t, "Name", "a")
	f.addFan(t, "Name", "b")
	c := datamodel.Caller{EndpointID: "proto::limited", Access: denyAdd("Device.Fan.2.Blade.")}
	res, err := f.eng.Add(ctx, c, true, []datamodel.CreateObject{{Path: "Device.Fan.*.Blade."}})
	if err != nil || len(res) != 2 || res[0].Path != "Device.Fan.1.Blade.1." || code(res[1].Err) != usperr.CodePermissionDenied {
		t.Fatalf("allow_partial=true: %+v %v", res, err)
	}
	_, err = f.eng.Add(ctx, c, false, []datamodel.CreateObject{{Path: "Device.Fan.*.Blade."}})
	me, _ := err.(*datamodel.MessageError)
	if me == nil || me.Code != usperr.CodePermissionDenied || len(me.ParamErrs) != 1 || me.ParamErrs[0].Param != "Device.Fan.2.Blade." {
		t.Fatalf("allow_partial=false: %+v", err)
	}
	if got, _ := f.get(t, admin, "Device.Fan.1.BladeNumberOfEntries", 0); got["Device.Fan.1.BladeNumberOfEntries"] != "1" {
		t.Errorf("failed Add left a row: %v", got)
	}
}
