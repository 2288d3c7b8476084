package conformance

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/uspkit/uspkit/wire"
)

// checkUniqueKeys checks the unique_keys of a created Subscription: ID
// and Recipient, and Alias when the Agent supports it.
func (t *T) checkUniqueKeys(ok *wire.AddResp_CreatedObjectResult_OperationStatus_OperationSuccess) {
	t.Check(len(ok.GetParamErrs()) == 0, "param_errs in a successful Add: %v", ok.GetParamErrs())
	k := ok.GetUniqueKeys()
	_, id := k["ID"]
	_, rec := k["Recipient"]
	t.Check(id && rec && (len(k) == 2 || len(k) == 3), "unique_keys %v: want Recipient, ID (and Alias)", k)
	if len(k) == 3 {
		_, alias := k["Alias"]
		t.Check(alias, "unique_keys %v: the third key is not Alias", k)
	}
}

// checkValues checks that an object's parameters have the values set.
func (t *T) checkValues(path string, params []kv) {
	got := flat(t.getResp(t.Do(getReq(path))))
	for _, s := range params {
		t.Check(got[path+s.name] == s.value, "%s%s = %q, want %q", path, s.name, got[path+s.name], s.value)
	}
}

// subIDs returns the IDs of every Subscription.
func (t *T) subIDs() []string {
	var out []string
	for path, v := range flat(t.getResp(t.Do(getReq(subTable)))) {
		if strings.HasSuffix(path, ".ID") {
			out = append(out, v)
		}
	}
	return out
}

func (t *T) noSubWithID(ids ...string) {
	have := t.subIDs()
	for _, id := range ids {
		t.Check(!slices.Contains(have, id), "a Subscription with ID %s exists", id)
	}
}

// errParam checks an Error's param_errs: exactly one, whose path
// satisfies ok.
func (t *T) errParam(e *wire.Error, want string, ok func(string) bool) {
	pe := e.GetParamErrs()
	t.Check(len(pe) == 1, "param_errs %v: want exactly one, for %s", pe, want)
	t.Check(ok(pe[0].GetParamPath()), "param_errs path %q, want %s", pe[0].GetParamPath(), want)
	t.Check(appropriate(pe[0].GetErrCode()), "param_errs code %d", pe[0].GetErrCode())
}

func exact(s string) func(string) bool { return func(x string) bool { return x == s } }
func hasSuffix(s string) func(string) bool {
	return func(x string) bool { return strings.HasSuffix(x, s) }
}
func hasPrefix(s string) func(string) bool {
	return func(x string) bool { return strings.HasPrefix(x, s) }
}
func trimDot(s string) string { return strings.TrimSuffix(s, ".") }
func instanceOf(table string) func(string) bool {
	return func(x string) bool {
		rest, ok := strings.CutPrefix(x, table)
		return ok && strings.Count(rest, ".") == 1 && rest != "." && isNumber(strings.TrimSuffix(rest, "."))
	}
}

func isNumber(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// oneUpdated checks one UpdatedObjectResult with one instance whose
// updated_params are exactly keys.
func (t *T) oneUpdated(u *wire.SetResp_UpdatedObjectResult, path string, keys ...string) {
	ok := u.GetOperStatus().GetOperSuccess()
	t.Check(ok != nil, "%s: %v", u.GetRequestedPath(), u.GetOperStatus())
	t.Check(len(ok.GetUpdatedInstResults()) == 1, "%d updated instances, want 1", len(ok.GetUpdatedInstResults()))
	ir := ok.GetUpdatedInstResults()[0]
	t.Check(ir.GetAffectedPath() == path, "affected_path %q, want %q", ir.GetAffectedPath(), path)
	var got []string
	for k := range ir.GetUpdatedParams() {
		got = append(got, k)
	}
	slices.Sort(got)
	t.Check(slices.Equal(got, keys), "updated_params %v, want %v", got, keys)
}

func (t *T) notifRetryValue(path string) string {
	if t.value(path+"NotifRetry") == "true" {
		return "false"
	}
	return "true"
}

// section1 implements "Messages and Path Names".
func section1() map[string]caseFunc {
	m := map[string]caseFunc{}
	section1Features(m) // section1feat.go
	add1 := func(allowPartial bool, id string) func(*T) {
		return func(t *T) {
			params := []kv{p("Enable", "true"), p("ID", id), p("NotifType", "ValueChange"), preq("ReferenceList", "Device.LocalAgent.SoftwareVersion")}
			r := t.addResp(t.Do(addReq(allowPartial, obj(subTable, params...))))
			t.Check(len(r.GetCreatedObjResults()) == 1, "%d results", len(r.GetCreatedObjResults()))
			ok := r.GetCreatedObjResults()[0].GetOperStatus().GetOperSuccess()
			t.Check(ok != nil, "not created: %v", r)
			t.Cleanup(func() { t.c.do(t.ctx, deleteReq(true, ok.GetInstantiatedPath()), t.r.o.ReplyTimeout) })
			t.checkUniqueKeys(ok)
			t.checkValues(ok.GetInstantiatedPath(), params)
		}
	}
	m["1.1"] = caseFunc{run: add1(false, "add1")}
	m["1.2"] = caseFunc{run: add1(true, "add2")}
	m["1.3"] = caseFunc{run: func(t *T) {
		e := t.errorMsg(t.Do(addReq(false, obj(subTable, preq("Enable", "InvalidValue"), p("ID", "add3"), p("NotifType", "ValueChange"),
			p("ReferenceList", "Device.LocalAgent.SoftwareVersion")))))
		t.errParam(e, "the Enable parameter", hasSuffix("Enable"))
		t.noSubWithID("add3")
	}}
	m["1.4"] = caseFunc{run: func(t *T) {
		e := t.errorMsg(t.Do(addReq(false, obj("Device.LocalAgent.InvalidObject.", subParams("add4", "Device.LocalAgent.SoftwareVersion", false)...))))
		t.errParam(e, "Device.LocalAgent.InvalidObject.", exact("Device.LocalAgent.InvalidObject."))
		t.noSubWithID("add4")
	}}
	m["1.5"] = caseFunc{run: func(t *T) {
		p1, p2 := subParams("add51", "Device.LocalAgent.SoftwareVersion", true), subParams("add52", "Device.LocalAgent.EndpointID", true)
		r := t.addResp(t.Do(addReq(false, obj(subTable, p1...), obj(subTable, p2...))))
		paths := t.created(r, 2)
		t.Cleanup(func() { t.c.do(t.ctx, deleteReq(true, paths...), t.r.o.ReplyTimeout) })
		for _, res := range r.GetCreatedObjResults() {
			t.checkUniqueKeys(res.GetOperStatus().GetOperSuccess())
		}
		t.checkValues(paths[0], p1)
		t.checkValues(paths[1], p2)
	}}
	m["1.6"] = caseFunc{run: func(t *T) {
		e := t.errorMsg(t.Do(addReq(false, obj(subTable, subParams("add61", "Device.LocalAgent.SoftwareVersion", true)...),
			obj("Device.LocalAgent.InvalidObject.", subParams("add62", "Device.LocalAgent.EndpointID", true)...))))
		t.errParam(e, "Device.LocalAgent.InvalidObject.", exact("Device.LocalAgent.InvalidObject."))
		t.noSubWithID("add61", "add62")
	}}
	m["1.7"] = caseFunc{run: func(t *T) {
		e := t.errorMsg(t.Do(addReq(false,
			obj(subTable, preq("Enable", "InvalidValue"), p("ID", "add71"), p("NotifType", "ValueChange"), preq("ReferenceList", "Device.LocalAgent.SoftwareVersion")),
			obj(subTable, p("Enable", "true"), p("ID", "add72"), p("NotifType", "ValueChange")))))
		t.errParam(e, "the Enable parameter", hasSuffix("Enable"))
		t.noSubWithID("add71", "add72")
	}}
	m["1.8"] = caseFunc{run: func(t *T) {
		r := t.addResp(t.Do(addReq(true, obj(subTable, preq("Enable", "InvalidValue"), p("ID", "add8"), p("NotifType", "ValueChange"),
			preq("ReferenceList", "Device.LocalAgent.SoftwareVersion")))))
		t.Check(len(r.GetCreatedObjResults()) == 1, "%d results", len(r.GetCreatedObjResults()))
		f := r.GetCreatedObjResults()[0].GetOperStatus().GetOperFailure()
		t.Check(f != nil && appropriate(f.GetErrCode()), "want an OperationFailure: %v", r)
		t.noSubWithID("add8")
	}}
	m["1.9"] = caseFunc{run: func(t *T) {
		p1 := subParams("add91", "Device.LocalAgent.SoftwareVersion", false)
		p2 := append(subParams("add92", "Device.LocalAgent.EndpointID", false), preq("InvalidParameter", "IrrelevantValue"))
		r := t.addResp(t.Do(addReq(true, obj(subTable, p1...), obj(subTable, p2...))))
		res := r.GetCreatedObjResults()
		t.Check(len(res) == 2, "%d results", len(res))
		ok, f := res[0].GetOperStatus().GetOperSuccess(), res[1].GetOperStatus().GetOperFailure()
		t.Check(ok != nil && f != nil && appropriate(f.GetErrCode()), "want a success then a failure: %v", r)
		t.Cleanup(func() { t.c.do(t.ctx, deleteReq(true, ok.GetInstantiatedPath()), t.r.o.ReplyTimeout) })
		t.checkUniqueKeys(ok)
		t.checkValues(ok.GetInstantiatedPath(), p1)
		t.noSubWithID("add92")
	}}
	m["1.10"] = caseFunc{run: func(t *T) {
		t.need("Device.LocalAgent.Controller.{i}.BootParameter.{i}.")
		c := t.controller()
		id := t.value(c + "EndpointID")
		expr := fmt.Sprintf(`EndpointID=="%s"`, id)
		if t.supports("Device.LocalAgent.Controller.{i}.Alias") {
			expr += fmt.Sprintf(`&&Alias=="%s"`, t.value(c+"Alias"))
		}
		params := []kv{p("Enable", "true"), p("ParameterName", "Device.LocalAgent.SoftwareVersion")}
		r := t.addResp(t.Do(addReq(false, obj("Device.LocalAgent.Controller.["+expr+"].BootParameter.", params...))))
		paths := t.created(r, 1)
		t.Cleanup(func() { t.c.do(t.ctx, deleteReq(true, paths...), t.r.o.ReplyTimeout) })
		ok := r.GetCreatedObjResults()[0].GetOperStatus().GetOperSuccess()
		k := ok.GetUniqueKeys()
		_, pn := k["ParameterName"]
		t.Check(pn && len(ok.GetParamErrs()) == 0 && (len(k) == 1 || len(k) == 2), "unique_keys %v", k)
		t.Check(instanceOf(c+"BootParameter.")(paths[0]), "created %s, not under %s", paths[0], c)
		t.checkValues(paths[0], params)
	}}
	setOne := func(allowPartial bool) func(*T) {
		return func(t *T) {
			s := t.ensureSubs(1)[0]
			v := t.notifRetryValue(s)
			r := t.setResp(t.Do(setReq(allowPartial, obj(s, preq("NotifRetry", v)))))
			t.Check(len(r.GetUpdatedObjResults()) == 1, "%d results", len(r.GetUpdatedObjResults()))
			t.oneUpdated(r.GetUpdatedObjResults()[0], s, "NotifRetry")
			t.Check(t.value(s+"NotifRetry") == v, "NotifRetry not set")
		}
	}
	m["1.11"] = caseFunc{run: setOne(false)}
	m["1.12"] = caseFunc{run: setOne(true)}
	m["1.13"] = caseFunc{run: func(t *T) {
		s := t.ensureSubs(2)
		v := t.notifRetryValue(s[0])
		r := t.setResp(t.Do(setReq(false, obj(s[0], preq("NotifRetry", v)), obj(s[1], preq("NotifRetry", v)))))
		t.Check(len(r.GetUpdatedObjResults()) == 2, "%d results", len(r.GetUpdatedObjResults()))
		for i, u := range r.GetUpdatedObjResults() {
			t.oneUpdated(u, s[i], "NotifRetry")
			t.Check(t.value(s[i]+"NotifRetry") == v, "%sNotifRetry not set", s[i])
		}
	}}
	m["1.14"] = caseFunc{run: func(t *T) {
		s := t.ensureSubs(1)[0]
		e := t.errorMsg(t.Do(setReq(false, obj(s, preq("InvalidParameter", "IrrelevantValue")))))
		t.errParam(e, s+"InvalidParameter", exact(s+"InvalidParameter"))
		_, has := flat(t.getResp(t.Do(getReq(s))))[s+"InvalidParameter"]
		t.Check(!has, "InvalidParameter exists")
	}}
	m["1.15"] = caseFunc{run: func(t *T) {
		s := t.ensureSubs(2)
		before := t.value(s[0] + "NotifRetry")
		e := t.errorMsg(t.Do(setReq(false, obj(s[0], preq("NotifRetry", t.notifRetryValue(s[0]))), obj(s[1], preq("InvalidParameter", "IrrelevantValue")))))
		t.errParam(e, s[1]+"InvalidParameter", exact(s[1]+"InvalidParameter"))
		t.Check(t.value(s[0]+"NotifRetry") == before, "the first object was changed by a failed Set")
	}}
	m["1.16"] = caseFunc{run: func(t *T) {
		s := t.ensureSubs(2)
		v := t.notifRetryValue(s[0])
		r := t.setResp(t.Do(setReq(true, obj(s[0], preq("NotifRetry", v)), obj(s[1], preq("InvalidParameter", "IrrelevantValue")))))
		res := r.GetUpdatedObjResults()
		t.Check(len(res) == 2, "%d results", len(res))
		t.oneUpdated(res[0], s[0], "NotifRetry")
		f := res[1].GetOperStatus().GetOperFailure()
		t.Check(f != nil && appropriate(f.GetErrCode()), "second object: %v", res[1])
		t.Check(len(f.GetUpdatedInstFailures()) == 1 && f.GetUpdatedInstFailures()[0].GetAffectedPath() == s[1], "failures %v", f.GetUpdatedInstFailures())
		pe := f.GetUpdatedInstFailures()[0].GetParamErrs()
		t.Check(len(pe) == 1 && pe[0].GetParam() == "InvalidParameter" && appropriate(pe[0].GetErrCode()), "param errors %v", pe)
		t.Check(t.value(s[0]+"NotifRetry") == v, "NotifRetry not set")
	}}
	m["1.17"] = caseFunc{run: func(t *T) {
		s := t.ensureSubs(1)[0]
		v := t.notifRetryValue(s)
		r := t.setResp(t.Do(setReq(true, obj(s, p("NotifRetry", v), p("InvalidParameter", "IrrelevantValue")))))
		t.Check(len(r.GetUpdatedObjResults()) == 1, "%d results", len(r.GetUpdatedObjResults()))
		t.oneUpdated(r.GetUpdatedObjResults()[0], s, "NotifRetry")
		pe := r.GetUpdatedObjResults()[0].GetOperStatus().GetOperSuccess().GetUpdatedInstResults()[0].GetParamErrs()
		t.Check(len(pe) == 1 && pe[0].GetParam() == "InvalidParameter" && appropriate(pe[0].GetErrCode()), "param_errs %v", pe)
		t.Check(t.value(s+"NotifRetry") == v, "NotifRetry not set")
	}}
	m["1.18"] = caseFunc{run: func(t *T) {
		s := t.ensureSubs(1)[0]
		id, rec := t.value(s+"ID"), t.value(s+"Recipient")
		v := t.notifRetryValue(s)
		path := fmt.Sprintf(`%s[ID=="%s"&&Recipient=="%s"].`, subTable, id, rec)
		r := t.setResp(t.Do(setReq(false, obj(path, preq("NotifRetry", v)))))
		t.Check(len(r.GetUpdatedObjResults()) == 1, "%d results", len(r.GetUpdatedObjResults()))
		t.oneUpdated(r.GetUpdatedObjResults()[0], s, "NotifRetry")
		t.Check(t.value(s+"NotifRetry") == v, "NotifRetry not set")
	}}
	m["1.19"] = caseFunc{run: func(t *T) {
		s := t.ensureSubs(2)
		v := "true"
		r := t.setResp(t.Do(setReq(false, obj(subTable+"*.", preq("NotifRetry", v)))))
		t.Check(len(r.GetUpdatedObjResults()) == 1, "%d results", len(r.GetUpdatedObjResults()))
		ok := r.GetUpdatedObjResults()[0].GetOperStatus().GetOperSuccess()
		t.Check(ok != nil && len(ok.GetUpdatedInstResults()) >= 2, "result %v", r)
		for _, ir := range ok.GetUpdatedInstResults() {
			t.Check(instanceOf(subTable)(ir.GetAffectedPath()) && len(ir.GetUpdatedParams()) == 1 && ir.GetUpdatedParams()["NotifRetry"] == v, "instance result %v", ir)
		}
		for _, x := range s {
			t.Check(t.value(x+"NotifRetry") == v, "%sNotifRetry not set", x)
		}
	}}
	m["1.20"] = caseFunc{run: func(t *T) {
		t.ensureSubs(2)
		e := t.errorMsg(t.Do(setReq(false, obj(subTable+"*.", preq("InvalidParameter", "IrrelevantValue")))))
		t.Check(len(e.GetParamErrs()) >= 1, "no param_errs")
		for _, pe := range e.GetParamErrs() {
			t.Check(strings.HasPrefix(pe.GetParamPath(), subTable) && strings.HasSuffix(pe.GetParamPath(), ".InvalidParameter") && appropriate(pe.GetErrCode()), "param_errs %v", pe)
		}
	}}
	m["1.21"] = caseFunc{run: func(t *T) {
		t.ensureSubs(2)
		r := t.setResp(t.Do(setReq(true, obj(subTable+"*.", preq("Enable", "InvalidValue")))))
		t.Check(len(r.GetUpdatedObjResults()) == 1, "%d results", len(r.GetUpdatedObjResults()))
		f := r.GetUpdatedObjResults()[0].GetOperStatus().GetOperFailure()
		t.Check(f != nil && appropriate(f.GetErrCode()) && len(f.GetUpdatedInstFailures()) >= 1, "want an OperationFailure: %v", r)
		for _, x := range f.GetUpdatedInstFailures() {
			t.Check(instanceOf(subTable)(x.GetAffectedPath()) && len(x.GetParamErrs()) == 1 && x.GetParamErrs()[0].GetParam() == "Enable", "failure %v", x)
		}
		for path, v := range flat(t.getResp(t.Do(getReq(subTable)))) {
			t.Check(!(strings.HasSuffix(path, ".Enable") && v == "InvalidValue"), "%s = InvalidValue", path)
		}
	}}
	m["1.22"] = caseFunc{run: func(t *T) {
		t.need(subTable + "{i}.NotifExpiration")
		s := t.ensureSubs(1)[0]
		t.setOK(s, preq("NotifExpiration", "10"))
		v := t.notifRetryValue(s)
		r := t.setResp(t.Do(setReq(false, obj(subTable+"[NotifExpiration>0].", preq("NotifRetry", v)))))
		t.Check(len(r.GetUpdatedObjResults()) >= 1, "no result")
		ok := r.GetUpdatedObjResults()[0].GetOperStatus().GetOperSuccess()
		t.Check(ok != nil && len(ok.GetUpdatedInstResults()) >= 1, "result %v", r)
		t.Check(t.value(s+"NotifRetry") == v, "NotifRetry not set")
	}}
	m["1.23"] = caseFunc{run: func(t *T) {
		r := t.setResp(t.Do(setReq(true, obj(subTable+`[Recipient=="InvalidValue"].`, preq("NotifRetry", "true")))))
		t.Check(len(r.GetUpdatedObjResults()) == 1, "%d results", len(r.GetUpdatedObjResults()))
		ok := r.GetUpdatedObjResults()[0].GetOperStatus().GetOperSuccess()
		t.Check(ok != nil && len(ok.GetUpdatedInstResults()) == 0, "want an empty oper_success: %v", r)
	}}
	section1Delete(m)
	section1Get(m)
	section1Notify(m)
	section1Operate(m)
	section1Instances(m)
	section1Supported(m)
	section1Misc(m)
	return m
}

// deleteOne checks a DeleteResp result: requested path and affected
// paths.
func (t *T) deleteResult(r *wire.DeleteResp_DeletedObjectResult, requested string, affected ...string) {
	t.Check(r.GetRequestedPath() == requested, "requested_path %q, want %q", r.GetRequestedPath(), requested)
	ok := r.GetOperStatus().GetOperSuccess()
	t.Check(ok != nil, "%s: %v", requested, r.GetOperStatus())
	got := slices.Clone(ok.GetAffectedPaths())
	slices.Sort(got)
	slices.Sort(affected)
	t.Check(slices.Equal(got, affected), "affected_paths %v, want %v", got, affected)
}

// missingInstance returns a Subscription path that does not exist.
func (t *T) missingInstance() string {
	n := 9999
	for _, s := range t.instances(subTable) {
		var k int
		fmt.Sscanf(strings.TrimPrefix(s, subTable), "%d", &k)
		n = max(n, k+1000)
	}
	return fmt.Sprintf("%s%d.", subTable, n)
}

func section1Delete(m map[string]caseFunc) {
	m["1.24"] = caseFunc{run: func(t *T) {
		s := t.ensureSubs(1)[0]
		r := t.deleteResp(t.Do(deleteReq(false, s)))
		t.Check(len(r.GetDeletedObjResults()) == 1, "%d results", len(r.GetDeletedObjResults()))
		t.deleteResult(r.GetDeletedObjResults()[0], s, s)
		t.Check(!t.exists(s), "%s still exists", s)
	}}
	m["1.25"] = caseFunc{run: func(t *T) {
		x := t.missingInstance()
		r := t.deleteResp(t.Do(deleteReq(false, x)))
		t.Check(len(r.GetDeletedObjResults()) == 1, "%d results", len(r.GetDeletedObjResults()))
		t.deleteResult(r.GetDeletedObjResults()[0], x)
	}}
	m["1.26"] = caseFunc{run: func(t *T) {
		e := t.errorMsg(t.Do(deleteReq(false, "Device.LocalAgent.InvalidObject.")))
		t.errParam(e, "Device.LocalAgent.InvalidObject.", exact("Device.LocalAgent.InvalidObject."))
	}}
	m["1.27"] = caseFunc{run: func(t *T) {
		s := t.ensureSubs(2)
		r := t.deleteResp(t.Do(deleteReq(false, s...)))
		t.Check(len(r.GetDeletedObjResults()) == 2, "%d results", len(r.GetDeletedObjResults()))
		for i, res := range r.GetDeletedObjResults() {
			t.deleteResult(res, s[i], s[i])
			t.Check(!t.exists(s[i]), "%s still exists", s[i])
		}
	}}
	m["1.28"] = caseFunc{run: func(t *T) {
		s := t.ensureSubs(1)[0]
		e := t.errorMsg(t.Do(deleteReq(false, s, "Device.LocalAgent.InvalidObject.")))
		t.errParam(e, "Device.LocalAgent.InvalidObject.", exact("Device.LocalAgent.InvalidObject."))
		t.Check(t.exists(s), "%s deleted by a failed Delete", s)
	}}
	m["1.29"] = caseFunc{run: func(t *T) {
		x := t.missingInstance()
		r := t.deleteResp(t.Do(deleteReq(true, x)))
		t.Check(len(r.GetDeletedObjResults()) == 1, "%d results", len(r.GetDeletedObjResults()))
		t.deleteResult(r.GetDeletedObjResults()[0], x)
	}}
	m["1.30"] = caseFunc{run: func(t *T) {
		r := t.deleteResp(t.Do(deleteReq(true, "Device.LocalAgent.InvalidObject.")))
		t.Check(len(r.GetDeletedObjResults()) == 1, "%d results", len(r.GetDeletedObjResults()))
		res := r.GetDeletedObjResults()[0]
		f := res.GetOperStatus().GetOperFailure()
		t.Check(res.GetRequestedPath() == "Device.LocalAgent.InvalidObject." && f != nil && appropriate(f.GetErrCode()), "result %v", res)
	}}
	m["1.31"] = caseFunc{run: func(t *T) {
		s := t.ensureSubs(1)[0]
		r := t.deleteResp(t.Do(deleteReq(true, s, "Device.LocalAgent.InvalidObject.")))
		res := r.GetDeletedObjResults()
		t.Check(len(res) == 2, "%d results", len(res))
		t.deleteResult(res[0], s, s)
		f := res[1].GetOperStatus().GetOperFailure()
		t.Check(f != nil && appropriate(f.GetErrCode()), "invalid object: %v", res[1])
		t.Check(!t.exists(s), "%s still exists", s)
	}}
	m["1.32"] = caseFunc{run: func(t *T) {
		s := t.ensureSubs(1)[0]
		x := t.missingInstance()
		r := t.deleteResp(t.Do(deleteReq(true, s, x)))
		res := r.GetDeletedObjResults()
		t.Check(len(res) == 2, "%d results", len(res))
		t.deleteResult(res[0], s, s)
		t.deleteResult(res[1], x)
		t.Check(!t.exists(s), "%s still exists", s)
	}}
	m["1.33"] = caseFunc{run: func(t *T) {
		t.need("Device.LocalAgent.Controller.{i}.BootParameter.{i}.")
		c := t.controller()
		bp := t.addBootParams(c, "true")[0]
		expr := fmt.Sprintf(`EndpointID=="%s"`, t.c.id)
		if t.supports("Device.LocalAgent.Controller.{i}.Alias") {
			expr += fmt.Sprintf(`&&Alias=="%s"`, t.value(c+"Alias"))
		}
		path := "Device.LocalAgent.Controller.[" + expr + "].BootParameter." + strings.TrimPrefix(bp, c+"BootParameter.")
		r := t.deleteResp(t.Do(deleteReq(false, path)))
		t.Check(len(r.GetDeletedObjResults()) == 1, "%d results", len(r.GetDeletedObjResults()))
		t.deleteResult(r.GetDeletedObjResults()[0], path, bp)
		t.Check(!t.exists(bp), "%s still exists", bp)
	}}
	m["1.34"] = caseFunc{run: func(t *T) {
		s := t.ensureSubs(2)
		r := t.deleteResp(t.Do(deleteReq(false, subTable+"*.")))
		t.Check(len(r.GetDeletedObjResults()) == 1, "%d results", len(r.GetDeletedObjResults()))
		res := r.GetDeletedObjResults()[0]
		ok := res.GetOperStatus().GetOperSuccess()
		t.Check(res.GetRequestedPath() == subTable+"*." && ok != nil && len(ok.GetAffectedPaths()) >= 2, "result %v", res)
		for _, x := range s {
			t.Check(slices.Contains(ok.GetAffectedPaths(), x), "%s not in affected_paths", x)
			t.Check(!t.exists(x), "%s still exists", x)
		}
	}}
	m["1.35"] = caseFunc{run: func(t *T) {
		t.need("Device.LocalAgent.Controller.{i}.BootParameter.{i}.")
		c := t.controller()
		on := t.addBootParams(c, "true")[0]
		off := t.addBootParams(c, "false")[0]
		path := c + "BootParameter.[Enable==true]."
		r := t.deleteResp(t.Do(deleteReq(false, path)))
		t.Check(len(r.GetDeletedObjResults()) == 1, "%d results", len(r.GetDeletedObjResults()))
		ok := r.GetDeletedObjResults()[0].GetOperStatus().GetOperSuccess()
		t.Check(ok != nil && slices.Contains(ok.GetAffectedPaths(), on) && !slices.Contains(ok.GetAffectedPaths(), off), "result %v", r)
		t.Check(!t.exists(on) && t.exists(off), "wrong BootParameters deleted")
		for p, v := range flat(t.getResp(t.Do(getReq(c + "BootParameter.")))) {
			t.Check(!(strings.HasSuffix(p, ".Enable") && v == "true"), "%s is still there", p)
		}
	}}
}

// addBootParams adds BootParameters with the given Enable values under a
// Controller entry and deletes them when the case ends.
func (t *T) addBootParams(c string, enables ...string) []string {
	var objs []createObj
	for i, e := range enables {
		objs = append(objs, obj(c+"BootParameter.", p("Enable", e), p("ParameterName", fmt.Sprintf("Device.LocalAgent.X_TP469_%s_%d_%d", strings.ReplaceAll(t.id, ".", "_"), i, t.c.seq.Add(1)))))
	}
	r := t.addResp(t.Do(addReq(false, objs...)))
	paths := t.created(r, len(objs))
	t.Cleanup(func() { t.c.do(t.ctx, deleteReq(true, paths...), t.r.o.ReplyTimeout) })
	return paths
}

// oneResult checks a GetResp with one requested path and no error, and
// returns its resolved results.
func (t *T) oneResult(r *wire.GetResp, requested string) []*wire.GetResp_ResolvedPathResult {
	t.Check(len(r.GetReqPathResults()) == 1, "%d requested path results", len(r.GetReqPathResults()))
	rp := r.GetReqPathResults()[0]
	t.Check(rp.GetRequestedPath() == requested && rp.GetErrCode() == 0, "requested path result %v", rp)
	return rp.GetResolvedPathResults()
}

func (t *T) relativeKeys(res []*wire.GetResp_ResolvedPathResult) {
	for _, r := range res {
		t.Check(strings.HasSuffix(r.GetResolvedPath(), "."), "resolved_path %q is not an object path", r.GetResolvedPath())
		for k := range r.GetResultParams() {
			t.Check(!strings.HasPrefix(k, "Device."), "result_params key %q is not relative", k)
		}
	}
}

func section1Get(m map[string]caseFunc) {
	m["1.36"] = caseFunc{run: func(t *T) {
		res := t.oneResult(t.getResp(t.Do(getReq("Device.LocalAgent.EndpointID"))), "Device.LocalAgent.EndpointID")
		t.Check(len(res) == 1 && res[0].GetResolvedPath() == "Device.LocalAgent." && len(res[0].GetResultParams()) == 1 &&
			res[0].GetResultParams()["EndpointID"] == t.c.agentID, "resolved %v", res)
	}}
	m["1.37"] = caseFunc{run: func(t *T) {
		r := t.getResp(t.Do(getReq("Device.LocalAgent.EndpointID", "Device.LocalAgent.SoftwareVersion")))
		t.Check(len(r.GetReqPathResults()) == 2, "%d results", len(r.GetReqPathResults()))
		for i, name := range []string{"EndpointID", "SoftwareVersion"} {
			rp := r.GetReqPathResults()[i]
			t.Check(rp.GetRequestedPath() == "Device.LocalAgent."+name && rp.GetErrCode() == 0 && len(rp.GetResolvedPathResults()) == 1, "%v", rp)
			res := rp.GetResolvedPathResults()[0]
			_, ok := res.GetResultParams()[name]
			t.Check(res.GetResolvedPath() == "Device.LocalAgent." && len(res.GetResultParams()) == 1 && ok, "%v", res)
		}
		t.Check(r.GetReqPathResults()[0].GetResolvedPathResults()[0].GetResultParams()["EndpointID"] == t.c.agentID, "EndpointID")
	}}
	m["1.38"] = caseFunc{run: func(t *T) {
		s := t.ensureSubs(1)[0]
		r := t.getResp(t.Do(getReq("Device.LocalAgent.EndpointID", s+"Enable")))
		t.Check(len(r.GetReqPathResults()) == 2, "%d results", len(r.GetReqPathResults()))
		rp := r.GetReqPathResults()[1]
		t.Check(rp.GetRequestedPath() == s+"Enable" && rp.GetErrCode() == 0 && len(rp.GetResolvedPathResults()) == 1 &&
			rp.GetResolvedPathResults()[0].GetResolvedPath() == s && len(rp.GetResolvedPathResults()[0].GetResultParams()) == 1, "%v", rp)
	}}
	m["1.39"] = caseFunc{run: func(t *T) {
		res := t.oneResult(t.getResp(t.Do(getReq("Device.LocalAgent."))), "Device.LocalAgent.")
		t.relativeKeys(res)
		t.Check(len(res) > 1 && res[0].GetResolvedPath() == "Device.LocalAgent." && res[0].GetResultParams()["EndpointID"] == t.c.agentID, "resolved %d objects", len(res))
		for _, r := range res[1:] {
			t.Check(strings.HasPrefix(r.GetResolvedPath(), "Device.LocalAgent.") && r.GetResolvedPath() != "Device.LocalAgent.", "%s", r.GetResolvedPath())
		}
	}}
	m["1.40"] = caseFunc{run: func(t *T) {
		s := t.ensureSubs(1)[0]
		res := t.oneResult(t.getResp(t.Do(getReq(s))), s)
		t.relativeKeys(res)
		t.Check(len(res) == 1 && res[0].GetResolvedPath() == s && len(res[0].GetResultParams()) > 0, "resolved %v", res)
	}}
	m["1.41"] = caseFunc{run: func(t *T) {
		r := t.getResp(t.Do(getReq("Device.LocalAgent.InvalidParameter")))
		t.Check(len(r.GetReqPathResults()) == 1, "%d results", len(r.GetReqPathResults()))
		rp := r.GetReqPathResults()[0]
		t.Check(rp.GetRequestedPath() == "Device.LocalAgent.InvalidParameter" && appropriate(rp.GetErrCode()), "%v", rp)
	}}
	m["1.42"] = caseFunc{run: func(t *T) {
		r := t.getResp(t.Do(getReq("Device.LocalAgent.EndpointID", "Device.LocalAgent.InvalidParameter")))
		t.Check(len(r.GetReqPathResults()) == 2, "%d results", len(r.GetReqPathResults()))
		ok, bad := r.GetReqPathResults()[0], r.GetReqPathResults()[1]
		t.Check(ok.GetErrCode() == 0 && len(ok.GetResolvedPathResults()) == 1 && ok.GetResolvedPathResults()[0].GetResultParams()["EndpointID"] == t.c.agentID, "%v", ok)
		t.Check(bad.GetRequestedPath() == "Device.LocalAgent.InvalidParameter" && appropriate(bad.GetErrCode()), "%v", bad)
	}}
	m["1.43"] = caseFunc{run: func(t *T) {
		s := t.ensureSubs(1)[0]
		path := fmt.Sprintf(`%s[ID=="%s"&&Recipient=="%s"].Enable`, subTable, t.value(s+"ID"), t.value(s+"Recipient"))
		res := t.oneResult(t.getResp(t.Do(getReq(path))), path)
		_, ok := res[0].GetResultParams()["Enable"]
		t.Check(len(res) == 1 && res[0].GetResolvedPath() == s && ok, "resolved %v", res)
	}}
	m["1.44"] = caseFunc{run: func(t *T) {
		t.ensureSubs(2)
		res := t.oneResult(t.getResp(t.Do(getReq(subTable+"*.Enable"))), subTable+"*.Enable")
		t.Check(len(res) >= 2, "%d resolved", len(res))
		for _, r := range res {
			_, ok := r.GetResultParams()["Enable"]
			t.Check(instanceOf(subTable)(r.GetResolvedPath()) && ok && len(r.GetResultParams()) == 1, "%v", r)
		}
	}}
	m["1.45"] = caseFunc{run: func(t *T) {
		s := t.ensureSubs(2)
		res := t.oneResult(t.getResp(t.Do(getReq(subTable+"*."))), subTable+"*.")
		t.relativeKeys(res)
		var got []string
		for _, r := range res {
			got = append(got, r.GetResolvedPath())
		}
		for _, x := range s {
			t.Check(slices.Contains(got, x), "%s not resolved: %v", x, got)
		}
	}}
	search := func(expr string, setup func(*T) map[string]bool) func(*T) {
		return func(t *T) {
			want := setup(t)
			path := subTable + "[" + expr + "]."
			res := t.oneResult(t.getResp(t.Do(getReq(path))), path)
			t.relativeKeys(res)
			got := map[string]bool{}
			for _, r := range res {
				got[r.GetResolvedPath()] = true
			}
			for s, in := range want {
				t.Check(got[s] == in, "%s: returned %v, want %v", s, got[s], in)
			}
		}
	}
	enables := func(t *T) map[string]bool {
		s := t.ensureSubs(2)
		t.setOK(s[0], preq("Enable", "true"))
		return map[string]bool{s[0]: true, s[1]: false}
	}
	m["1.46"] = caseFunc{run: search("Enable==true", enables)}
	m["1.47"] = caseFunc{run: search("Enable!=true", func(t *T) map[string]bool {
		w := enables(t)
		for k := range w {
			w[k] = !w[k]
		}
		return w
	})}
	expirations := func(op string, values ...int) func(*T) map[string]bool {
		return func(t *T) map[string]bool {
			t.need(subTable + "{i}.NotifExpiration")
			s := t.ensureSubs(len(values))
			want := map[string]bool{}
			for i, v := range values {
				t.setOK(s[i], preq("NotifExpiration", fmt.Sprint(v)))
				switch op {
				case ">":
					want[s[i]] = v > 10
				case "<":
					want[s[i]] = v < 10
				case ">=":
					want[s[i]] = v >= 10
				case "<=":
					want[s[i]] = v <= 10
				}
			}
			return want
		}
	}
	m["1.48"] = caseFunc{run: search("NotifExpiration>10", expirations(">", 10, 20))}
	m["1.49"] = caseFunc{run: search("NotifExpiration<10", expirations("<", 10, 5))}
	m["1.50"] = caseFunc{run: search("NotifExpiration>=10", expirations(">=", 10, 20, 5))}
	m["1.51"] = caseFunc{run: search("NotifExpiration<=10", expirations("<=", 10, 20, 5))}
}

// provisioning prepares a ValueChange test on the runner's own
// Controller.{i}.ProvisioningCode and returns its path.
func (t *T) provisioning(not string) string {
	c := t.controller()
	pc := c + "ProvisioningCode"
	if t.value(pc) == not {
		t.setOK(c, preq("ProvisioningCode", not+"-before"))
	}
	return pc
}

// vcSub subscribes to value changes of a parameter with NotifRetry.
func (t *T) vcSub(id, ref string, extra ...kv) string {
	params := append([]kv{p("Enable", "true"), p("ID", id), p("NotifType", "ValueChange"), preq("ReferenceList", ref), p("NotifRetry", "true")}, extra...)
	return t.addSubs(obj(subTable, params...))[0]
}

func isValueChange(id, path string) func(*wire.Notify) bool {
	return func(n *wire.Notify) bool {
		return n.GetSubscriptionId() == id && n.GetValueChange().GetParamPath() == path
	}
}

func section1Notify(m map[string]caseFunc) {
	m["1.52"] = caseFunc{valueChange: true, run: func(t *T) {
		pc := t.provisioning("TestValue52")
		t.vcSub("notify52", pc)
		t.setOK(parentObject(pc), preq("ProvisioningCode", "TestValue52"))
		n := t.valueChange(isValueChange("notify52", pc))
		t.Check(n != nil, "%s", t.noValueChange())
		t.Check(n.GetBody().GetRequest().GetNotify().GetValueChange().GetParamValue() == "TestValue52", "value %v", n)
	}}
	m["1.53"] = caseFunc{wait: 20 * time.Second, long: true, valueChange: true, run: func(t *T) {
		pc := t.provisioning("TestValue53")
		s := t.vcSub("notify53", pc)
		t.setOK(parentObject(pc), preq("ProvisioningCode", "TestValue53"))
		t.Check(t.valueChange(isValueChange("notify53", pc)) != nil, "%s", t.noValueChange())
		r := t.deleteResp(t.Do(deleteReq(false, s)))
		t.deleteResult(r.GetDeletedObjResults()[0], s, s)
		t.setOK(parentObject(pc), preq("ProvisioningCode", "notify53-2"))
		t.Check(t.Notify(20*time.Second, isValueChange("notify53", pc)) == nil, "Notify after the subscription was deleted")
	}}
	m["1.54"] = caseFunc{wait: 40 * time.Second, long: true, valueChange: true, run: func(t *T) {
		pc := t.provisioning("TestValue54")
		c := parentObject(pc)
		t.setOK(c, preq("USPNotifRetryMinimumWaitInterval", "5"), preq("USPNotifRetryIntervalMultiplier", "2000"))
		t.vcSub("notify54", pc)
		t.c.mu.Lock()
		t.c.ackOff = true
		t.c.mu.Unlock()
		t.Cleanup(func() { t.c.mu.Lock(); t.c.ackOff = false; t.c.mu.Unlock() })
		t.setOK(c, preq("ProvisioningCode", "TestValue54"))
		first := t.valueChange(isValueChange("notify54", pc))
		t0 := time.Now()
		t.Check(first != nil, "%s", t.noValueChange())
		t.Check(first.GetBody().GetRequest().GetNotify().GetSendResp(), "send_resp is false")
		again := t.Notify(12*time.Second, isValueChange("notify54", pc))
		t1 := time.Now()
		t.Check(again != nil, "no retry within 12 s")
		d := t1.Sub(t0)
		t.Check(d >= 4*time.Second && d <= 11*time.Second, "first retry after %v, want 5-10 s", d)
		third := t.Notify(22*time.Second, isValueChange("notify54", pc))
		t.Check(third != nil, "no second retry")
		d = time.Since(t1)
		t.Check(d >= 9*time.Second && d <= 21*time.Second, "second retry after %v, want 10-20 s", d)
		t.c.ack(t.ctx, third)
	}}
	m["1.55"] = caseFunc{wait: 35 * time.Second, long: true, valueChange: true, run: func(t *T) {
		t.need(subTable + "{i}.TimeToLive")
		pc := t.provisioning("TestValue55")
		s := t.vcSub("notify55", pc, p("TimeToLive", "20"))
		t.setOK(parentObject(pc), preq("ProvisioningCode", "TestValue55"))
		t.Check(t.valueChange(isValueChange("notify55", pc)) != nil, "%s", t.noValueChange())
		time.Sleep(21 * time.Second)
		t.Check(!slices.Contains(t.instances(subTable), s), "%s still exists after its TimeToLive", s)
		t.setOK(parentObject(pc), preq("ProvisioningCode", "TestValue55-2"))
		t.Check(t.Notify(10*time.Second, isValueChange("notify55", pc)) == nil, "Notify after expiry")
	}}
	m["1.56"] = caseFunc{wait: 70 * time.Second, long: true, valueChange: true, run: func(t *T) {
		t.need(subTable + "{i}.NotifExpiration")
		pc := t.provisioning("TestValue56")
		c := parentObject(pc)
		t.setOK(c, preq("USPNotifRetryMinimumWaitInterval", "5"), preq("USPNotifRetryIntervalMultiplier", "2000"))
		t.vcSub("notify56", pc, p("NotifExpiration", "20"))
		t.c.mu.Lock()
		t.c.ackOff = true
		t.c.mu.Unlock()
		t.Cleanup(func() { t.c.mu.Lock(); t.c.ackOff = false; t.c.mu.Unlock() })
		t.setOK(c, preq("ProvisioningCode", "TestValue56"))
		t.Check(t.valueChange(isValueChange("notify56", pc)) != nil, "%s", t.noValueChange())
		t0 := time.Now()
		t.Check(t.Notify(20*time.Second, isValueChange("notify56", pc)) != nil, "no retry within 20 s")
		for time.Since(t0) < 21*time.Second {
			if n := t.Notify(21*time.Second-time.Since(t0), isValueChange("notify56", pc)); n == nil {
				break
			}
		}
		t.Check(t.Notify(40*time.Second, isValueChange("notify56", pc)) == nil, "retry after NotifExpiration")
	}}
	m["1.57"] = caseFunc{run: func(t *T) {
		c := t.controller()
		t.addSubs(obj(subTable, p("Enable", "true"), p("ID", "notify57"), p("NotifType", "ObjectCreation"), preq("ReferenceList", subTable), p("NotifRetry", "true")))
		s2 := t.vcSub("notify57-2", c+"ProvisioningCode")
		// The Notify follows the Add that caused it: it is awaited like a
		// response, up to Options.ReplyTimeout, and taken as soon as it comes.
		n := t.Notify(t.r.o.ReplyTimeout, func(n *wire.Notify) bool { return n.GetSubscriptionId() == "notify57" })
		t.Check(n != nil, "no ObjectCreation Notify")
		oc := n.GetBody().GetRequest().GetNotify().GetObjCreation()
		k := oc.GetUniqueKeys()
		t.Check(oc.GetObjPath() == s2 && k["ID"] == "notify57-2" && trimDot(k["Recipient"]) == trimDot(c), "creation %v", oc)
	}}
	m["1.58"] = caseFunc{run: func(t *T) {
		x := t.ensureSubs(1)[0]
		t.addSubs(obj(subTable, p("Enable", "true"), p("ID", "notify58"), p("NotifType", "ObjectDeletion"), preq("ReferenceList", subTable), p("NotifRetry", "true")))
		t.deleteResp(t.Do(deleteReq(false, x)))
		n := t.Notify(t.r.o.ReplyTimeout, func(n *wire.Notify) bool { return n.GetSubscriptionId() == "notify58" }) // as in 1.57
		t.Check(n != nil, "no ObjectDeletion Notify")
		t.Check(n.GetBody().GetRequest().GetNotify().GetObjDeletion().GetObjPath() == x, "deletion %v", n)
	}}
	m["1.59"] = caseFunc{wait: 150 * time.Second, long: true, run: func(t *T) {
		c := t.controller()
		t.need(c + "PeriodicNotifTime")
		t.setResp(t.Do(setReq(false, obj(c, p("PeriodicNotifInterval", "60"), p("PeriodicNotifTime", "2019-01-01T00:00:00Z")))))
		t.addSubs(obj(subTable, p("Enable", "true"), p("ID", "sub-103"), p("NotifType", "Event"), p("ReferenceList", "Device.LocalAgent.Periodic!")))
		periodic := func(n *wire.Notify) bool { return n.GetEvent().GetEventName() == "Periodic!" }
		t.Check(t.Notify(70*time.Second, periodic) != nil, "no Periodic!")
		t0 := time.Now()
		t.Check(t.Notify(70*time.Second, periodic) != nil, "no second Periodic!")
		d := time.Since(t0)
		t.Check(d >= 56*time.Second && d <= 64*time.Second, "second Periodic! after %v, want 60±4 s", d)
	}}
	m["1.60"] = caseFunc{run: func(t *T) {
		c := t.controller()
		t.need(c + "SendOnBoardRequest()")
		t.NoReply(operateReq(c+"SendOnBoardRequest()", "test60", false, nil), time.Second)
		n := t.Notify(10*time.Second, func(n *wire.Notify) bool { return n.GetOnBoardReq() != nil })
		t.Check(n != nil, "no OnBoardRequest Notify")
		ob := n.GetBody().GetRequest().GetNotify()
		t.Check(ob.GetSubscriptionId() == "", "subscription_id %q", ob.GetSubscriptionId())
		o := ob.GetOnBoardReq()
		t.Check(o.GetAgentSupportedProtocolVersions() != "" && o.GetOui() != "" && o.GetProductClass() != "" && o.GetSerialNumber() != "", "on_board_req %v", o)
	}}
}

// parentObject returns the object a parameter path belongs to.
func parentObject(path string) string { return path[:strings.LastIndexByte(path, '.')+1] }
