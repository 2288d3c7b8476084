package agent_test

import (
	"testing"
	"time"
)

// TestObjectCreationFollowsSubscriptions: the ObjectCreation subscriptions
// an Add is matched against are those enabled at the time: one disabled
// after it has fired no longer fires, one enabled later does, and
// ValueChange subscriptions never fire for an Add.
func TestObjectCreationFollowsSubscriptions(t *testing.T) {
	e := start(t, nil)
	e.ctl.subscribe(t, "vc", "ValueChange", "Device.LocalAgent.SoftwareVersion")
	oc := e.ctl.subscribe(t, "oc1", "ObjectCreation", "Device.LocalAgent.Controller.")
	add := func(id string) {
		t.Helper()
		if r := e.ctl.do(addReq("Device.LocalAgent.Controller.", "EndpointID", id)); r.GetBody().GetResponse().GetAddResp() == nil {
			t.Fatalf("add: %v", r)
		}
	}
	add("proto::one")
	if n := e.ctl.notification(2 * time.Second); n.GetBody().GetRequest().GetNotify().GetSubscriptionId() != "oc1" {
		t.Fatalf("first Add: %v", n)
	}
	if r := e.ctl.do(setReq(false, oc, "Enable", "false")); r.GetBody().GetResponse().GetSetResp() == nil {
		t.Fatalf("disable: %v", r)
	}
	add("proto::two")
	if n := e.ctl.notification(500 * time.Millisecond); n != nil {
		t.Errorf("Add after the subscription was disabled: %v", n)
	}
	e.ctl.subscribe(t, "oc2", "ObjectCreation", "Device.LocalAgent.Controller.")
	add("proto::three")
	if n := e.ctl.notification(2 * time.Second); n.GetBody().GetRequest().GetNotify().GetSubscriptionId() != "oc2" {
		t.Errorf("Add after a new subscription: %v", n)
	}
	if n := e.ctl.notification(300 * time.Millisecond); n != nil {
		t.Errorf("one more notification: %v", n)
	}
}
