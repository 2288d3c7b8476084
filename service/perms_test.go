package service_test

import (
	"context"
	"testing"

	"github.com/uspkit/uspkit/agent"
	"github.com/uspkit/uspkit/usperr"
	"github.com/uspkit/uspkit/wire"
)

// TestBrokerPermissions: the Broker applies the Controller's ControllerTrust
// permissions to the paths it proxies.
func TestBrokerPermissions(t *testing.T) {
	w := startBroker(t, func(o *agent.Options) {
		o.Factory = &agent.Config{UntrustedRole: "Full Access",
			Roles: append(agent.DefaultRoles(), agent.RoleConfig{Name: "Limited", Permissions: []agent.PermissionConfig{
				{Targets: []string{"Device."}, Param: "rw-n", Obj: "rw-n", InstantiatedObj: "rw-n", CommandEvent: "r-xn"},
				{Targets: []string{"Device.X_USPKIT_B."}, Param: "r---", Obj: "r---", InstantiatedObj: "r---", CommandEvent: "r---"},
				{Targets: []string{"Device.X_USPKIT_B.Value"}, Param: "----", Obj: "r---", InstantiatedObj: "r---", CommandEvent: "r---"},
			}}),
			Controllers: []agent.ControllerConfig{{EndpointID: "os::012345-SVCL", Role: "Limited", MTPs: []agent.ControllerMTPConf{{Protocol: "UDS"}}}}}
	})
	startService(t, w, "os::012345-SVCB", "Device.X_USPKIT_B.", false)
	l, _ := startService(t, w, "os::012345-SVCL", "Device.X_USPKIT_L.", true)
	c := l.Broker()

	got := get(t, c, "Device.X_USPKIT_B.")
	if _, ok := got["Device.X_USPKIT_B.Value"]; ok || got["Device.X_USPKIT_B.ItemNumberOfEntries"] != "0" {
		t.Errorf("Get with Value unreadable: %v", got)
	}
	set := func(partial bool) *wire.Msg {
		m, err := c.Do(context.Background(), req(&wire.Set{AllowPartial: partial, UpdateObjs: []*wire.Set_UpdateObject{
			{ObjPath: "Device.X_USPKIT_B.", ParamSettings: []*wire.Set_UpdateParamSetting{{Param: "Value", Value: "x"}}},
			{ObjPath: "Device.X_USPKIT_L.", ParamSettings: []*wire.Set_UpdateParamSetting{{Param: "Value", Value: "mine"}}}}}))
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	if e := set(false).GetBody().GetError(); e.GetErrCode() != usperr.CodePermissionDenied {
		t.Errorf("Set allow_partial false: %v", e)
	}
	rs := set(true).GetBody().GetResponse().GetSetResp().GetUpdatedObjResults()
	if len(rs) != 2 || rs[0].GetOperStatus().GetOperFailure().GetErrCode() != usperr.CodePermissionDenied || rs[1].GetOperStatus().GetOperSuccess() == nil {
		t.Errorf("Set allow_partial true: %v", rs)
	}
	for _, r := range []any{
		&wire.Operate{Command: "Device.X_USPKIT_B.Echo()", SendResp: true},
		&wire.Add{CreateObjs: []*wire.Add_CreateObject{{ObjPath: "Device.X_USPKIT_B.Item."}}},
		&wire.Delete{ObjPaths: []string{"Device.X_USPKIT_B.Item.1."}},
	} {
		m, err := c.Do(context.Background(), req(r))
		if err != nil {
			t.Fatal(err)
		}
		if e := m.GetBody().GetError(); e.GetErrCode() != usperr.CodePermissionDenied {
			t.Errorf("%T: %v", r, m)
		}
	}
}
