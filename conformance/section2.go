package conformance

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/uspkit/uspkit/record"
	"github.com/uspkit/uspkit/wire"
)

// testRole gives the runner's Controller a role of its own for one case:
// full access at Order 1, to which the case adds Permissions at higher
// Orders. The Controller's AssignedRole is restored when the case ends.
type testRole struct {
	t     *T
	path  string
	order int
}

func (t *T) role() *testRole {
	t.need("Device.LocalAgent.ControllerTrust.Role.{i}.Permission.{i}.", "Device.LocalAgent.Controller.{i}.AssignedRole")
	c := t.controller()
	old := t.value(c + "AssignedRole")
	r := t.addResp(t.Do(addReq(false, obj("Device.LocalAgent.ControllerTrust.Role.", p("Enable", "true"), p("Name", "tp469-"+t.id)))))
	role := t.created(r, 1)[0]
	t.Cleanup(func() { t.c.do(t.ctx, deleteReq(true, role), t.r.o.ReplyTimeout) })
	tr := &testRole{t: t, path: role}
	tr.add("Device.", "rw-n", "rw-n", "rw-n", "r-xn")
	tr.add(role+"Name", "----", "rw-n", "rw-n", "r-xn") // the probe: see effective
	t.setOK(c, preq("AssignedRole", trimDot(role)))
	t.Cleanup(func() { t.c.do(t.ctx, setReq(false, obj(c, preq("AssignedRole", old))), t.r.o.ReplyTimeout) })
	tr.effective()
	return tr
}

// effective checks, before the case judges anything, that the assigned
// role governs the runner's Controller. An Agent may combine the
// AssignedRole with roles the Controller inherits (InheritedRole, from
// its credentials or the Agent's policy), and the combined permissions
// can allow what the test role forbids; the case would then judge a
// restriction that never applied, or send a command (Reboot()) it was
// meant to block. The probe is a harmless restriction of the test role
// itself: read access to its own Name is denied at Order 2. A Get that
// still returns the Name means the restriction has no effect: the case
// stops as a setup failure, before any request under test.
func (r *testRole) effective() {
	t := r.t
	name := r.path + "Name"
	m := t.Do(getReq(name))
	if v, ok := flat(m.GetBody().GetResponse().GetGetResp())[name]; ok {
		inherited := ""
		ir := t.controller() + "InheritedRole"
		if iv := flat(t.Do(getReq(ir)).GetBody().GetResponse().GetGetResp())[ir]; iv != "" {
			inherited = " (InheritedRole " + iv + ")"
		}
		t.Skipf("setup: the restriction of the assigned role %s did not take effect%s: %s, denied to it, read as %q", trimDot(r.path), inherited, name, v)
	}
}

// add adds a Permission at the next Order and checks the AddResp.
func (r *testRole) add(targets, param, objPerm, inst, cmd string) {
	r.order++
	res := r.t.addResp(r.t.Do(addReq(false, r.perm(targets, param, objPerm, inst, cmd))))
	r.t.created(res, 1)
}

func (r *testRole) perm(targets, param, objPerm, inst, cmd string) createObj {
	return obj(r.path+"Permission.", p("Enable", "true"), p("Order", fmt.Sprint(r.order)), p("Targets", targets),
		p("Param", param), p("Obj", objPerm), p("InstantiatedObj", inst), p("CommandEvent", cmd))
}

func (t *T) denied(m *wire.Msg) {
	e := t.errorMsg(m)
	t.Check(e.GetErrCode() == 7006, "error code %d, want 7006 (Permission denied)", e.GetErrCode())
}

// section2 implements "Authentication and Access Control".
func section2() map[string]caseFunc {
	m := map[string]caseFunc{}
	section2Secured(m) // section2secured.go
	section2Time(m)    // section2time.go
	m["2.1"] = caseFunc{run: func(t *T) {
		payload := t.c.getPayload("Device.LocalAgent.EndpointID")
		t.Check(t.c.sendRecord(t.ctx, record.NewNoSession(t.c.agentID, t.c.agentID, payload)) == nil, "send failed")
		t.noReplyTo(payload)
	}}
	m["2.2"] = caseFunc{run: func(t *T) {
		payload := t.c.getPayload("Device.LocalAgent.EndpointID")
		t.Check(t.c.sendRecord(t.ctx, record.NewNoSession("proto::tp469-not-the-agent", t.c.id, payload)) == nil, "send failed")
		t.noReplyTo(payload)
	}}
	m["2.9"] = caseFunc{run: func(t *T) {
		t.need("Device.LocalAgent.ControllerTrust.UntrustedRole")
		second := t.secondController(false)
		untrusted := t.value("Device.LocalAgent.ControllerTrust.UntrustedRole")
		c2 := t.controllerOf(second.id)
		t.Check(t.value(c2+"AssignedRole") == untrusted, "AssignedRole of the unknown controller is %q, UntrustedRole %q", t.value(c2+"AssignedRole"), untrusted)
	}}
	m["2.10"] = caseFunc{run: func(t *T) {
		t.need("Device.LocalAgent.ControllerTrust.Role.{i}.")
		r := t.addResp(t.Do(addReq(false, obj("Device.LocalAgent.ControllerTrust.Role.", p("Enable", "true"), p("Name", "Trusted")))))
		paths := t.created(r, 1)
		t.Cleanup(func() { t.c.do(t.ctx, deleteReq(true, paths...), t.r.o.ReplyTimeout) })
	}}
	m["2.11"] = caseFunc{run: func(t *T) {
		t.role().add(subTable, "rwxn", "rw--", "rwxn", "rwxn")
		t.addSubs(obj(subTable))
	}}
	m["2.12"] = caseFunc{run: func(t *T) {
		t.role().add(subTable, "rwxn", "r---", "rwxn", "rwxn")
		t.denied(t.Do(addReq(false, obj(subTable))))
	}}
	m["2.13"] = caseFunc{run: func(t *T) {
		s := t.ensureSubs(1)[0]
		t.role().add(subTable, "rwxn", "rwxn", "rw--", "rwxn")
		r := t.deleteResp(t.Do(deleteReq(false, s)))
		t.Check(len(r.GetDeletedObjResults()) == 1 && slices.Contains(r.GetDeletedObjResults()[0].GetOperStatus().GetOperSuccess().GetAffectedPaths(), s), "%v", r)
	}}
	m["2.14"] = caseFunc{run: func(t *T) {
		s := t.ensureSubs(1)[0]
		t.role().add(subTable, "rwxn", "rwxn", "r---", "rwxn")
		t.denied(t.Do(deleteReq(false, s)))
	}}
	flip := func(t *T, s string) string {
		if t.value(s+"Enable") == "true" {
			return "false"
		}
		return "true"
	}
	m["2.15"] = caseFunc{run: func(t *T) {
		s := t.ensureSubs(1)[0]
		v := flip(t, s)
		t.role().add(s, "rw--", "rwxn", "rwxn", "rwxn")
		r := t.setResp(t.Do(setReq(false, obj(s, preq("Enable", v)))))
		t.oneUpdated(r.GetUpdatedObjResults()[0], s, "Enable")
	}}
	m["2.16"] = caseFunc{run: func(t *T) {
		s := t.ensureSubs(1)[0]
		v := flip(t, s)
		t.role().add(s, "r---", "rwxn", "rwxn", "rwxn")
		t.denied(t.Do(setReq(false, obj(s, preq("Enable", v)))))
	}}
	m["2.17"] = caseFunc{boot: true, wait: 130 * time.Second, run: func(t *T) {
		t.need("Device.Reboot()")
		t.role().add("Device.Reboot()", "rwxn", "rwxn", "rwxn", "r-x-")
		r := t.operateResp(t.Do(operateReq("Device.Reboot()", "", true, nil)))
		t.Check(len(r.GetOperationResults()) == 1 && r.GetOperationResults()[0].GetReqOutputArgs() != nil, "%v", r)
		t.rebooted()
	}}
	m["2.18"] = caseFunc{run: func(t *T) {
		t.need("Device.Reboot()")
		t.role().add("Device.Reboot()", "rwxn", "rwxn", "rwxn", "r---")
		m := t.Do(operateReq("Device.Reboot()", "", true, nil))
		if e := m.GetBody().GetError(); e != nil {
			t.Check(e.GetErrCode() == 7006, "error code %d, want 7006", e.GetErrCode()) // allowed for USP 1.3 agents
			return
		}
		r := t.operateResp(m)
		t.Check(len(r.GetOperationResults()) == 1 && r.GetOperationResults()[0].GetCmdFailure() != nil, "%v", r)
	}}
	vc := func(param string, want bool) func(*T) {
		return func(t *T) {
			c := t.controller()
			target := c + "PeriodicNotifInterval"
			t.role().add(target, param, "rwxn", "rwxn", "rwxn")
			t.addSubs(obj(subTable, p("Enable", "true"), p("NotifType", "ValueChange"), p("ReferenceList", target)))
			v := "3600"
			if t.value(target) == v {
				v = "7200"
			}
			t.setOK(c, preq("PeriodicNotifInterval", v))
			match := func(n *wire.Notify) bool { return n.GetValueChange().GetParamPath() == target }
			if want {
				t.Check(t.valueChange(match) != nil, "%s", t.noValueChange())
			} else {
				t.Check(t.Notify(t.waitFor(30*time.Second), match) == nil, "ValueChange Notify without notify permission")
			}
		}
	}
	m["2.19"] = caseFunc{valueChange: true, run: vc("rw-n", true)}
	m["2.20"] = caseFunc{run: vc("rw--", false), wait: 30 * time.Second}
	m["2.21"] = caseFunc{run: func(t *T) {
		t.need("Device.LocalAgent.Controller.{i}.BootParameter.{i}.")
		c := t.controller()
		bp := t.addBootParams(c, "true")[0]
		role := t.role()
		role.order++
		a := role.perm(bp, "----", "rwxn", "rwxn", "rwxn")
		role.order++
		b := role.perm(bp, "rw--", "rwxn", "rwxn", "rwxn")
		t.created(t.addResp(t.Do(addReq(false, a, b))), 2)
		got := flat(t.getResp(t.Do(getReq(c + "BootParameter."))))
		_, seen := got[bp+"ParameterName"]
		t.Check(seen, "%s not readable under the higher-ordered rw-- permission", bp)
		role.add(bp, "----", "rwxn", "rwxn", "rwxn")
		got = flat(t.getResp(t.Do(getReq(c + "BootParameter."))))
		for k := range got {
			t.Check(!strings.HasPrefix(k, bp), "%s readable under the highest-ordered ---- permission", k)
		}
	}}
	m["2.22"] = caseFunc{run: func(t *T) {
		t.need("Device.LocalAgent.Controller.{i}.BootParameter.{i}.")
		c := t.controller()
		bp := t.addBootParams(c, "true")[0]
		role := t.role()
		role.order++
		a := role.perm(bp, "rw--", "rwxn", "rwxn", "rwxn")
		role.order++
		b := role.perm(bp+"ParameterName", "----", "rwxn", "rwxn", "rwxn")
		t.created(t.addResp(t.Do(addReq(false, a, b))), 2)
		got := flat(t.getResp(t.Do(getReq(bp))))
		_, name := got[bp+"ParameterName"]
		_, enable := got[bp+"Enable"]
		t.Check(!name && enable, "GetResp %v: want every parameter but ParameterName", got)
	}}
	searchAdd := func(allowPartial bool) func(*T) {
		return func(t *T) {
			t.need("Device.LocalAgent.Controller.{i}.BootParameter.{i}.")
			ctrls := t.instances("Device.LocalAgent.Controller.")
			if len(ctrls) < 2 && t.r.second != nil {
				// The second Controller's entry, for this case only.
				t.secondController(true)
				ctrls = t.instances("Device.LocalAgent.Controller.")
			}
			if len(ctrls) < 2 {
				t.Skipf("needs two Controller entries")
			}
			c := t.controller()
			c2 := ctrls[0]
			if c2 == c {
				c2 = ctrls[1]
			}
			role := t.role()
			role.order++
			a := role.perm(c+"BootParameter.", "rw--", "rwxn", "rwxn", "rwxn")
			role.order++
			b := role.perm(c2+"BootParameter.", "r---", "rwxn", "rwxn", "rwxn")
			t.created(t.addResp(t.Do(addReq(false, a, b))), 2)
			before := t.instancesResp(t.Do(instancesReq(false, "Device.LocalAgent.Controller.*.BootParameter.")))
			// TP-469 writes the path without its final '.'; an Object
			// Path ends in '.' (TR-369 "Path Names").
			m := t.Do(addReq(allowPartial, obj("Device.LocalAgent.Controller.*.BootParameter.", preq("Enable", "false"))))
			if allowPartial {
				r := t.addResp(m)
				var ok []string
				denied := 0
				for _, res := range r.GetCreatedObjResults() {
					if s := res.GetOperStatus().GetOperSuccess(); s != nil {
						ok = append(ok, s.GetInstantiatedPath())
					} else if res.GetOperStatus().GetOperFailure().GetErrCode() == 7006 {
						denied++
					}
				}
				t.Cleanup(func() { t.c.do(t.ctx, deleteReq(true, ok...), t.r.o.ReplyTimeout) })
				t.Check(denied >= 1 && slices.ContainsFunc(ok, instanceOf(c+"BootParameter.")), "AddResp %v", r)
				return
			}
			e := t.errorMsg(m)
			t.Check(e.GetErrCode() == 7006, "error code %d, want 7006", e.GetErrCode())
			t.errParam(e, c2+"BootParameter", hasPrefix(c2+"BootParameter"))
			t.Check(e.GetParamErrs()[0].GetErrCode() == 7006, "param error code %d", e.GetParamErrs()[0].GetErrCode())
			after := t.instancesResp(t.Do(instancesReq(false, "Device.LocalAgent.Controller.*.BootParameter.")))
			t.Check(len(currInsts(after)) == len(currInsts(before)), "a BootParameter was created")
		}
	}
	m["2.23"] = caseFunc{run: searchAdd(true)}
	m["2.24"] = caseFunc{run: searchAdd(false)}
	m["2.25"] = caseFunc{run: func(t *T) {
		t.role().add(subTable+"*.Enable", "r---", "rwxn", "rwxn", "rwxn")
		s := t.addSubs(obj(subTable, p("ID", "add1"), p("NotifType", "ValueChange"), preq("ReferenceList", "Device.LocalAgent.SoftwareVersion")))[0]
		t.Check(t.value(s+"Enable") == "false", "Enable is not its default")
	}}
	m["2.26"] = caseFunc{run: func(t *T) {
		t.role().add(subTable+"*.Enable", "r---", "rwxn", "rwxn", "rwxn")
		r := t.addResp(t.Do(addReq(true, obj(subTable, p("ID", "add26"), p("NotifType", "ValueChange"), preq("ReferenceList", "Device.LocalAgent.SoftwareVersion"), preq("Enable", "true")))))
		t.Check(len(r.GetCreatedObjResults()) == 1 && r.GetCreatedObjResults()[0].GetOperStatus().GetOperFailure().GetErrCode() == 7006, "AddResp %v", r)
		t.noSubWithID("add26")
	}}
	return m
}

// waitFor shortens a negative wait when long waits are off.
func (t *T) waitFor(d time.Duration) time.Duration {
	if t.r.o.Long {
		return d
	}
	return min(d, 5*time.Second)
}

// getPayload encodes a Get with a fresh msg_id.
func (c *client) getPayload(path string) []byte {
	id := fmt.Sprintf("%s-raw-%d", strings.ReplaceAll(c.id, ":", ""), c.seq.Add(1))
	m := &wire.Msg{Header: &wire.Header{MsgId: id, MsgType: wire.Header_GET}, Body: &wire.Body{MsgBody: &wire.Body_Request{Request: getReq(path)}}}
	b, _ := protoMarshal(m)
	return b
}

// noReplyTo checks that the Get in payload gets no answer.
func (t *T) noReplyTo(payload []byte) {
	var m wire.Msg
	_ = protoUnmarshal(payload, &m)
	id := m.GetHeader().GetMsgId()
	ch := make(chan *wire.Msg, 1)
	t.c.mu.Lock()
	t.c.waiting[id] = ch
	t.c.mu.Unlock()
	defer func() {
		t.c.mu.Lock()
		delete(t.c.waiting, id)
		t.c.mu.Unlock()
	}()
	select {
	case r := <-ch:
		t.Fatalf("the agent answered: %v", brief(r))
	case <-time.After(2 * time.Second):
	}
	t.Check(t.c.ping(t.ctx, 5*time.Second) == nil, "the agent stopped answering")
}
