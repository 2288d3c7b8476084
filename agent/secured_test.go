package agent_test

import (
	"testing"
	"time"
)

// TestSecuredRoles: a secured parameter reads as the empty string to a
// Controller whose role is not in ControllerTrust.SecuredRoles, and as it
// is once the role is (TR-369 "Secured Parameters"; TP-469 2.27).
func TestSecuredRoles(t *testing.T) {
	e := start(t, nil)
	r := e.ctl.do(addReq("Device.MQTT.Client.", "Enable", "false", "Password", "s3cret"))
	res := r.GetBody().GetResponse().GetAddResp().GetCreatedObjResults()
	if len(res) != 1 || res[0].GetOperStatus().GetOperSuccess() == nil {
		t.Fatalf("client not added: %v", r)
	}
	pw := res[0].GetOperStatus().GetOperSuccess().GetInstantiatedPath() + "Password"
	role := value(t, e.ctl.do(get(ctrl1+"AssignedRole")), ctrl1+"AssignedRole")
	const trust = "Device.LocalAgent.ControllerTrust."
	steps := []struct {
		securedRoles string
		want         string
	}{
		{"", ""},
		{role, "s3cret"},
		{role + ".", "s3cret"}, // a reference with its trailing dot
		{"Device.LocalAgent.ControllerTrust.Role.99", ""},
		{"", ""},
	}
	for _, st := range steps {
		if r := e.ctl.do(setReq(false, trust, "SecuredRoles", st.securedRoles)); r.GetBody().GetResponse().GetSetResp() == nil {
			t.Fatalf("SecuredRoles %q not set: %v", st.securedRoles, r)
		}
		if got := value(t, e.ctl.do(get(pw)), pw); got != st.want {
			t.Errorf("SecuredRoles %q: Password reads %q, want %q", st.securedRoles, got, st.want)
		}
	}
}

// TestSecuredValueChange: a ValueChange Notify of a secured parameter
// carries the empty string to a Controller without a SecuredRoles role,
// and the value to one with it; either way it is sent when the value
// changes.
func TestSecuredValueChange(t *testing.T) {
	e := start(t, nil)
	r := e.ctl.do(addReq("Device.MQTT.Client.", "Enable", "false", "Password", "first"))
	res := r.GetBody().GetResponse().GetAddResp().GetCreatedObjResults()
	if len(res) != 1 || res[0].GetOperStatus().GetOperSuccess() == nil {
		t.Fatalf("client not added: %v", r)
	}
	client := res[0].GetOperStatus().GetOperSuccess().GetInstantiatedPath()
	e.ctl.subscribe(t, "pw", "ValueChange", client+"Password")
	role := value(t, e.ctl.do(get(ctrl1+"AssignedRole")), ctrl1+"AssignedRole")
	for _, st := range []struct{ securedRoles, set, want string }{
		{"", "second", ""},
		{role, "third", "third"},
		{"", "fourth", ""},
	} {
		e.ctl.do(setReq(false, "Device.LocalAgent.ControllerTrust.", "SecuredRoles", st.securedRoles))
		e.ctl.do(setReq(false, client, "Password", st.set))
		n := e.ctl.notification(2 * time.Second)
		vc := n.GetBody().GetRequest().GetNotify().GetValueChange()
		if vc == nil || vc.GetParamPath() != client+"Password" {
			t.Fatalf("SecuredRoles %q: no ValueChange for the password: %v", st.securedRoles, n)
		}
		if vc.GetParamValue() != st.want {
			t.Errorf("SecuredRoles %q: notified value %q, want %q", st.securedRoles, vc.GetParamValue(), st.want)
		}
	}
}
