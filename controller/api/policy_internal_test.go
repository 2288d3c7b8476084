package api

import (
	"testing"

	"github.com/uspkit/uspkit/wire"
)

func setOf(obj string, params ...string) *wire.Request {
	uo := &wire.Set_UpdateObject{ObjPath: obj}
	for _, p := range params {
		uo.ParamSettings = append(uo.ParamSettings, &wire.Set_UpdateParamSetting{Param: p, Value: "x"})
	}
	return &wire.Request{ReqType: &wire.Request_Set{Set: &wire.Set{UpdateObjs: []*wire.Set_UpdateObject{uo}}}}
}

func addOf(obj string, params ...string) *wire.Request {
	co := &wire.Add_CreateObject{ObjPath: obj}
	for _, p := range params {
		co.ParamSettings = append(co.ParamSettings, &wire.Add_CreateParamSetting{Param: p, Value: "x"})
	}
	return &wire.Request{ReqType: &wire.Request_Add{Add: &wire.Add{CreateObjs: []*wire.Add_CreateObject{co}}}}
}

func deleteOf(paths ...string) *wire.Request {
	return &wire.Request{ReqType: &wire.Request_Delete{Delete: &wire.Delete{ObjPaths: paths}}}
}

func getOf(depth uint32, paths ...string) *wire.Request {
	return &wire.Request{ReqType: &wire.Request_Get{Get: &wire.Get{ParamPaths: paths, MaxDepth: depth}}}
}

func instancesOf(firstLevel bool, paths ...string) *wire.Request {
	return &wire.Request{ReqType: &wire.Request_GetInstances{GetInstances: &wire.GetInstances{ObjPaths: paths, FirstLevelOnly: firstLevel}}}
}

func operateOf(cmd string) *wire.Request {
	return &wire.Request{ReqType: &wire.Request_Operate{Operate: &wire.Operate{Command: cmd}}}
}

// TestRequiredRole: writes and commands that could reach a sensitive
// object need admin, whatever form the path takes, and other writes
// operator; reads need viewer, or operator when they could return a
// sensitive object's values or instances.
func TestRequiredRole(t *testing.T) {
	tests := []struct {
		name string
		req  *wire.Request
		want Role
	}{
		// Reads: Viewer, unless they could return a sensitive object's
		// values or instances.
		{"get a harmless object", getOf(0, "Device.DeviceInfo."), Viewer},
		{"get a harmless parameter by search", getOf(0, `Device.IP.Interface.[Name=="wan"].Status`), Viewer},
		{"get LocalAgent's own parameters", getOf(1, "Device.LocalAgent."), Viewer},
		{"get the controllers", getOf(0, "Device.LocalAgent.Controller."), Operator},
		{"get a controller's parameter", getOf(1, "Device.LocalAgent.Controller.1.EndpointID"), Operator},
		{"get LocalAgent in full", getOf(0, "Device.LocalAgent."), Operator},
		{"get LocalAgent two levels down", getOf(2, "Device.LocalAgent."), Operator},
		{"get everything", getOf(0, "Device."), Operator},
		{"get by wildcard", getOf(1, "Device.LocalAgent.*."), Operator},
		{"get an MQTT password", getOf(0, "Device.MQTT.Client.1.Password"), Operator},
		{"get through a reference", getOf(1, "Device.DeviceInfo.Some+."), Operator},
		{"get an unparsable path", getOf(1, "Device..X"), Operator},
		{"second of two gets", getOf(1, "Device.DeviceInfo.", "Device.Users.User.1."), Operator},
		{"instances of a harmless table", instancesOf(true, "Device.LocalAgent.Subscription."), Viewer},
		{"instances of the controllers", instancesOf(true, "Device.LocalAgent.Controller."), Operator},
		{"instances just below LocalAgent", instancesOf(true, "Device.LocalAgent."), Operator},
		{"instances of every level of LocalAgent", instancesOf(false, "Device.LocalAgent."), Operator},
		{"instances of the firmware images (no Read role)", instancesOf(false, "Device.DeviceInfo."), Viewer},
		{"get the MTPs (no Read role)", getOf(0, "Device.LocalAgent.MTP."), Viewer},
		{"supported data model", &wire.Request{ReqType: &wire.Request_GetSupportedDm{GetSupportedDm: &wire.GetSupportedDM{ObjPaths: []string{"Device.LocalAgent.Controller."}}}}, Viewer},
		{"supported protocol", &wire.Request{ReqType: &wire.Request_GetSupportedProtocol{GetSupportedProtocol: &wire.GetSupportedProtocol{}}}, Viewer},

		{"set a harmless parameter", setOf("Device.DeviceInfo.", "FriendlyName"), Operator},
		{"add a subscription", addOf("Device.LocalAgent.Subscription.", "Enable", "ID"), Operator},
		{"delete a subscription by alias", deleteOf(`Device.LocalAgent.Subscription.[Alias=="s1"].`), Operator},
		{"set on LocalAgent itself, not below", setOf("Device.LocalAgent.", "X"), Operator},
		{"operate a harmless command", operateOf("Device.IP.Diagnostics.IPPing()"), Operator},

		{"add a controller", addOf("Device.LocalAgent.Controller.", "EndpointID"), Admin},
		{"add a controller, no params", addOf("Device.LocalAgent.Controller."), Admin},
		{"set a controller by number", setOf("Device.LocalAgent.Controller.1.", "Enable"), Admin},
		{"set a controller by alias", setOf(`Device.LocalAgent.Controller.[Alias=="x"].`, "AssignedRole"), Admin},
		{"alias holding dots", setOf(`Device.LocalAgent.Controller.[Alias=="a.b.c"].`, "Enable"), Admin},
		{"search expression", setOf(`Device.LocalAgent.Controller.[Enable==true&&EndpointID=="x"].`, "AssignedRole"), Admin},
		{"wildcard instead of Controller", setOf("Device.LocalAgent.*.", "Enable"), Admin},
		{"wildcard instance", setOf("Device.LocalAgent.Controller.*.MTP.*.", "Enable"), Admin},
		{"parameter holding the rest of the path", setOf("Device.LocalAgent.", "Controller.1.Enable"), Admin},
		{"{i} form", setOf("Device.LocalAgent.ControllerTrust.Role.{i}.", "Enable"), Admin},
		{"controller trust", setOf("Device.LocalAgent.ControllerTrust.", "UntrustedRole"), Admin},
		{"trust credential", addOf("Device.LocalAgent.ControllerTrust.Credential.", "Role"), Admin},
		{"MTP", setOf("Device.LocalAgent.MTP.1.MQTT.", "Reference"), Admin},
		{"MQTT password", setOf("Device.MQTT.Client.1.", "Password"), Admin},
		{"STOMP connection", addOf("Device.STOMP.Connection."), Admin},
		{"delete above a sensitive object", deleteOf("Device.LocalAgent."), Admin},
		{"delete a controller", deleteOf("Device.LocalAgent.Controller.2."), Admin},
		{"delete with a search path", deleteOf("Device.LocalAgent.Controller.[EndpointID==\"x\"]."), Admin},
		{"second of two paths", deleteOf("Device.LocalAgent.Subscription.1.", "Device.LocalAgent.Controller.1."), Admin},
		{"factory reset", operateOf("Device.FactoryReset()"), Admin},
		{"reboot", operateOf("Device.Reboot()"), Admin},
		{"command under a controller", operateOf("Device.LocalAgent.Controller.1.SendOnBoardRequest()"), Admin},
		{"firmware download", operateOf("Device.DeviceInfo.FirmwareImage.2.Download()"), Admin},
		{"firmware activate by wildcard", operateOf("Device.DeviceInfo.FirmwareImage.*.Activate()"), Admin},
		{"add certificate", operateOf("Device.LocalAgent.AddCertificate()"), Admin},
		{"install software", operateOf("Device.SoftwareModules.InstallDU()"), Admin},
		{"reference following", setOf("Device.DeviceInfo.Some+.", "Password"), Admin},
		{"unbalanced bracket", setOf(`Device.LocalAgent.[Alias=="x".`, "Enable"), Admin},
		{"empty segment", setOf("Device..Controller.", "Enable"), Admin},
		{"unknown request type", &wire.Request{ReqType: &wire.Request_Notify{Notify: &wire.Notify{}}}, Admin},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, at := requiredRole(tt.req, DefaultPolicy()); got != tt.want {
				t.Errorf("requiredRole = %s (at %q), want %s", got, at, tt.want)
			}
		})
	}
}

func TestSegments(t *testing.T) {
	tests := []struct {
		in   string
		want []string
		ok   bool
	}{
		{"Device.LocalAgent.", []string{"Device", "LocalAgent"}, true},
		{"Device.Reboot()", []string{"Device", "Reboot()"}, true},
		{`Device.A.[Alias=="x.y"].B`, []string{"Device", "A", `[Alias=="x.y"]`, "B"}, true},
		{`Device.A.[B=="]"].C`, []string{"Device", "A", `[B=="]"]`, "C"}, true},
		{"Device..A", nil, false},
		{`Device.[A=="x`, nil, false},
		{"", nil, false},
	}
	for _, tt := range tests {
		got, ok := segments(tt.in)
		if ok != tt.ok || len(got) != len(tt.want) {
			t.Errorf("segments(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
			continue
		}
		for i := range got {
			if got[i] != tt.want[i] {
				t.Errorf("segments(%q)[%d] = %q, want %q", tt.in, i, got[i], tt.want[i])
			}
		}
	}
}
