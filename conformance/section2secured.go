package conformance

import (
	"fmt"
)

// securedParams are tables the runner adds an instance to, with a secured
// parameter (TR-181 marks them secured) it sets, for 2.27; the first the
// Agent supports is used.
var securedParams = []struct{ table, param string }{
	{"Device.MQTT.Client.", "Password"},
	{"Device.STOMP.Connection.", "Password"},
}

// section2Secured implements 2.27: a secured parameter reads as the empty
// string to a Controller whose Role is not among
// ControllerTrust.SecuredRoles, and as its value once it is.
func section2Secured(m map[string]caseFunc) {
	m["2.27"] = caseFunc{run: func(t *T) {
		const trust = "Device.LocalAgent.ControllerTrust."
		t.need(trust+"SecuredRoles", trust+"Role.{i}.Permission.{i}.", "Device.LocalAgent.Controller.{i}.AssignedRole")
		table, param := "", ""
		for _, s := range securedParams {
			if t.supports(s.table+"{i}."+s.param) && t.supports(s.table+"{i}.Enable") {
				table, param = s.table, s.param
				break
			}
		}
		if table == "" {
			t.Skipf("the agent supports none of the secured parameters the runner knows (%v)", securedParams)
		}
		const secret = "tp469-secret-2.27"
		inst := t.created(t.addResp(t.Do(addReq(false, obj(table, p("Enable", "false"), preq(param, secret))))), 1)[0]
		t.Cleanup(func() { t.c.do(t.ctx, deleteReq(true, inst), t.r.o.ReplyTimeout) })
		path := inst + param

		// The secondary Controller's Role may read the parameter; the Role
		// is not (yet) a secured one.
		oldSecured := t.value(trust + "SecuredRoles")
		t.Cleanup(func() {
			t.c.do(t.ctx, setReq(false, obj(trust, preq("SecuredRoles", oldSecured))), t.r.o.ReplyTimeout)
		})
		role := t.created(t.addResp(t.Do(addReq(false, obj(trust+"Role.", p("Enable", "true"), p("Name", "tp469-"+t.id))))), 1)[0]
		t.Cleanup(func() { t.c.do(t.ctx, deleteReq(true, role), t.r.o.ReplyTimeout) })
		t.created(t.addResp(t.Do(addReq(false, obj(role+"Permission.", p("Enable", "true"), p("Order", "1"), p("Targets", "Device."),
			p("Param", "r---"), p("Obj", "r---"), p("InstantiatedObj", "r---"), p("CommandEvent", "----"))))), 1)
		second := t.secondController(true)
		c2 := t.controllerOf(second.id)
		oldRole := t.value(c2 + "AssignedRole")
		t.setOK(c2, preq("AssignedRole", trimDot(role)))
		t.Cleanup(func() { t.c.do(t.ctx, setReq(false, obj(c2, preq("AssignedRole", oldRole))), t.r.o.ReplyTimeout) })
		if t.value(trust+"SecuredRoles") != "" {
			t.setOK(trust, preq("SecuredRoles", ""))
		}

		got := func() (string, error) {
			m, err := second.do(t.ctx, getReq(path), t.r.o.ReplyTimeout)
			if err != nil {
				return "", err
			}
			r := m.GetBody().GetResponse().GetGetResp()
			v, ok := flat(r)[path]
			if !ok {
				return "", fmt.Errorf("no value in %v", m)
			}
			return v, nil
		}
		v, err := got()
		t.Check(err == nil, "Get %s by the secondary controller: %v", path, err)
		t.Check(v == "", "%s reads %q to a controller without a secured role, want the empty string", path, v)

		t.setOK(trust, preq("SecuredRoles", trimDot(role)))
		v, err = got()
		t.Check(err == nil, "Get %s by the secondary controller: %v", path, err)
		t.Check(v == secret, "%s reads %q to a controller with a secured role, want its value", path, v)
	}}
}
