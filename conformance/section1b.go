package conformance

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/uspkit/uspkit/wire"
)

// asyncCommand returns an asynchronous command the Agent supports and
// input that completes it quickly.
func (t *T) asyncCommand() (string, map[string]string) {
	if t.supports("Device.ScheduleTimer()") {
		return "Device.ScheduleTimer()", map[string]string{"DelaySeconds": "1"}
	}
	if t.supports("Device.SelfTestDiagnostics()") {
		return "Device.SelfTestDiagnostics()", nil
	}
	t.Skipf("the agent supports neither Device.ScheduleTimer() nor Device.SelfTestDiagnostics()")
	return "", nil
}

func isComplete(cmd, key string) func(*wire.Notify) bool {
	return func(n *wire.Notify) bool {
		oc := n.GetOperComplete()
		return oc != nil && oc.GetObjPath()+oc.GetCommandName() == cmd && oc.GetCommandKey() == key
	}
}

// rebooted waits for the Agent to answer again after a reboot.
func (t *T) rebooted() {
	time.Sleep(time.Second)
	t.Check(t.c.ping(t.ctx, 120*time.Second) == nil, "the agent did not come back after the reboot")
}

func section1Operate(m map[string]caseFunc) {
	m["1.61"] = caseFunc{boot: true, wait: 130 * time.Second, run: func(t *T) {
		t.need("Device.Reboot()")
		r := t.operateResp(t.Do(operateReq("Device.Reboot()", "test61", true, nil)))
		res := r.GetOperationResults()
		t.Check(len(res) == 1 && res[0].GetExecutedCommand() == "Device.Reboot()" && res[0].GetReqOutputArgs() != nil &&
			len(res[0].GetReqOutputArgs().GetOutputArgs()) == 0, "OperateResp %v", r)
		t.rebooted()
	}}
	m["1.62"] = caseFunc{boot: true, wait: 130 * time.Second, run: func(t *T) {
		t.need("Device.Reboot()")
		t.NoReply(operateReq("Device.Reboot()", "test62", false, nil), 2*time.Second)
		t.rebooted()
	}}
	m["1.64"] = caseFunc{run: func(t *T) {
		cmd, args := t.asyncCommand()
		t.addSubs(obj(subTable, p("Enable", "true"), p("ID", "tp469-1.64"), p("NotifType", "OperationComplete"), p("ReferenceList", cmd)))
		r := t.operateResp(t.Do(operateReq(cmd, "test64", true, args)))
		res := r.GetOperationResults()
		t.Check(len(res) == 1 && res[0].GetExecutedCommand() == cmd && instanceOf("Device.LocalAgent.Request.")(res[0].GetReqObjPath()), "OperateResp %v", r)
		t.Check(t.Notify(20*time.Second, isComplete(cmd, "test64")) != nil, "no OperationComplete")
	}}
	m["1.65"] = caseFunc{run: func(t *T) {
		cmd, args := t.asyncCommand()
		t.addSubs(obj(subTable, p("Enable", "true"), p("ID", "tp469-1.65"), p("NotifType", "OperationComplete"), p("ReferenceList", cmd)))
		t.NoReply(operateReq(cmd, "test65", false, args), 2*time.Second)
		t.Check(t.Notify(20*time.Second, isComplete(cmd, "test65")) != nil, "no OperationComplete")
	}}
	m["1.79"] = caseFunc{wait: 40 * time.Second, long: true, run: func(t *T) {
		t.need("Device.ScheduleTimer()")
		t.addSubs(obj(subTable, p("Enable", "true"), p("ID", "tp469-1.79"), p("NotifType", "OperationComplete"), p("ReferenceList", "Device.ScheduleTimer()")))
		r := t.operateResp(t.Do(operateReq("Device.ScheduleTimer()", "test79", true, map[string]string{"DelaySeconds": "30"})))
		t.Check(len(r.GetOperationResults()) == 1 && instanceOf("Device.LocalAgent.Request.")(r.GetOperationResults()[0].GetReqObjPath()), "OperateResp %v", r)
		t.Check(t.Notify(40*time.Second, isComplete("Device.ScheduleTimer()", "test79")) != nil, "no OperationComplete")
	}}
	m["1.91"] = caseFunc{run: func(t *T) {
		t.need("Device.ScheduleTimer()")
		r := t.operateResp(t.Do(operateReq("Device.ScheduleTimer()", "", true, map[string]string{"DelaySeconds": "10", "InvalidArgument": "2"})))
		res := r.GetOperationResults()
		t.Check(len(res) == 1 && res[0].GetCmdFailure() == nil && strings.Contains(res[0].GetExecutedCommand(), "ScheduleTimer()"), "OperateResp %v", r)
	}}
	m["1.100"] = caseFunc{wait: 125 * time.Second, long: true, run: func(t *T) {
		t.need("Device.ScheduleTimer()")
		t.addSubs(obj(subTable, p("Enable", "true"), p("ID", "tp469-1.100"), p("NotifType", "OperationComplete"), p("ReferenceList", "Device.ScheduleTimer()")))
		// The runner's Records carry USP 1.3, whose [R-OPR.5] answers a
		// missing mandatory argument with an Error 7004; TP-469 1.4's
		// cmd_failure 7027 is USP 1.4's answer. Either passes.
		m := t.Do(operateReq("Device.ScheduleTimer()", "test100", true, map[string]string{}))
		if e := m.GetBody().GetError(); e != nil {
			t.Check(e.GetErrCode() == 7004, "want Error 7004 (USP 1.3) or cmd_failure 7027 (USP 1.4): %v", brief(m))
		} else {
			res := t.operateResp(m).GetOperationResults()
			t.Check(len(res) == 1 && res[0].GetCmdFailure().GetErrCode() == 7027, "want cmd_failure 7027: %v", brief(m))
		}
		t.Check(t.Notify(120*time.Second, isComplete("Device.ScheduleTimer()", "test100")) == nil, "OperationComplete for a command that failed")
	}}
}

func currInsts(r *wire.GetInstancesResp) []string {
	var out []string
	for _, rp := range r.GetReqPathResults() {
		for _, in := range rp.GetCurrInsts() {
			out = append(out, in.GetInstantiatedObjPath())
		}
	}
	return out
}

func section1Instances(m map[string]caseFunc) {
	const ctrl = "Device.LocalAgent.Controller."
	m["1.66"] = caseFunc{run: func(t *T) {
		r := t.instancesResp(t.Do(instancesReq(true, ctrl)))
		t.Check(len(r.GetReqPathResults()) == 1 && r.GetReqPathResults()[0].GetRequestedPath() == ctrl, "%v", r)
		insts := currInsts(r)
		t.Check(len(insts) >= 1, "no instances")
		for _, x := range insts {
			t.Check(instanceOf(ctrl)(x), "%s is not a Controller instance", x)
		}
	}}
	m["1.67"] = caseFunc{run: func(t *T) {
		r := t.instancesResp(t.Do(instancesReq(false, ctrl)))
		t.Check(len(r.GetReqPathResults()) == 1 && r.GetReqPathResults()[0].GetRequestedPath() == ctrl, "%v", r)
		insts := currInsts(r)
		first := t.instances(ctrl)
		for _, c := range first {
			t.Check(slices.Contains(insts, c), "%s missing", c)
		}
		mtps := t.instances(t.controller() + "MTP.")
		for _, x := range mtps {
			t.Check(slices.Contains(insts, x), "sub-object instance %s missing", x)
		}
	}}
	m["1.68"] = caseFunc{run: func(t *T) {
		r := t.instancesResp(t.Do(instancesReq(true, ctrl, "Device.LocalAgent.MTP.")))
		t.Check(len(r.GetReqPathResults()) == 2, "%d results", len(r.GetReqPathResults()))
		for i, want := range []string{ctrl, "Device.LocalAgent.MTP."} {
			rp := r.GetReqPathResults()[i]
			t.Check(rp.GetRequestedPath() == want && len(rp.GetCurrInsts()) >= 1, "%v", rp)
		}
	}}
	m["1.70"] = caseFunc{run: func(t *T) {
		r := t.instancesResp(t.Do(instancesReq(true, ctrl+"*.MTP.")))
		found := false
		for _, x := range currInsts(r) {
			if strings.HasPrefix(x, ctrl) && strings.Contains(x, ".MTP.") {
				found = true
			}
		}
		t.Check(found, "no Controller.{i}.MTP.{j}. instance in %v", r)
	}}
	m["1.71"] = caseFunc{run: func(t *T) {
		t.need(ctrl+"{i}.BootParameter.{i}.", ctrl+"{i}.Alias")
		c := t.controller()
		bp := t.addBootParams(c, "true")[0]
		path := fmt.Sprintf(`%s[Alias=="%s"].BootParameter.`, ctrl, t.value(c+"Alias"))
		t.Check(slices.Contains(currInsts(t.instancesResp(t.Do(instancesReq(false, path)))), bp), "%s not listed", bp)
	}}
	m["1.83"] = caseFunc{run: func(t *T) {
		t.need(ctrl+"{i}.BootParameter.{i}.", ctrl+"{i}.Alias")
		path := ctrl + `[Alias=="tp469-no-such-alias"].BootParameter.`
		r := t.instancesResp(t.Do(instancesReq(false, path)))
		t.Check(len(r.GetReqPathResults()) == 1 && r.GetReqPathResults()[0].GetErrCode() == 0 && r.GetReqPathResults()[0].GetRequestedPath() == path &&
			len(r.GetReqPathResults()[0].GetCurrInsts()) == 0, "%v", r)
	}}
}

// checkSupported checks the fields of every reported object.
func (t *T) checkSupported(objs []*wire.GetSupportedDMResp_SupportedObjectResult) {
	for _, o := range objs {
		t.Check(strings.HasSuffix(o.GetSupportedObjPath(), "."), "supported_obj_path %q", o.GetSupportedObjPath())
		for _, p := range o.GetSupportedParams() {
			t.Check(p.GetParamName() != "" && !strings.Contains(p.GetParamName(), "Device.") && p.GetValueType() != wire.GetSupportedDMResp_PARAM_UNKNOWN &&
				p.GetValueChange() != wire.GetSupportedDMResp_VALUE_CHANGE_UNKNOWN, "%s: param %v", o.GetSupportedObjPath(), p)
		}
		for _, c := range o.GetSupportedCommands() {
			t.Check(strings.HasSuffix(c.GetCommandName(), "()") && c.GetCommandType() != wire.GetSupportedDMResp_CMD_UNKNOWN, "%s: command %v", o.GetSupportedObjPath(), c)
		}
		for _, e := range o.GetSupportedEvents() {
			t.Check(strings.HasSuffix(e.GetEventName(), "!"), "%s: event %v", o.GetSupportedObjPath(), e)
		}
		for _, k := range o.GetUniqueKeySets() {
			t.Check(len(k.GetKeyNames()) > 0, "%s: empty unique key set", o.GetSupportedObjPath())
		}
	}
}

func (t *T) oneSupported(r *wire.GetSupportedDMResp) []*wire.GetSupportedDMResp_SupportedObjectResult {
	t.Check(len(r.GetReqObjResults()) == 1 && r.GetReqObjResults()[0].GetErrCode() == 0, "%v", r)
	return r.GetReqObjResults()[0].GetSupportedObjs()
}

func items(o *wire.GetSupportedDMResp_SupportedObjectResult) int {
	return len(o.GetSupportedParams()) + len(o.GetSupportedCommands()) + len(o.GetSupportedEvents()) + len(o.GetUniqueKeySets())
}

func section1Supported(m map[string]caseFunc) {
	m["1.72"] = caseFunc{run: func(t *T) {
		objs := t.oneSupported(t.supportedResp(t.Do(supportedReq(false, true, true, true, true, "Device.LocalAgent."))))
		t.checkSupported(objs)
		var paths []string
		keys := false
		for _, o := range objs {
			paths = append(paths, o.GetSupportedObjPath())
			keys = keys || len(o.GetUniqueKeySets()) > 0
		}
		t.Check(slices.Contains(paths, "Device.LocalAgent.") && slices.Contains(paths, "Device.LocalAgent.Controller.{i}.") &&
			slices.Contains(paths, "Device.LocalAgent.Controller.{i}.MTP.{i}."), "objects %v", paths)
		t.Check(keys, "no unique key sets")
	}}
	m["1.73"] = caseFunc{run: func(t *T) {
		objs := t.oneSupported(t.supportedResp(t.Do(supportedReq(true, true, true, true, true, "Device.LocalAgent."))))
		t.checkSupported(objs)
		t.Check(len(objs) > 1 && objs[0].GetSupportedObjPath() == "Device.LocalAgent." && len(objs[0].GetSupportedParams()) > 0 && len(objs[0].GetUniqueKeySets()) == 0, "first object %v", objs[0])
		for _, o := range objs[1:] {
			rest := strings.TrimPrefix(o.GetSupportedObjPath(), "Device.LocalAgent.")
			t.Check(strings.Count(strings.TrimSuffix(rest, "{i}."), ".") == 1 && items(o) == 0, "child %v", o)
		}
	}}
	m["1.74"] = caseFunc{run: func(t *T) {
		objs := t.oneSupported(t.supportedResp(t.Do(supportedReq(true, false, false, false, false, "Device.LocalAgent."))))
		t.Check(len(objs) > 1, "%d objects", len(objs))
		for _, o := range objs {
			t.Check(items(o) == 0, "items without asking: %v", o)
		}
	}}
	m["1.75"] = caseFunc{run: func(t *T) {
		r := t.supportedResp(t.Do(supportedReq(true, true, true, true, true, "Device.LocalAgent.Controller.", "Device.LocalAgent.MTP.")))
		t.Check(len(r.GetReqObjResults()) == 2, "%d results", len(r.GetReqObjResults()))
		for i, want := range []string{"Device.LocalAgent.Controller.{i}.", "Device.LocalAgent.MTP.{i}."} {
			res := r.GetReqObjResults()[i]
			objs := res.GetSupportedObjs()
			t.Check(res.GetErrCode() == 0 && len(objs) >= 1 && objs[0].GetSupportedObjPath() == want && len(objs[0].GetSupportedParams()) > 0, "%v", res)
			t.Check(len(objs[0].GetUniqueKeySets()) > 0, "%s: no unique key sets", want)
			t.checkSupported(objs)
			for _, o := range objs[1:] {
				t.Check(len(o.GetSupportedParams())+len(o.GetSupportedCommands())+len(o.GetSupportedEvents()) == 0, "child with items: %v", o)
			}
		}
	}}
	m["1.76"] = caseFunc{run: func(t *T) {
		objs := t.oneSupported(t.supportedResp(t.Do(supportedReq(false, true, true, true, true, "Device."))))
		t.checkSupported(objs)
		t.Check(len(objs) > 5 && objs[0].GetSupportedObjPath() == "Device.", "%d objects", len(objs))
	}}
	m["1.77"] = caseFunc{run: func(t *T) {
		r := t.supportedResp(t.Do(supportedReq(false, true, true, true, true, "Device.LocalAgent.UnsupportedObject.")))
		t.Check(len(r.GetReqObjResults()) == 1 && appropriate(r.GetReqObjResults()[0].GetErrCode()), "%v", r)
	}}
	m["1.97"] = caseFunc{run: func(t *T) {
		objs := t.oneSupported(t.supportedResp(t.Do(supportedReq(false, true, false, false, false, "Device."))))
		withInput := false
		for _, o := range objs {
			t.Check(len(o.GetSupportedParams())+len(o.GetSupportedEvents()) == 0, "params or events listed: %v", o)
			for _, c := range o.GetSupportedCommands() {
				t.Check(c.GetCommandType() != wire.GetSupportedDMResp_CMD_UNKNOWN, "command %v", c)
				for _, a := range c.GetInputArgNames() {
					withInput = true
					t.Check(!strings.HasPrefix(a, "Device."), "argument %q is not relative", a)
				}
			}
		}
		if !withInput {
			t.Skipf("no command with input arguments")
		}
	}}
	m["1.98"] = caseFunc{run: func(t *T) {
		objs := t.oneSupported(t.supportedResp(t.Do(supportedReq(false, false, true, false, false, "Device."))))
		withArgs := false
		for _, o := range objs {
			t.Check(len(o.GetSupportedParams())+len(o.GetSupportedCommands()) == 0, "params or commands listed: %v", o)
			for _, e := range o.GetSupportedEvents() {
				withArgs = withArgs || len(e.GetArgNames()) > 0
			}
		}
		if !withArgs {
			t.Skipf("no event with arguments")
		}
	}}
	m["1.99"] = caseFunc{run: func(t *T) {
		// TP-469 writes the path without its final '.'; an Object Path
		// ends in '.' (TR-369 "Path Names"), which a strict Agent needs.
		objs := t.oneSupported(t.supportedResp(t.Do(supportedReq(false, false, false, false, true, subTable))))
		t.Check(len(objs) >= 1 && objs[0].GetSupportedObjPath() == subTable+"{i}.", "objects %v", objs)
		var sets []string
		for _, k := range objs[0].GetUniqueKeySets() {
			// A unique key is a set of parameters: its names may come
			// in any order (TR-369 GetSupportedDM unique_key_sets).
			names := slices.Sorted(slices.Values(k.GetKeyNames()))
			sets = append(sets, strings.Join(names, "+"))
		}
		slices.Sort(sets)
		t.Check(slices.Equal(sets, []string{"Alias", "ID+Recipient"}) || slices.Equal(sets, []string{"ID+Recipient"}), "unique key sets %v", sets)
		for _, o := range objs {
			t.Check(len(o.GetSupportedParams())+len(o.GetSupportedCommands())+len(o.GetSupportedEvents()) == 0, "items listed: %v", o)
		}
	}}
	item := func(path string, check func(o *wire.GetSupportedDMResp_SupportedObjectResult) bool) func(*T) {
		return func(t *T) {
			t.need(path)
			objs := t.oneSupported(t.supportedResp(t.Do(supportedReq(false, true, true, true, true, path))))
			t.Check(len(objs) == 1 && check(objs[0]) && len(objs[0].GetUniqueKeySets()) == 0, "%v", objs)
		}
	}
	m["1.105"] = caseFunc{run: item("Device.Reboot()", func(o *wire.GetSupportedDMResp_SupportedObjectResult) bool {
		return len(o.GetSupportedCommands()) == 1 && o.GetSupportedCommands()[0].GetCommandName() == "Reboot()" && len(o.GetSupportedParams())+len(o.GetSupportedEvents()) == 0
	})}
	m["1.106"] = caseFunc{run: item("Device.Boot!", func(o *wire.GetSupportedDMResp_SupportedObjectResult) bool {
		return len(o.GetSupportedEvents()) == 1 && o.GetSupportedEvents()[0].GetEventName() == "Boot!" && len(o.GetSupportedParams())+len(o.GetSupportedCommands()) == 0
	})}
	m["1.107"] = caseFunc{run: item("Device.LocalAgent.EndpointID", func(o *wire.GetSupportedDMResp_SupportedObjectResult) bool {
		return len(o.GetSupportedParams()) == 1 && o.GetSupportedParams()[0].GetParamName() == "EndpointID" && len(o.GetSupportedEvents())+len(o.GetSupportedCommands()) == 0
	})}
}

func section1Misc(m map[string]caseFunc) {
	m["1.78"] = caseFunc{run: func(t *T) {
		second := t.secondController(true)
		sub := t.addSubsAs(second, obj(subTable, p("Enable", "true"), p("ID", "tp469-1.78"), p("NotifType", "ValueChange"), p("ReferenceList", "Device.LocalAgent.SoftwareVersion")))
		c2 := t.controllerOf(second.id)
		t.deleteResp(t.Do(deleteReq(false, c2)))
		t.Check(!slices.Contains(t.instances(subTable), sub), "the deleted controller's subscription %s still exists", sub)
	}}
	m["1.80"] = caseFunc{run: func(t *T) {
		r := t.Do(&wire.Request{ReqType: &wire.Request_GetSupportedProtocol{GetSupportedProtocol: &wire.GetSupportedProtocol{ControllerSupportedProtocolVersions: "1.0,1.1,1.2,1.3,1.4"}}})
		v := r.GetBody().GetResponse().GetGetSupportedProtocolResp().GetAgentSupportedProtocolVersions()
		t.Check(v != "", "no agent_supported_protocol_versions: %v", brief(r))
		for _, x := range strings.Split(v, ",") {
			var a, b int
			_, err := fmt.Sscanf(strings.TrimSpace(x), "%d.%d", &a, &b)
			t.Check(err == nil, "version %q is not major.minor", x)
		}
	}}
	m["1.81"] = caseFunc{run: func(t *T) {
		r := t.addResp(t.Do(addReq(false, obj(subTable, p("Enable", "true"), p("NotifType", "ValueChange"), p("ReferenceList", "Device.LocalAgent.SoftwareVersion")),
			obj(subTable, p("Enable", "true"), p("NotifType", "ValueChange"), p("ReferenceList", "Device.LocalAgent.EndpointID")))))
		paths := t.created(r, 2)
		t.Cleanup(func() { t.c.do(t.ctx, deleteReq(true, paths...), t.r.o.ReplyTimeout) })
		var keys []map[string]string
		for _, res := range r.GetCreatedObjResults() {
			t.checkUniqueKeys(res.GetOperStatus().GetOperSuccess())
			keys = append(keys, res.GetOperStatus().GetOperSuccess().GetUniqueKeys())
		}
		t.Check(distinct(keys, "ID") && keys[0]["Recipient"] == keys[1]["Recipient"], "unique keys %v", keys)
		if _, ok := keys[0]["Alias"]; ok {
			t.Check(distinct(keys, "Alias"), "Alias values %v", keys)
		}
	}}
	noneMatching := func(path string) func(*T) {
		return func(t *T) {
			t.clearSubs()
			res := t.oneResult(t.getResp(t.Do(getReq(path))), path)
			t.Check(len(res) == 0, "resolved %v", res)
		}
	}
	m["1.82"] = caseFunc{run: noneMatching(subTable + "[Enable==true].")}
	m["1.86"] = caseFunc{run: noneMatching(subTable + "[Enable==true].")}
	m["1.87"] = caseFunc{run: noneMatching(subTable)}
	m["1.84"] = caseFunc{valueChange: true, run: func(t *T) {
		t.need("Device.LocalAgent.Controller.{i}.BootParameter.{i}.")
		c := t.controller()
		bps := t.addBootParams(c, "true", "true")
		t.addSubs(obj(subTable, p("Enable", "true"), p("ID", "notify84"), p("NotifType", "ValueChange"), preq("ReferenceList", c+"BootParameter.*.Enable")))
		t.setOK(bps[1], preq("Enable", "false"))
		n := t.valueChange(isValueChange("notify84", bps[1]+"Enable"))
		t.Check(n != nil, "%s for %sEnable", t.noValueChange(), bps[1])
		t.Check(n.GetBody().GetRequest().GetNotify().GetValueChange().GetParamValue() == "false", "value %v", n)
	}}
	m["1.88"] = caseFunc{run: func(t *T) {
		t.need(subTable + "{i}.Alias")
		t.errorMsg(t.Do(addReq(false, obj(subTable, p("Enable", "True"), p("Alias", "88InvalidAlias"), p("NotifType", "ValueChange"), p("ReferenceList", "Device.LocalAgent.SoftwareVersion")))))
		for path, v := range flat(t.getResp(t.Do(getReq(subTable)))) {
			t.Check(!(strings.HasSuffix(path, ".Alias") && v == "88InvalidAlias"), "created %s", path)
		}
	}}
	m["1.89"] = caseFunc{run: func(t *T) {
		depth := func(d uint32) []*wire.GetResp_ResolvedPathResult {
			res := t.oneResult(t.getResp(t.Do(getDepth(d, "Device.LocalAgent."))), "Device.LocalAgent.")
			t.relativeKeys(res)
			return res
		}
		one := depth(1)
		t.Check(len(one) == 1 && one[0].GetResolvedPath() == "Device.LocalAgent.", "max_depth 1: %d objects", len(one))
		two := depth(2)
		for _, r := range two {
			rest := strings.TrimPrefix(r.GetResolvedPath(), "Device.LocalAgent.")
			levels := 0
			for _, part := range strings.Split(strings.TrimSuffix(rest, "."), ".") {
				if part != "" && !isNumber(part) {
					levels++
				}
			}
			t.Check(levels <= 1, "max_depth 2 returned %s", r.GetResolvedPath())
		}
		t.Check(len(two) > 1, "max_depth 2 returned only %d objects", len(two))
		all := depth(0)
		t.Check(len(all) >= len(two), "max_depth 0 returned fewer objects (%d) than max_depth 2 (%d)", len(all), len(two))
	}}
	m["1.90"] = caseFunc{run: func(t *T) {
		for path, v := range flat(t.getResp(t.Do(getReq(subTable + "*.Enable")))) {
			if v == "false" {
				t.deleteResp(t.Do(deleteReq(true, parentObject(path))))
			}
		}
		r := t.deleteResp(t.Do(deleteReq(false, subTable+"[Enable==false].")))
		t.Check(len(r.GetDeletedObjResults()) == 1, "%d results", len(r.GetDeletedObjResults()))
		t.deleteResult(r.GetDeletedObjResults()[0], subTable+"[Enable==false].")
	}}
	m["1.95"] = caseFunc{run: func(t *T) {
		t.need("Device.LocalAgent.Controller.{i}.BootParameter.{i}.")
		if len(t.instances("Device.LocalAgent.Controller.")) < 2 && t.r.second != nil {
			// The second Controller's entry, for this case only.
			t.secondController(true)
		}
		if len(t.instances("Device.LocalAgent.Controller.")) < 2 {
			t.Skipf("needs two Controller entries")
		}
		r := t.addResp(t.Do(addReq(false, obj("Device.LocalAgent.Controller.[Enable==true].BootParameter.", p("Enable", "true"), p("ParameterName", "Device.LocalAgent.SoftwareVersion")))))
		var created []string
		for _, res := range r.GetCreatedObjResults() {
			ok := res.GetOperStatus().GetOperSuccess()
			t.Check(ok != nil, "%v", res)
			created = append(created, ok.GetInstantiatedPath())
		}
		t.Cleanup(func() { t.c.do(t.ctx, deleteReq(true, created...), t.r.o.ReplyTimeout) })
		t.Check(len(created) >= 1, "nothing created")
		got := flat(t.getResp(t.Do(getReq("Device.LocalAgent.Controller.*.BootParameter."))))
		for _, c := range created {
			_, ok := got[c+"ParameterName"]
			t.Check(ok, "%s not in the GetResp", c)
		}
	}}
	m["1.96"] = caseFunc{run: func(t *T) {
		s := t.addSubs(obj(subTable, p("ID", "add96")))[0]
		t.errorMsg(t.Do(setReq(false, obj(s, preq("ID", "add96-NEW")))))
		t.Check(t.value(s+"ID") == "add96", "ID changed")
	}}
	m["1.104"] = caseFunc{run: func(t *T) {
		t.need(subTable + "{i}.Alias")
		s := t.addSubs(obj(subTable, p("Alias", "test-1-104")))[0]
		t.errorMsg(t.Do(setReq(false, obj(s, preq("Alias", "test-1-104-new-alias")))))
		t.Check(t.value(s+"Alias") == "test-1-104", "Alias changed")
	}}
}

// secondController returns the second Controller, or skips. A trusted
// one gets a Controller entry with the runner's own AssignedRole; an
// untrusted one is unknown to the Agent (its entry, if any, is deleted).
func (t *T) secondController(trusted bool) *client {
	second := t.r.second
	if second == nil {
		t.Skipf("needs a second controller")
	}
	t.keepController(second.id) // restored when the case ends (restore.go)
	var entry string
	for path, v := range flat(t.getResp(t.Do(getReq("Device.LocalAgent.Controller.*.EndpointID")))) {
		if v == second.id {
			entry = strings.TrimSuffix(path, "EndpointID")
		}
	}
	if trusted {
		role := t.value(t.controller() + "AssignedRole")
		if entry == "" {
			r := t.addResp(t.Do(addReq(false, obj("Device.LocalAgent.Controller.", p("EndpointID", second.id), p("Enable", "true"), p("AssignedRole", role)))))
			entry = t.created(r, 1)[0]
			t.created(t.addResp(t.Do(addReq(false, obj(entry+"MTP.", p("Enable", "true"), p("Protocol", t.protocol()))))), 1)
		} else {
			t.setOK(entry, preq("Enable", "true"), preq("AssignedRole", role))
		}
	} else if entry != "" {
		t.deleteResp(t.Do(deleteReq(false, entry)))
	}
	if _, err := second.do(t.ctx, getReq("Device.LocalAgent.EndpointID"), 5*time.Second); err != nil {
		t.Skipf("the second controller cannot reach the agent: %v", err)
	}
	return second
}

// addSubsAs creates Subscriptions as another Controller.
func (t *T) addSubsAs(c *client, objs ...createObj) string {
	r := t.addResp(t.DoAs(c, addReq(false, objs...)))
	paths := t.created(r, len(objs))
	t.Cleanup(func() { t.c.do(t.ctx, deleteReq(true, paths...), t.r.o.ReplyTimeout) })
	return paths[0]
}
