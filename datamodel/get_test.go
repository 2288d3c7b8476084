package datamodel_test

import (
	"context"
	"reflect"
	"testing"

	"github.com/uspkit/uspkit/datamodel"
	"github.com/uspkit/uspkit/usperr"
)

func TestGet(t *testing.T) {
	f := newFixture(t, nil)
	f.addFan(t, "Name", "north", "Speed", "10", "Light", "Device.Light.1.", "Zones", "a,b")
	f.addFan(t, "Name", "south", "Speed", "90", "Light", "Device.Light.2", "Enable", "true")
	if _, err := f.eng.Add(context.Background(), admin, false, []datamodel.CreateObject{{Path: "Device.Fan.1.Blade."}, {Path: "Device.Fan.1.Blade."}}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		path  string
		depth uint32
		want  map[string]string // nil: only check keys below
		keys  []string
		code  uint32
	}{
		{path: "Device.Fan.1.Speed", want: map[string]string{"Device.Fan.1.Speed": "10"}},
		{path: "Device.UpTime", want: map[string]string{"Device.UpTime": "42"}},
		{path: "Device.Secret", want: map[string]string{"Device.Secret": ""}},
		{path: "Device.FanNumberOfEntries", want: map[string]string{"Device.FanNumberOfEntries": "2"}},
		{path: "Device.Fan.1.BladeNumberOfEntries", want: map[string]string{"Device.Fan.1.BladeNumberOfEntries": "2"}},
		{path: "Device.Fan.*.Name", want: map[string]string{"Device.Fan.1.Name": "north", "Device.Fan.2.Name": "south"}},
		{path: "Device.Fan.[Speed>50].Name", want: map[string]string{"Device.Fan.2.Name": "south"}},
		{path: "Device.Fan.[Speed>=10&&Speed<=10].Name", want: map[string]string{"Device.Fan.1.Name": "north"}},
		{path: "Device.Fan.[Enable==true].Name", want: map[string]string{"Device.Fan.2.Name": "south"}},
		{path: "Device.Fan.[Enable==1].Name", want: map[string]string{"Device.Fan.2.Name": "south"}},
		{path: `Device.Fan.[Name=="south"].Speed`, want: map[string]string{"Device.Fan.2.Speed": "90"}},
		{path: `Device.Fan.[Name!="south"].Speed`, want: map[string]string{"Device.Fan.1.Speed": "10"}},
		{path: `Device.Fan.[Zones~="b"].Name`, want: map[string]string{"Device.Fan.1.Name": "north"}},
		{path: `Device.Fan.[Stats.Hours==0].Name`, want: map[string]string{"Device.Fan.1.Name": "north", "Device.Fan.2.Name": "south"}},
		{path: `Device.Fan.[Light+.Name=="hall"].Name`, want: map[string]string{"Device.Fan.2.Name": "south"}},
		{path: "Device.Fan.[Speed>100].Name", want: map[string]string{}},
		{path: "Device.Fan.2.Light+.Name", want: map[string]string{"Device.Light.2.Name": "hall"}},
		{path: "Device.Fan.*.Light+.", want: map[string]string{"Device.Light.1.Name": "kitchen", "Device.Light.1.Level": "5", "Device.Light.2.Name": "hall", "Device.Light.2.Level": "5"}},
		{path: `Device.Light.[Name=="hall"].Level`, want: map[string]string{"Device.Light.2.Level": "5"}},
		{path: "Device.Fan.1.", keys: []string{
			"Device.Fan.1.Alias", "Device.Fan.1.Blade.1.Alias", "Device.Fan.1.Blade.1.Length",
			"Device.Fan.1.Blade.2.Alias", "Device.Fan.1.Blade.2.Length", "Device.Fan.1.BladeNumberOfEntries", "Device.Fan.1.Enable", "Device.Fan.1.Light",
			"Device.Fan.1.Name", "Device.Fan.1.Serial", "Device.Fan.1.Speed", "Device.Fan.1.Stats.Hours", "Device.Fan.1.Zones"}},
		{path: "Device.Fan.1.", depth: 1, keys: []string{"Device.Fan.1.Alias", "Device.Fan.1.BladeNumberOfEntries",
			"Device.Fan.1.Enable", "Device.Fan.1.Light", "Device.Fan.1.Name", "Device.Fan.1.Serial", "Device.Fan.1.Speed", "Device.Fan.1.Zones"}},
		{path: "Device.Fan.1.", depth: 2, keys: []string{"Device.Fan.1.Alias",
			"Device.Fan.1.Blade.1.Alias", "Device.Fan.1.Blade.1.Length", "Device.Fan.1.Blade.2.Alias", "Device.Fan.1.Blade.2.Length",
			"Device.Fan.1.BladeNumberOfEntries", "Device.Fan.1.Enable", "Device.Fan.1.Light", "Device.Fan.1.Name", "Device.Fan.1.Serial", "Device.Fan.1.Speed", "Device.Fan.1.Stats.Hours", "Device.Fan.1.Zones"}},
		{path: "Device.Fan.3.", code: usperr.CodeInvalidPath},
		{path: "Device.Fan.3.Speed", code: usperr.CodeInvalidPath},
		{path: `Device.Fan.[Name=="west"].Speed`, want: map[string]string{}},
		{path: "Device.Fan.1.Bogus", code: usperr.CodeInvalidPath},
		{path: "Device.Bogus.", code: usperr.CodeInvalidPath},
		{path: "Bogus.", code: usperr.CodeInvalidPath},
		{path: "Device.Fan.{i}.Speed", code: usperr.CodeInvalidPath},
		{path: "Device.Echo()", code: usperr.CodeInvalidPath},
		{path: "Device..Fan", code: usperr.CodeInvalidPathSyntax},
		{path: "Device.Fan.[Speed>>1].", code: usperr.CodeInvalidPathSyntax},
	}
	for _, c := range cases {
		got, gotCode := f.get(t, admin, c.path, c.depth)
		if gotCode != c.code {
			t.Errorf("Get %s: code %d, want %d (%v)", c.path, gotCode, c.code, got)
			continue
		}
		if c.want != nil && !reflect.DeepEqual(got, c.want) {
			t.Errorf("Get %s:\n got %v\nwant %v", c.path, got, c.want)
		}
		if c.keys != nil && !reflect.DeepEqual(keys(got), c.keys) {
			t.Errorf("Get %s depth %d:\n got %v\nwant %v", c.path, c.depth, keys(got), c.keys)
		}
	}
}

func TestGetSeveralPathsPartialFailure(t *testing.T) {
	f := newFixture(t, nil)
	res := f.eng.Get(context.Background(), admin, []string{"Device.UpTime", "Device.Nope", "Device.Light.1.Name"}, 0)
	if len(res) != 3 || res[0].Err != nil || code(res[1].Err) != usperr.CodeInvalidPath || res[2].Err != nil {
		t.Fatalf("results: %+v", res)
	}
	if res[2].Objects[0].Path != "Device.Light.1." || res[2].Objects[0].Params["Name"] != "kitchen" {
		t.Errorf("light: %+v", res[2].Objects)
	}
}

// TestGetResolvedPerObject checks [R-GET.2]/[R-GET.3]: a parameter path
// resolves to its parent object with only that parameter, and every
// sub-object of a partial path is its own resolved path.
func TestGetResolvedPerObject(t *testing.T) {
	f := newFixture(t, nil)
	f.addFan(t, "Name", "a")
	res := f.eng.Get(context.Background(), admin, []string{"Device.Fan.1.Stats.Hours", "Device.Fan."}, 0)
	if o := res[0].Objects; len(o) != 1 || o[0].Path != "Device.Fan.1.Stats." || len(o[0].Params) != 1 {
		t.Errorf("param path: %+v", o)
	}
	var paths []string
	for _, o := range res[1].Objects {
		paths = append(paths, o.Path)
	}
	if !reflect.DeepEqual(paths, []string{"Device.Fan.1.", "Device.Fan.1.Stats."}) {
		t.Errorf("partial path objects: %v", paths)
	}
}

type denyParams map[string]bool

func (d denyParams) Perms(path string) datamodel.Perms {
	if d[path] {
		return datamodel.AllPerms &^ (datamodel.ParamRead | datamodel.ParamWrite)
	}
	return datamodel.AllPerms
}

// TestGetPermissions checks [R-GET.1] and [R-GET.4].
func TestGetPermissions(t *testing.T) {
	f := newFixture(t, nil)
	f.addFan(t, "Name", "a")
	c := datamodel.Caller{EndpointID: "proto::guest", Access: denyParams{"Device.Fan.1.Serial": true, "Device.Fan.1.Name": true}}
	got, _ := f.get(t, c, "Device.Fan.1.", 1)
	if _, ok := got["Device.Fan.1.Serial"]; ok {
		t.Error("unreadable parameter returned")
	}
	if _, ok := got["Device.Fan.1.Speed"]; !ok {
		t.Error("readable parameter missing")
	}
	if _, code := f.get(t, c, "Device.Fan.1.Serial", 0); code != usperr.CodeInvalidPath {
		t.Errorf("unreadable parameter path: code %d", code)
	}
	if got, _ := f.get(t, c, `Device.Fan.[Name=="a"].Speed`, 0); len(got) != 0 {
		t.Errorf("search on an unreadable parameter matched: %v", got)
	}
}

// TestUnservedObjects checks that objects with no binding in their
// ancestry are outside the supported data model, except as the way down
// to supported ones, whose counts they still report.
func TestUnservedObjects(t *testing.T) {
	mux := datamodel.NewMux(testModel())
	mux.Store("Device.Fan.{i}.", nil)
	eng, err := datamodel.New(context.Background(), mux, datamodel.Options{})
	if err != nil {
		t.Fatal(err)
	}
	res := eng.Get(context.Background(), admin, []string{"Device.Unserved.X", "Device.Light.", "Device.UpTime", "Device.", "Device.FanNumberOfEntries"}, 0)
	for i, want := range []uint32{usperr.CodeInvalidPath, usperr.CodeInvalidPath, usperr.CodeInvalidPath, 0, 0} {
		if code(res[i].Err) != want {
			t.Errorf("%s: code %d, want %d", res[i].Path, code(res[i].Err), want)
		}
	}
	if o := res[3].Objects; len(o) != 1 || len(o[0].Params) != 1 || o[0].Params["FanNumberOfEntries"] != "0" {
		t.Errorf("Device.: %+v", o)
	}
}
