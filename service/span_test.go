package service_test

import (
	"slices"
	"testing"

	"github.com/uspkit/uspkit/usperr"
	"github.com/uspkit/uspkit/wire"
)

// TestBrokerSpanningPaths: a path that starts above the Services'
// registered paths and reaches into them ("Device.*.Item.[Name==\"x\"].",
// a partial path above a registered one) is resolved by the Broker: each
// Service answers the part below its registered path, the Broker's engine
// its own objects, and the results are merged into one result for the
// requested path, for every message type, with allow_partial kept.
// [R-REG.2] keeps instance numbers and search expressions below the
// registered paths, so the spanning level is a name level.
func TestBrokerSpanningPaths(t *testing.T) {
	w := startBroker(t)
	a, _ := startService(t, w, "os::012345-SVCA", "Device.X_USPKIT_A.", true)
	startService(t, w, "os::012345-SVCB", "Device.X_USPKIT_B.", false)
	// C registers below an object of the Broker's own.
	startService(t, w, "os::012345-SVCC", "Device.X_TEST_Local.Sub.", false)
	c := a.Broker()
	add := func(partial bool, objs ...*wire.Add_CreateObject) *wire.Msg {
		t.Helper()
		m, err := c.Do(t.Context(), req(&wire.Add{AllowPartial: partial, CreateObjs: objs}))
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	named := func(path, name string) *wire.Add_CreateObject {
		return &wire.Add_CreateObject{ObjPath: path, ParamSettings: []*wire.Add_CreateParamSetting{{Param: "Name", Value: name}}}
	}
	const x = `Device.*.Item.[Name=="x"].`

	// Add on a spanning path: one instance in each table reached (not C's:
	// Device.*.Item. is not Device.X_TEST_Local.Sub.Item.), each result
	// under the requested path; the local table keeps its own.
	ar := add(false, named("Device.*.Item.", "x"), named("Device.X_TEST_Local.Item.", "x")).GetBody().GetResponse().GetAddResp().GetCreatedObjResults()
	var created []string
	for _, r := range ar {
		if r.GetOperStatus().GetOperSuccess() == nil {
			t.Fatalf("Add: %v", ar)
		}
		created = append(created, r.GetRequestedPath()+" "+r.GetOperStatus().GetOperSuccess().GetInstantiatedPath())
	}
	slices.Sort(created)
	if want := []string{"Device.*.Item. Device.X_USPKIT_A.Item.1.",
		"Device.*.Item. Device.X_USPKIT_B.Item.1.", "Device.X_TEST_Local.Item. Device.X_TEST_Local.Item.1."}; !slices.Equal(created, want) {
		t.Errorf("Add results %v, want %v", created, want)
	}
	add(false, named("Device.X_USPKIT_A.Item.", "y"), named("Device.X_TEST_Local.Sub.Item.", "x"))

	// Get with a search expression below the spanning level.
	want(t, get(t, c, x+"Name"), "Device.X_USPKIT_A.Item.1.Name", "x", "Device.X_USPKIT_B.Item.1.Name", "x")
	if v := get(t, c, x+"Name"); len(v) != 2 {
		t.Errorf("Get %sName: %v", x, v)
	}
	// A partial path above a registered one: the Broker's object and the
	// Service's below it; max_depth 1 keeps to the Broker's.
	want(t, get(t, c, "Device.X_TEST_Local."), "Device.X_TEST_Local.Name", "local", "Device.X_TEST_Local.Sub.Value", "v-os::012345-SVCC",
		"Device.X_TEST_Local.Sub.Item.1.Name", "x", "Device.X_TEST_Local.Item.1.Name", "x")
	gm := do(t, c, &wire.Get{ParamPaths: []string{"Device.X_TEST_Local."}, MaxDepth: 1})
	for _, r := range gm.GetBody().GetResponse().GetGetResp().GetReqPathResults()[0].GetResolvedPathResults() {
		if r.GetResolvedPath() != "Device.X_TEST_Local." {
			t.Errorf("max_depth 1 reached %s", r.GetResolvedPath())
		}
	}

	// GetInstances, spanning and partial.
	insts := func(path string, first bool) []string {
		t.Helper()
		m := do(t, c, &wire.GetInstances{ObjPaths: []string{path}, FirstLevelOnly: first})
		rp := m.GetBody().GetResponse().GetGetInstancesResp().GetReqPathResults()
		if len(rp) != 1 || rp[0].GetErrCode() != 0 {
			t.Fatalf("GetInstances %s: %v", path, rp)
		}
		var out []string
		for _, ci := range rp[0].GetCurrInsts() {
			out = append(out, ci.GetInstantiatedObjPath())
		}
		slices.Sort(out)
		return out
	}
	if got := insts(x, false); !slices.Equal(got, []string{"Device.X_USPKIT_A.Item.1.", "Device.X_USPKIT_B.Item.1."}) {
		t.Errorf("GetInstances %s: %v", x, got)
	}
	if got := insts("Device.X_TEST_Local.", false); !slices.Equal(got, []string{"Device.X_TEST_Local.Item.1.", "Device.X_TEST_Local.Sub.Item.1."}) {
		t.Errorf("GetInstances Device.X_TEST_Local.: %v", got)
	}

	// Set, allow_partial false: one result with the instances of both
	// Services, in request order with a local path.
	set := func(partial bool, path, note string) *wire.Msg {
		t.Helper()
		m, err := c.Do(t.Context(), req(&wire.Set{AllowPartial: partial, UpdateObjs: []*wire.Set_UpdateObject{
			{ObjPath: path, ParamSettings: []*wire.Set_UpdateParamSetting{{Param: "Note", Value: note, Required: true}}},
			{ObjPath: "Device.X_TEST_Local.", ParamSettings: []*wire.Set_UpdateParamSetting{{Param: "Name", Value: "l-" + note}}},
		}}))
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	sr := set(false, x, "n1").GetBody().GetResponse().GetSetResp().GetUpdatedObjResults()
	if len(sr) != 2 || sr[0].GetRequestedPath() != x || sr[1].GetRequestedPath() != "Device.X_TEST_Local." {
		t.Fatalf("SetResp: %v", sr)
	}
	var updated []string
	for _, u := range sr[0].GetOperStatus().GetOperSuccess().GetUpdatedInstResults() {
		updated = append(updated, u.GetAffectedPath())
	}
	slices.Sort(updated)
	if !slices.Equal(updated, []string{"Device.X_USPKIT_A.Item.1.", "Device.X_USPKIT_B.Item.1."}) {
		t.Errorf("Set %s updated %v", x, updated)
	}
	want(t, get(t, c, x+"Note", "Device.X_USPKIT_A.Item.2.Note", "Device.X_TEST_Local.Name"), "Device.X_USPKIT_A.Item.1.Note", "n1",
		"Device.X_USPKIT_B.Item.1.Note", "n1", "Device.X_USPKIT_A.Item.2.Note", "", "Device.X_TEST_Local.Name", "l-n1")
	// A path matching nothing anywhere: success, nothing updated (as
	// TP-469 1.23 wants of an Agent).
	sr = set(false, `Device.*.Item.[Name=="none"].`, "n2").GetBody().GetResponse().GetSetResp().GetUpdatedObjResults()
	if len(sr) != 2 || sr[0].GetOperStatus().GetOperSuccess() == nil || len(sr[0].GetOperStatus().GetOperSuccess().GetUpdatedInstResults()) != 0 {
		t.Errorf("Set matching nothing: %v", sr)
	}
	// A value the Services refuse (longer than Note's 8 characters):
	// allow_partial false gives an Error and the Broker's part is not run;
	// allow_partial true a failure for the path and the rest done.
	em := set(false, x, "much-too-long")
	if e := em.GetBody().GetError(); e == nil || noMatchCode(e.GetErrCode()) {
		t.Errorf("Set with a bad value, allow_partial false: %v", em)
	}
	want(t, get(t, c, "Device.X_TEST_Local.Name"), "Device.X_TEST_Local.Name", "l-n2")
	sr = set(true, x, "much-too-long").GetBody().GetResponse().GetSetResp().GetUpdatedObjResults()
	if len(sr) != 2 || sr[0].GetOperStatus().GetOperFailure() == nil || sr[1].GetOperStatus().GetOperSuccess() == nil {
		t.Errorf("Set with a bad value, allow_partial true: %v", sr)
	}
	want(t, get(t, c, "Device.X_TEST_Local.Name", x+"Note"), "Device.X_TEST_Local.Name", "l-much-too-long",
		"Device.X_USPKIT_A.Item.1.Note", "n1", "Device.X_USPKIT_B.Item.1.Note", "n1")

	// Delete: the instances of both Services under one result; A's other
	// instance stays.
	dm := do(t, c, &wire.Delete{ObjPaths: []string{x, "Device.X_TEST_Local.Item.1."}})
	dr := dm.GetBody().GetResponse().GetDeleteResp().GetDeletedObjResults()
	if len(dr) != 2 || dr[0].GetRequestedPath() != x {
		t.Fatalf("DeleteResp: %v", dr)
	}
	affected := slices.Clone(dr[0].GetOperStatus().GetOperSuccess().GetAffectedPaths())
	slices.Sort(affected)
	if !slices.Equal(affected, []string{"Device.X_USPKIT_A.Item.1.", "Device.X_USPKIT_B.Item.1."}) {
		t.Errorf("Delete %s affected %v", x, affected)
	}
	if got := insts("Device.*.Item.", true); !slices.Equal(got, []string{"Device.X_USPKIT_A.Item.2."}) {
		t.Errorf("instances after the Delete: %v", got)
	}
	// A spanning path that means nothing anywhere fails as the Broker's
	// engine says.
	if _, err := c.Get(t.Context(), "Device.*.Nothing"); !noMatchCode(usperr.Code(err)) {
		t.Errorf("Get Device.*.Nothing: %v", err)
	}
	m, err := c.Do(t.Context(), req(&wire.Delete{ObjPaths: []string{"Device.*.Nothing.1."}}))
	if e := m.GetBody().GetError(); err != nil || e == nil || !noMatchCode(e.GetErrCode()) {
		t.Errorf("Delete Device.*.Nothing.1.: %v %v", m, err)
	}
}

func noMatchCode(code uint32) bool {
	return code == usperr.CodeInvalidPath || code == usperr.CodeObjectNotFound || code == usperr.CodeInvalidPathSyntax
}
