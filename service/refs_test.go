package service_test

import (
	"strings"
	"testing"
	"time"

	"github.com/uspkit/uspkit/wire"
)

// TestUSPServiceRef: the Broker's Controller row of a USP Service's
// Controller references the Service's USPService row in its UDS MTP
// (Device.LocalAgent.Controller.{i}.MTP.{i}.UDS.USPServiceRef, TR-369
// appendix "Software Modularization", "Data Model Implications"), a
// Controller that is no Service's has it empty, and the strong reference
// empties when the Service disconnects.
func TestUSPServiceRef(t *testing.T) {
	w := startBroker(t)
	a, _ := startService(t, w, "os::012345-SVCA", "Device.X_USPKIT_A.", true)
	b, stopB := startService(t, w, "os::012345-SVCB", "Device.X_USPKIT_B.", true)
	get(t, b.Broker(), "Device.LocalAgent.EndpointID") // B's Controller is heard: its Controller row
	c := a.Broker()
	// refs maps each Controller's Endpoint ID to its UDS USPServiceRef.
	refs := func() map[string]string {
		v := get(t, c, "Device.LocalAgent.Controller.")
		out := map[string]string{}
		for k, id := range v {
			if inst, ok := strings.CutSuffix(k, ".EndpointID"); ok && strings.Count(k, ".") == 4 {
				for k2, ref := range v {
					if strings.HasPrefix(k2, inst+".MTP.") && strings.HasSuffix(k2, ".UDS.USPServiceRef") {
						out[id] = ref
					}
				}
			}
		}
		return out
	}
	rowOf := func(id string) string {
		for k, v := range get(t, c, "Device.USPServices.USPService.") {
			if v == id {
				return strings.TrimSuffix(k, ".EndpointID")
			}
		}
		t.Fatalf("no USPService row for %s", id)
		return ""
	}
	got := refs()
	for _, id := range []string{"os::012345-SVCA", "os::012345-SVCB"} {
		if want := rowOf(id); got[id] != want {
			t.Errorf("USPServiceRef of %s's Controller = %q, want %q (all: %v)", id, got[id], want, got)
		}
	}
	// A Controller row of an Endpoint that is no USP Service.
	m := do(t, c, &wire.Add{CreateObjs: []*wire.Add_CreateObject{{ObjPath: "Device.LocalAgent.Controller.",
		ParamSettings: []*wire.Add_CreateParamSetting{{Param: "EndpointID", Value: "proto::other"}}}}})
	inst := m.GetBody().GetResponse().GetAddResp().GetCreatedObjResults()[0].GetOperStatus().GetOperSuccess().GetInstantiatedPath()
	do(t, c, &wire.Add{CreateObjs: []*wire.Add_CreateObject{{ObjPath: inst + "MTP.",
		ParamSettings: []*wire.Add_CreateParamSetting{{Param: "Protocol", Value: "UDS"}}}}})
	if got := refs(); got["proto::other"] != "" {
		t.Errorf("USPServiceRef of a Controller that is no Service's: %q", got["proto::other"])
	}
	stopB()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		got := refs()
		if got["os::012345-SVCB"] == "" && got["os::012345-SVCA"] != "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after B disconnected: %v", got)
		}
	}
}
