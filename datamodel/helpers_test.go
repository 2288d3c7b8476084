package datamodel_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"

	"github.com/uspkit/uspkit/datamodel"
	"github.com/uspkit/uspkit/internal/testenv"
	"github.com/uspkit/uspkit/schema"
	"github.com/uspkit/uspkit/usperr"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// testModel is a small data model with every kind of object the engine
// serves: a provided single object with a command, a stored table with a
// single-instance sub-object and a sub-table, a provided table, and
// references between them.
func testModel() *schema.Model {
	m := schema.New()
	m.Define("Device.").
		Param("FanNumberOfEntries", schema.UnsignedInt()).
		Param("LightNumberOfEntries", schema.UnsignedInt()).
		Param("Name", schema.String(schema.MaxLen(32)), schema.ReadWrite).
		Param("Secret", schema.String(), schema.ReadWrite, schema.Secured).
		Param("UpTime", schema.UnsignedInt()).
		Command("Echo()", false, []*schema.Param{schema.Arg("Text", schema.String(), schema.Mandatory), schema.Arg("Times", schema.UnsignedInt(schema.Between(1, 3)))},
			[]*schema.Param{schema.Arg("Result", schema.String())}).
		Command("Slow()", true, nil, []*schema.Param{schema.Arg("Done", schema.Boolean())}).
		Command("Crash()", false, nil, nil).
		Event("Boot!", schema.Arg("Cause", schema.String()))
	m.Define("Device.Fan.{i}.", schema.ObjAddDelete, schema.AliasKey(), schema.Keys("Name"), schema.NumEntries("FanNumberOfEntries"), schema.Entries(0, 5)).
		Param("Alias", schema.String(schema.MaxLen(64)), schema.ReadWrite).
		Param("Name", schema.String(schema.MaxLen(16)), schema.ReadWrite).
		Param("Speed", schema.UnsignedInt(schema.Between(0, 100)), schema.ReadWrite, schema.Default("50")).
		Param("Enable", schema.Boolean(), schema.ReadWrite).
		Param("Light", schema.String(schema.Ref()), schema.ReadWrite).
		Param("Zones", schema.String(schema.ListOf(0, 0)), schema.ReadWrite).
		Param("BladeNumberOfEntries", schema.UnsignedInt()).
		Param("Serial", schema.String())
	m.Define("Device.Fan.{i}.Stats.").
		Param("Hours", schema.UnsignedInt(), schema.ReadWrite)
	m.Define("Device.Fan.{i}.Blade.{i}.", schema.ObjAddDelete, schema.AliasKey(), schema.NumEntries("BladeNumberOfEntries")).
		Param("Alias", schema.String(schema.MaxLen(64)), schema.ReadWrite).
		Param("Length", schema.UnsignedInt(), schema.ReadWrite)
	m.Define("Device.Light.{i}.", schema.ObjAddDelete, schema.Keys("Name"), schema.NumEntries("LightNumberOfEntries")).
		Param("Name", schema.String(), schema.ReadWrite).
		Param("Level", schema.UnsignedInt(schema.Between(0, 10)), schema.ReadWrite, schema.Default("5")).
		Command("Blink()", false, nil, nil)
	m.Define("Device.Unserved.").Param("X", schema.String())
	return m
}

// lights is a provided table kept in memory, standing in for live state.
type lights struct {
	mu      sync.Mutex
	rows    map[uint32]map[string]string
	next    uint32
	failSet string // a Name whose Set fails at commit, not at check
	calls   int
}

func newLights(names ...string) *lights {
	l := &lights{rows: map[uint32]map[string]string{}}
	for _, n := range names {
		l.next++
		l.rows[l.next] = map[string]string{"Name": n, "Level": "5"}
	}
	return l
}

func (l *lights) ServeUSP(ctx context.Context, w datamodel.ResponseWriter, r *datamodel.Request) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls++
	var row map[string]string
	if len(r.Instances) > 0 && r.Op != datamodel.OpList && r.Op != datamodel.OpAdd {
		row = l.rows[r.Instances[0]]
		if row == nil {
			return usperr.Errorf(usperr.CodeObjectNotFound, "no light %d", r.Instances[0])
		}
	}
	switch r.Op {
	case datamodel.OpList:
		for n := range l.rows {
			w.AddInstance(n)
		}
	case datamodel.OpGet:
		for _, n := range r.Names {
			w.SetValue(n, row[n])
		}
	case datamodel.OpSet:
		if !r.CheckOnly && r.Values["Name"] != "" && r.Values["Name"] == l.failSet {
			return errors.New("hardware refused")
		}
		if !r.CheckOnly {
			maps.Copy(row, r.Values)
		}
	case datamodel.OpAdd:
		l.next++
		l.rows[l.next] = maps.Clone(r.Values)
		w.AddInstance(l.next)
	case datamodel.OpDelete:
		delete(l.rows, r.Instances[0])
	case datamodel.OpOperate:
		row["Level"] = "0"
	}
	return nil
}

func (l *lights) snapshot() map[uint32]map[string]string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[uint32]map[string]string{}
	for k, v := range l.rows {
		out[k] = maps.Clone(v)
	}
	return out
}

// device is the provided root object.
type device struct {
	mu   sync.Mutex
	name string
}

func (d *device) ServeUSP(ctx context.Context, w datamodel.ResponseWriter, r *datamodel.Request) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	switch r.Op {
	case datamodel.OpGet:
		for _, n := range r.Names {
			switch n {
			case "Name":
				w.SetValue(n, d.name)
			case "Secret":
				w.SetValue(n, "hunter2")
			case "UpTime":
				w.SetValue(n, "42")
			}
		}
	case datamodel.OpSet:
		if !r.CheckOnly {
			d.name = r.Values["Name"]
		}
	case datamodel.OpOperate:
		switch r.Command.Name {
		case "Echo()":
			w.SetValue("Result", r.Values["Text"]+"/"+r.CommandKey)
		case "Slow()":
			select {
			case <-ctx.Done():
				return usperr.Errorf(usperr.CodeCommandCanceled, "cancelled")
			default:
			}
			w.SetValue("Done", "true")
		case "Crash()":
			panic("boom")
		}
	}
	return nil
}

type fixture struct {
	eng     *datamodel.Engine
	lights  *lights
	dev     *device
	store   datamodel.Store
	changes []datamodel.Change
	mu      sync.Mutex
}

func newFixture(t testing.TB, st datamodel.Store) *fixture {
	t.Helper()
	f := &fixture{lights: newLights("kitchen", "hall"), dev: &device{name: "box"}, store: st}
	mux := datamodel.NewMux(testModel())
	mux.Handle("Device.", f.dev)
	mux.Store("Device.Fan.{i}.", nil)
	mux.Handle("Device.Light.{i}.", f.lights)
	eng, err := datamodel.New(context.Background(), mux, datamodel.Options{Store: st, OnChange: func(ctx context.Context, cs []datamodel.Change) {
		f.mu.Lock()
		f.changes = append(f.changes, cs...)
		f.mu.Unlock()
	}})
	if err != nil {
		t.Fatal(err)
	}
	f.eng = eng
	return f
}

var admin = datamodel.Caller{EndpointID: "proto::ctrl"}

// addFan adds a Fan with the given parameters and returns its path.
func (f *fixture) addFan(t testing.TB, params ...string) string {
	t.Helper()
	var ps []datamodel.ParamSetting
	for i := 0; i+1 < len(params); i += 2 {
		ps = append(ps, datamodel.ParamSetting{Param: params[i], Value: params[i+1], Required: true})
	}
	res, err := f.eng.Add(context.Background(), admin, false, []datamodel.CreateObject{{Path: "Device.Fan.", Params: ps}})
	if err != nil {
		t.Fatalf("add fan %v: %v", params, err)
	}
	return res[0].Path
}

// get returns the flattened result of a Get of one path: full parameter
// path → value, or the error code.
func (f *fixture) get(t testing.TB, c datamodel.Caller, path string, depth uint32) (map[string]string, uint32) {
	t.Helper()
	r := f.eng.Get(context.Background(), c, []string{path}, depth)[0]
	if r.Err != nil {
		return nil, usperr.Code(r.Err)
	}
	out := map[string]string{}
	for _, o := range r.Objects {
		for k, v := range o.Params {
			out[o.Path+k] = v
		}
	}
	return out, 0
}

func keys(m map[string]string) []string { return slices.Sorted(maps.Keys(m)) }

func code(err error) uint32 {
	if err == nil {
		return 0
	}
	return usperr.Code(err)
}

func fmtChanges(cs []datamodel.Change) []string {
	var out []string
	for _, c := range cs {
		out = append(out, fmt.Sprintf("%s %s", c.Op, c.Path))
	}
	return out
}
