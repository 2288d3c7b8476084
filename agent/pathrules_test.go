package agent_test

import (
	"testing"

	"github.com/uspkit/uspkit/usperr"
	"github.com/uspkit/uspkit/wire"
)

// TestObjectPathNeedsFinalDot: an Object Path ends in '.' (TR-369
// "Path Names"); a message field that takes Object Paths refuses a path
// without it: 7026 Invalid Path when it reads as a Parameter Path (it
// matches no object), 7008 Invalid Path Syntax when it ends in an
// instance number (not a Path Name at all). Both are in the error lists of
// Add, Set, Delete, GetInstances and GetSupportedDM. Get takes Parameter
// Paths too, so a path without the '.' is a (missing) parameter there.
func TestObjectPathNeedsFinalDot(t *testing.T) {
	e := start(t, nil)
	for _, tc := range []struct {
		name string
		req  *wire.Request
		code func(*wire.Msg) uint32
		want uint32
	}{
		{"add table", addReq("Device.LocalAgent.Controller.1.BootParameter", "ParameterName", "Device.LocalAgent.EndpointID"), errCode, usperr.CodeInvalidPath},
		{"add wildcard", addReq("Device.LocalAgent.Controller.*.BootParameter", "ParameterName", "Device.LocalAgent.EndpointID"), errCode, usperr.CodeInvalidPath},
		{"set instance", setReq(false, "Device.LocalAgent.Controller.1", "PeriodicNotifInterval", "60"), errCode, usperr.CodeInvalidPathSyntax},
		{"set object", setReq(false, "Device.LocalAgent.ControllerTrust", "UntrustedRole", ""), errCode, usperr.CodeInvalidPath},
		{"set partial", setReq(true, "Device.LocalAgent.Controller.1", "PeriodicNotifInterval", "60"), func(m *wire.Msg) uint32 {
			return m.GetBody().GetResponse().GetSetResp().GetUpdatedObjResults()[0].GetOperStatus().GetOperFailure().GetErrCode()
		}, usperr.CodeInvalidPathSyntax},
		{"delete instance", &wire.Request{ReqType: &wire.Request_Delete{Delete: &wire.Delete{ObjPaths: []string{"Device.LocalAgent.Controller.1.BootParameter.1"}}}}, errCode, usperr.CodeInvalidPathSyntax},
		{"instances table", &wire.Request{ReqType: &wire.Request_GetInstances{GetInstances: &wire.GetInstances{ObjPaths: []string{"Device.LocalAgent.Controller"}}}}, func(m *wire.Msg) uint32 {
			return m.GetBody().GetResponse().GetGetInstancesResp().GetReqPathResults()[0].GetErrCode()
		}, usperr.CodeInvalidPath},
		{"instances instance", &wire.Request{ReqType: &wire.Request_GetInstances{GetInstances: &wire.GetInstances{ObjPaths: []string{"Device.LocalAgent.Controller.1"}}}}, func(m *wire.Msg) uint32 {
			return m.GetBody().GetResponse().GetGetInstancesResp().GetReqPathResults()[0].GetErrCode()
		}, usperr.CodeInvalidPathSyntax},
		{"supported object", &wire.Request{ReqType: &wire.Request_GetSupportedDm{GetSupportedDm: &wire.GetSupportedDM{ObjPaths: []string{"Device.LocalAgent"}}}}, func(m *wire.Msg) uint32 {
			return m.GetBody().GetResponse().GetGetSupportedDmResp().GetReqObjResults()[0].GetErrCode()
		}, usperr.CodeInvalidPath},
		{"supported table", &wire.Request{ReqType: &wire.Request_GetSupportedDm{GetSupportedDm: &wire.GetSupportedDM{ObjPaths: []string{"Device.LocalAgent.Controller.{i}"}}}}, func(m *wire.Msg) uint32 {
			return m.GetBody().GetResponse().GetGetSupportedDmResp().GetReqObjResults()[0].GetErrCode()
		}, usperr.CodeInvalidPathSyntax},
		{"get object", get("Device.LocalAgent.ControllerTrust"), func(m *wire.Msg) uint32 {
			return m.GetBody().GetResponse().GetGetResp().GetReqPathResults()[0].GetErrCode()
		}, usperr.CodeInvalidPath},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.ctl.do(tc.req)
			if got := tc.code(r); got != tc.want {
				t.Errorf("code %d, want %d: %v", got, tc.want, r)
			}
		})
	}
	// Nothing was added.
	if r := e.ctl.do(get("Device.LocalAgent.Controller.1.BootParameterNumberOfEntries")); value(t, r, "Device.LocalAgent.Controller.1.BootParameterNumberOfEntries") != "0" {
		t.Errorf("a BootParameter was added: %v", r)
	}
}

func errCode(m *wire.Msg) uint32 { return m.GetBody().GetError().GetErrCode() }
