package conformance

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/uspkit/uspkit/wire"
)

// kv is one parameter setting: name, value and whether it is required.
type kv struct {
	name, value string
	required    bool
}

func p(name, value string) kv    { return kv{name: name, value: value} }
func preq(name, value string) kv { return kv{name: name, value: value, required: true} }
func getReq(paths ...string) *wire.Request {
	return &wire.Request{ReqType: &wire.Request_Get{Get: &wire.Get{ParamPaths: paths}}}
}

func getDepth(depth uint32, paths ...string) *wire.Request {
	return &wire.Request{ReqType: &wire.Request_Get{Get: &wire.Get{ParamPaths: paths, MaxDepth: depth}}}
}

// createObj is one object of an Add.
type createObj struct {
	path   string
	params []kv
}

func addReq(allowPartial bool, objs ...createObj) *wire.Request {
	a := &wire.Add{AllowPartial: allowPartial}
	for _, o := range objs {
		co := &wire.Add_CreateObject{ObjPath: o.path}
		for _, s := range o.params {
			co.ParamSettings = append(co.ParamSettings, &wire.Add_CreateParamSetting{Param: s.name, Value: s.value, Required: s.required})
		}
		a.CreateObjs = append(a.CreateObjs, co)
	}
	return &wire.Request{ReqType: &wire.Request_Add{Add: a}}
}

func setReq(allowPartial bool, objs ...createObj) *wire.Request {
	s := &wire.Set{AllowPartial: allowPartial}
	for _, o := range objs {
		uo := &wire.Set_UpdateObject{ObjPath: o.path}
		for _, x := range o.params {
			uo.ParamSettings = append(uo.ParamSettings, &wire.Set_UpdateParamSetting{Param: x.name, Value: x.value, Required: x.required})
		}
		s.UpdateObjs = append(s.UpdateObjs, uo)
	}
	return &wire.Request{ReqType: &wire.Request_Set{Set: s}}
}

func obj(path string, params ...kv) createObj { return createObj{path: path, params: params} }

func deleteReq(allowPartial bool, paths ...string) *wire.Request {
	return &wire.Request{ReqType: &wire.Request_Delete{Delete: &wire.Delete{AllowPartial: allowPartial, ObjPaths: paths}}}
}

func operateReq(cmd, key string, sendResp bool, args map[string]string) *wire.Request {
	return &wire.Request{ReqType: &wire.Request_Operate{Operate: &wire.Operate{Command: cmd, CommandKey: key, SendResp: sendResp, InputArgs: args}}}
}

func instancesReq(firstLevel bool, paths ...string) *wire.Request {
	return &wire.Request{ReqType: &wire.Request_GetInstances{GetInstances: &wire.GetInstances{ObjPaths: paths, FirstLevelOnly: firstLevel}}}
}

func supportedReq(firstLevel, cmds, events, params, keys bool, paths ...string) *wire.Request {
	return &wire.Request{ReqType: &wire.Request_GetSupportedDm{GetSupportedDm: &wire.GetSupportedDM{ObjPaths: paths,
		FirstLevelOnly: firstLevel, ReturnCommands: cmds, ReturnEvents: events, ReturnParams: params, ReturnUniqueKeySets: keys}}}
}

// Response accessors: each fails the case when the reply is of another
// type.

func (t *T) getResp(m *wire.Msg) *wire.GetResp {
	r := m.GetBody().GetResponse().GetGetResp()
	t.Check(r != nil, "expected a GetResp, got %v", brief(m))
	return r
}

func (t *T) setResp(m *wire.Msg) *wire.SetResp {
	r := m.GetBody().GetResponse().GetSetResp()
	t.Check(r != nil, "expected a SetResp, got %v", brief(m))
	return r
}

func (t *T) addResp(m *wire.Msg) *wire.AddResp {
	r := m.GetBody().GetResponse().GetAddResp()
	t.Check(r != nil, "expected an AddResp, got %v", brief(m))
	return r
}

func (t *T) deleteResp(m *wire.Msg) *wire.DeleteResp {
	r := m.GetBody().GetResponse().GetDeleteResp()
	t.Check(r != nil, "expected a DeleteResp, got %v", brief(m))
	return r
}

func (t *T) operateResp(m *wire.Msg) *wire.OperateResp {
	r := m.GetBody().GetResponse().GetOperateResp()
	t.Check(r != nil, "expected an OperateResp, got %v", brief(m))
	return r
}

func (t *T) instancesResp(m *wire.Msg) *wire.GetInstancesResp {
	r := m.GetBody().GetResponse().GetGetInstancesResp()
	t.Check(r != nil, "expected a GetInstancesResp, got %v", brief(m))
	return r
}

func (t *T) supportedResp(m *wire.Msg) *wire.GetSupportedDMResp {
	r := m.GetBody().GetResponse().GetGetSupportedDmResp()
	t.Check(r != nil, "expected a GetSupportedDMResp, got %v", brief(m))
	return r
}

// errorMsg checks that m is a USP Error with a code of the TR-369 table
// and returns it.
func (t *T) errorMsg(m *wire.Msg) *wire.Error {
	e := m.GetBody().GetError()
	t.Check(e != nil, "expected an Error, got %v", brief(m))
	t.Check(appropriate(e.GetErrCode()), "error code %d is not a TR-369 error code", e.GetErrCode())
	t.Check(m.GetHeader().GetMsgType() == wire.Header_ERROR, "Error message with header type %v", m.GetHeader().GetMsgType())
	return e
}

// appropriate reports whether code is a message error code of TR-369
// (7000-7031, or vendor 7800-7999).
func appropriate(code uint32) bool {
	return code >= 7000 && code <= 7031 || code >= 7800 && code <= 7999
}

func brief(m *wire.Msg) string {
	s := fmt.Sprint(m)
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

// flat returns every parameter of a GetResp as full path → value.
func flat(r *wire.GetResp) map[string]string {
	out := map[string]string{}
	for _, rp := range r.GetReqPathResults() {
		for _, res := range rp.GetResolvedPathResults() {
			for k, v := range res.GetResultParams() {
				out[res.GetResolvedPath()+k] = v
			}
		}
	}
	return out
}

// value reads one parameter.
func (t *T) value(path string) string {
	r := t.getResp(t.Do(getReq(path)))
	t.Check(len(r.GetReqPathResults()) == 1 && r.GetReqPathResults()[0].GetErrCode() == 0, "Get %s: %v", path, r)
	v, ok := flat(r)[path]
	t.Check(ok, "Get %s: no value in %v", path, r)
	return v
}

// exists reports whether an object instance exists.
func (t *T) exists(path string) bool {
	r := t.instancesResp(t.Do(instancesReq(true, parentTable(path))))
	for _, rp := range r.GetReqPathResults() {
		for _, in := range rp.GetCurrInsts() {
			if in.GetInstantiatedObjPath() == path {
				return true
			}
		}
	}
	return false
}

// parentTable returns the table of an instance path.
func parentTable(path string) string {
	s := strings.TrimSuffix(path, ".")
	return s[:strings.LastIndexByte(s, '.')+1]
}

// instances lists the instances of a table (first level).
func (t *T) instances(table string) []string {
	r := t.instancesResp(t.Do(instancesReq(true, table)))
	var out []string
	for _, rp := range r.GetReqPathResults() {
		for _, in := range rp.GetCurrInsts() {
			out = append(out, in.GetInstantiatedObjPath())
		}
	}
	sort.Strings(out)
	return out
}

// supports reports whether the Agent's supported data model has path (an
// object, parameter, command or event).
func (t *T) supports(path string) bool {
	m, err := t.c.do(t.ctx, supportedReq(false, true, true, true, false, path), t.r.o.ReplyTimeout)
	if err != nil {
		return false
	}
	r := m.GetBody().GetResponse().GetGetSupportedDmResp()
	if r == nil || len(r.GetReqObjResults()) != 1 || r.GetReqObjResults()[0].GetErrCode() != 0 {
		return false
	}
	return len(r.GetReqObjResults()[0].GetSupportedObjs()) > 0
}

// need skips the case unless the Agent supports every path.
func (t *T) need(paths ...string) {
	for _, path := range paths {
		if !t.supports(path) {
			t.Skipf("the agent does not support %s", path)
		}
	}
}

// created returns the instance paths of the successful results of an
// AddResp, checking there are n of them.
func (t *T) created(r *wire.AddResp, n int) []string {
	var out []string
	for _, res := range r.GetCreatedObjResults() {
		ok := res.GetOperStatus().GetOperSuccess()
		t.Check(ok != nil, "object %s not created: %v", res.GetRequestedPath(), res.GetOperStatus())
		out = append(out, ok.GetInstantiatedPath())
	}
	t.Check(len(out) == n, "%d objects created, want %d", len(out), n)
	return out
}

// subParams are the four usual Subscription settings of the plan.
func subParams(id, ref string, refRequired bool) []kv {
	r := p("ReferenceList", ref)
	r.required = refRequired
	return []kv{p("Enable", "true"), p("ID", id), p("NotifType", "ValueChange"), r}
}

const subTable = "Device.LocalAgent.Subscription."

// addSubs creates Subscriptions (deleted when the case ends) and returns
// their paths.
func (t *T) addSubs(objs ...createObj) []string {
	r := t.addResp(t.Do(addReq(false, objs...)))
	paths := t.created(r, len(objs))
	t.Cleanup(func() { t.c.do(t.ctx, deleteReq(true, paths...), t.r.o.ReplyTimeout) })
	return paths
}

// ensureSubs creates n plain Subscriptions for the case.
func (t *T) ensureSubs(n int) []string {
	var objs []createObj
	for i := range n {
		objs = append(objs, obj(subTable, p("Enable", "false"), p("ID", fmt.Sprintf("tp469-%s-%d", t.id, i)),
			p("NotifType", "ValueChange"), p("ReferenceList", "Device.LocalAgent.SoftwareVersion")))
	}
	return t.addSubs(objs...)
}

// clearSubs deletes every Subscription (for cases that need none), and
// restores nothing: the plan's setup asks for an Agent without them.
func (t *T) clearSubs() {
	t.deleteResp(t.Do(deleteReq(true, subTable+"*.")))
}

// controller returns the instance path of the runner's own Controller
// entry ("Device.LocalAgent.Controller.1.").
func (t *T) controller() string { return t.controllerOf(t.c.id) }

func (t *T) controllerOf(id string) string {
	r := t.getResp(t.Do(getReq("Device.LocalAgent.Controller.*.EndpointID")))
	for path, v := range flat(r) {
		if v == id {
			return strings.TrimSuffix(path, "EndpointID")
		}
	}
	t.Fatalf("no Device.LocalAgent.Controller entry with EndpointID %s", id)
	return ""
}

// setOK sets parameters and checks the SetResp succeeded.
func (t *T) setOK(path string, params ...kv) {
	r := t.setResp(t.Do(setReq(false, obj(path, params...))))
	for _, u := range r.GetUpdatedObjResults() {
		t.Check(u.GetOperStatus().GetOperSuccess() != nil, "Set %s failed: %v", path, u)
	}
}

// unique reports whether key/value maps have n distinct values of key.
func distinct(ms []map[string]string, key string) bool {
	seen := map[string]bool{}
	for _, m := range ms {
		seen[m[key]] = true
	}
	return len(seen) == len(ms)
}

// withOverrides returns params with each of overrides in place of the
// parameter of its name, or added after them.
func withOverrides(params, overrides []kv) []kv {
	for _, c := range overrides {
		if i := slices.IndexFunc(params, func(x kv) bool { return x.name == c.name }); i >= 0 {
			params[i] = c
		} else {
			params = append(params, c)
		}
	}
	return params
}

// retrySettings reads the retry interval (seconds) and multiplier (per
// mille) from params, named minName and multName, into min and mult.
func retrySettings(params []kv, minName, multName string, min *time.Duration, mult *uint32) {
	for _, c := range params {
		switch c.name {
		case minName:
			var n int
			fmt.Sscan(c.value, &n)
			*min = time.Duration(n) * time.Second
		case multName:
			fmt.Sscan(c.value, mult)
		}
	}
}

// controllerMTP makes sure the runner's Controller entry has an MTP row of
// protocol: when it has none, it adds one whose protocol section (e.g.
// "MQTT.") names ref and carries addr (e.g. Topic), removed at the end of
// the case. An entry of that protocol stays as it is.
func (t *T) controllerMTP(protocol, ref string, addr kv) {
	ctrl := t.controller()
	for _, v := range flat(t.getResp(t.Do(getReq(ctrl + "MTP.*.Protocol")))) {
		if v == protocol {
			return
		}
	}
	row := t.created(t.addResp(t.Do(addReq(false, obj(ctrl+"MTP.", p("Enable", "false"), p("Protocol", protocol))))), 1)[0]
	t.Cleanup(func() { t.c.do(t.ctx, deleteReq(true, row), t.r.o.ReplyTimeout) })
	t.setOK(row+protocol+".", p("Reference", strings.TrimSuffix(ref, ".")), addr)
	t.setOK(row, p("Enable", "true"))
}
