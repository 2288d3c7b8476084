package service_test

import (
	"context"
	"testing"
	"time"

	"github.com/uspkit/uspkit/datamodel"
	"github.com/uspkit/uspkit/service"
	"github.com/uspkit/uspkit/wire"
)

// TestBrokerSubscriptions: a Controller's subscriptions on a Service's
// paths are forwarded with the Controller's subscription IDs, for every
// notification type; an asynchronous command has its Request object in the
// Broker; a Service that goes away reports its instances deleted.
func TestBrokerSubscriptions(t *testing.T) {
	w := startBroker(t)
	notes := make(chan *wire.Notify, 64)
	a, _ := startService(t, w, "os::012345-SVCA", "Device.X_USPKIT_A.", true, func(o *service.Options) {
		o.OnNotify = func(ctx context.Context, n *wire.Notify) { notes <- n }
	})
	b, stopB := startService(t, w, "os::012345-SVCB", "Device.X_USPKIT_B.", false)
	c := a.Broker()
	subs := []struct{ id, typ, ref string }{
		{"vc", "ValueChange", "Device.X_USPKIT_B.Value"},
		{"oc", "ObjectCreation", "Device.X_USPKIT_B.Item."},
		{"od", "ObjectDeletion", "Device.X_USPKIT_B.Item."},
		{"ev", "Event", "Device.X_USPKIT_B.Tick!"},
		{"opc", "OperationComplete", "Device.X_USPKIT_B.Wait()"},
	}
	for _, s := range subs {
		do(t, c, &wire.Add{CreateObjs: []*wire.Add_CreateObject{{ObjPath: "Device.LocalAgent.Subscription.", ParamSettings: []*wire.Add_CreateParamSetting{
			{Param: "ID", Value: s.id}, {Param: "NotifType", Value: s.typ}, {Param: "ReferenceList", Value: s.ref}, {Param: "Enable", Value: "true"}}}}})
	}
	// The Broker subscribes on the Service: ValueChange, ObjectCreation,
	// ObjectDeletion, Event, and an ObjectCreation to follow instances.
	waitSubs := func(n int) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			r := b.Agent().Engine().Instances(context.Background(), datamodel.Caller{}, []string{"Device.LocalAgent.Subscription."}, true)
			if len(r) == 1 && len(r[0].Instances) == n {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("subscriptions on the Service: %+v, want %d", r, n)
			}
		}
	}
	waitSubs(5)
	next := func(what string) *wire.Notify {
		t.Helper()
		select {
		case n := <-notes:
			return n
		case <-time.After(10 * time.Second):
			t.Fatalf("no Notify for %s", what)
			return nil
		}
	}

	do(t, c, &wire.Set{UpdateObjs: []*wire.Set_UpdateObject{{ObjPath: "Device.X_USPKIT_B.", ParamSettings: []*wire.Set_UpdateParamSetting{{Param: "Value", Value: "changed"}}}}})
	if n := next("ValueChange"); n.GetSubscriptionId() != "vc" || n.GetValueChange().GetParamPath() != "Device.X_USPKIT_B.Value" || n.GetValueChange().GetParamValue() != "changed" {
		t.Errorf("ValueChange: %v", n)
	}
	do(t, c, &wire.Add{CreateObjs: []*wire.Add_CreateObject{{ObjPath: "Device.X_USPKIT_B.Item.", ParamSettings: []*wire.Add_CreateParamSetting{{Param: "Name", Value: "n1"}}}}})
	if n := next("ObjectCreation"); n.GetSubscriptionId() != "oc" || n.GetObjCreation().GetObjPath() != "Device.X_USPKIT_B.Item.1." || n.GetObjCreation().GetUniqueKeys()["Name"] != "n1" {
		t.Errorf("ObjectCreation: %v", n)
	}
	do(t, c, &wire.Delete{ObjPaths: []string{"Device.X_USPKIT_B.Item.1."}})
	if n := next("ObjectDeletion"); n.GetSubscriptionId() != "od" || n.GetObjDeletion().GetObjPath() != "Device.X_USPKIT_B.Item.1." {
		t.Errorf("ObjectDeletion: %v", n)
	}
	b.Agent().Emit(context.Background(), "Device.X_USPKIT_B.Tick!", func(string) map[string]string { return map[string]string{"N": "7"} })
	if n := next("Event"); n.GetSubscriptionId() != "ev" || n.GetEvent().GetEventName() != "Tick!" || n.GetEvent().GetParams()["N"] != "7" {
		t.Errorf("Event: %v", n)
	}

	// An asynchronous command: the Request object is the Broker's.
	om := do(t, c, &wire.Operate{Command: "Device.X_USPKIT_B.Wait()", CommandKey: "k1", SendResp: true, InputArgs: map[string]string{"Milliseconds": "200"}})
	req := om.GetBody().GetResponse().GetOperateResp().GetOperationResults()[0].GetReqObjPath()
	if req == "" {
		t.Fatalf("OperateResp: %v", om)
	}
	if got := get(t, c, req+"Command", req+"CommandKey"); got[req+"Command"] != "Device.X_USPKIT_B.Wait()" || got[req+"CommandKey"] != "k1" {
		t.Errorf("the Broker's Request object %s: %v", req, got)
	}
	n := next("OperationComplete")
	oc := n.GetOperComplete()
	if n.GetSubscriptionId() != "opc" || oc.GetCommandName() != "Wait()" || oc.GetObjPath() != "Device.X_USPKIT_B." || oc.GetCommandKey() != "k1" ||
		oc.GetReqOutputArgs().GetOutputArgs()["Waited"] != "200" {
		t.Errorf("OperationComplete: %v", n)
	}

	// Cancel() on the Broker's Request object cancels the command in the Service.
	om = do(t, c, &wire.Operate{Command: "Device.X_USPKIT_B.Wait()", CommandKey: "k2", SendResp: true, InputArgs: map[string]string{"Milliseconds": "60000"}})
	req = om.GetBody().GetResponse().GetOperateResp().GetOperationResults()[0].GetReqObjPath()
	do(t, c, &wire.Operate{Command: req + "Cancel()", SendResp: true})
	if n := next("OperationComplete after Cancel()"); n.GetOperComplete().GetCmdFailure().GetErrCode() != 7023 {
		t.Errorf("cancelled: %v", n)
	}
	waitSubs(5) // the operations' own subscriptions are gone

	// The Service goes away with an instance: ObjectDeletion for it.
	do(t, c, &wire.Add{CreateObjs: []*wire.Add_CreateObject{{ObjPath: "Device.X_USPKIT_B.Item.", ParamSettings: []*wire.Add_CreateParamSetting{{Param: "Name", Value: "n2"}}}}})
	if n := next("ObjectCreation"); n.GetObjCreation().GetObjPath() != "Device.X_USPKIT_B.Item.2." {
		t.Errorf("ObjectCreation: %v", n)
	}
	time.Sleep(100 * time.Millisecond) // the Broker's own ObjectCreation subscription sees it too
	stopB()
	if n := next("ObjectDeletion of a Service gone"); n.GetSubscriptionId() != "od" || n.GetObjDeletion().GetObjPath() != "Device.X_USPKIT_B.Item.2." {
		t.Errorf("ObjectDeletion when the Service went: %v", n)
	}
}
