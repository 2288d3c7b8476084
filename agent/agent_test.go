package agent_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/uspkit/uspkit/agent"
	"github.com/uspkit/uspkit/record"
	"github.com/uspkit/uspkit/store"
	"github.com/uspkit/uspkit/usperr"
	"github.com/uspkit/uspkit/wire"
)

func TestGetLocalAgent(t *testing.T) {
	e := start(t, nil)
	r := e.ctl.do(get("Device.LocalAgent.EndpointID", "Device.LocalAgent.SupportedProtocols", "Device.LocalAgent.ControllerNumberOfEntries",
		"Device.LocalAgent.Controller.1.EndpointID", "Device.LocalAgent.ControllerTrust.UntrustedRole"))
	for path, want := range map[string]string{
		"Device.LocalAgent.EndpointID":                    agentID,
		"Device.LocalAgent.SupportedProtocols":            "UDS",
		"Device.LocalAgent.ControllerNumberOfEntries":     "1",
		"Device.LocalAgent.Controller.1.EndpointID":       ctrlID,
		"Device.LocalAgent.ControllerTrust.UntrustedRole": "Device.LocalAgent.ControllerTrust.Role.2",
	} {
		if got := value(t, r, path); got != want {
			t.Errorf("%s = %q, want %q", path, got, want)
		}
	}
}

func TestGetSupportedProtocol(t *testing.T) {
	e := start(t, nil)
	r := e.ctl.do(&wire.Request{ReqType: &wire.Request_GetSupportedProtocol{GetSupportedProtocol: &wire.GetSupportedProtocol{ControllerSupportedProtocolVersions: "1.3"}}})
	if v := r.GetBody().GetResponse().GetGetSupportedProtocolResp().GetAgentSupportedProtocolVersions(); !strings.Contains(v, "1.3") {
		t.Errorf("versions %q", v)
	}
}

func TestSetErrorMessage(t *testing.T) {
	e := start(t, nil)
	r := e.ctl.do(setReq(false, "Device.LocalAgent.Controller.1.", "PeriodicNotifInterval", "0"))
	er := r.GetBody().GetError()
	if er == nil || er.GetErrCode() != usperr.CodeInvalidValue || len(er.GetParamErrs()) != 1 ||
		er.GetParamErrs()[0].GetParamPath() != "Device.LocalAgent.Controller.1.PeriodicNotifInterval" {
		t.Errorf("error: %v", r)
	}
	if r.GetHeader().GetMsgType() != wire.Header_ERROR {
		t.Errorf("header %v", r.GetHeader())
	}
}

// TestValueChangeStored: a ValueChange subscription on a stored parameter
// sees a Set at once, with the subscription's ID.
func TestValueChangeStored(t *testing.T) {
	e := start(t, nil)
	e.ctl.subscribe(t, "vc1", "ValueChange", "Device.LocalAgent.Controller.1.PeriodicNotifInterval")
	if r := e.ctl.do(setReq(false, "Device.LocalAgent.Controller.1.", "PeriodicNotifInterval", "3600")); r.GetBody().GetError() != nil {
		t.Fatal(r)
	}
	n := e.ctl.notification(2 * time.Second)
	vc := n.GetBody().GetRequest().GetNotify()
	if vc.GetSubscriptionId() != "vc1" || vc.GetValueChange().GetParamPath() != "Device.LocalAgent.Controller.1.PeriodicNotifInterval" ||
		vc.GetValueChange().GetParamValue() != "3600" || vc.GetSendResp() {
		t.Errorf("notify: %v", n)
	}
}

// TestValueChangePolled: a provided parameter is polled.
func TestValueChangePolled(t *testing.T) {
	e := start(t, nil)
	e.ctl.subscribe(t, "vc2", "ValueChange", "Device.X_TEST_Gauge.")
	time.Sleep(300 * time.Millisecond)
	e.gauge.v.Store(7)
	n := e.ctl.notification(3 * time.Second)
	if vc := n.GetBody().GetRequest().GetNotify().GetValueChange(); vc.GetParamPath() != "Device.X_TEST_Gauge.Level" || vc.GetParamValue() != "7" {
		t.Errorf("notify: %v", n)
	}
}

func TestObjectCreationDeletion(t *testing.T) {
	e := start(t, nil)
	e.ctl.subscribe(t, "oc", "ObjectCreation", "Device.LocalAgent.Controller.")
	e.ctl.subscribe(t, "od", "ObjectDeletion", "Device.LocalAgent.Controller.")
	r := e.ctl.do(addReq("Device.LocalAgent.Controller.", "EndpointID", "proto::other"))
	path := r.GetBody().GetResponse().GetAddResp().GetCreatedObjResults()[0].GetOperStatus().GetOperSuccess().GetInstantiatedPath()
	n := e.ctl.notification(2 * time.Second).GetBody().GetRequest().GetNotify()
	if oc := n.GetObjCreation(); n.GetSubscriptionId() != "oc" || oc.GetObjPath() != path || oc.GetUniqueKeys()["EndpointID"] != "proto::other" {
		t.Errorf("creation: %v", n)
	}
	e.ctl.do(&wire.Request{ReqType: &wire.Request_Delete{Delete: &wire.Delete{ObjPaths: []string{path}}}})
	n = e.ctl.notification(2 * time.Second).GetBody().GetRequest().GetNotify()
	if n.GetSubscriptionId() != "od" || n.GetObjDeletion().GetObjPath() != path {
		t.Errorf("deletion: %v", n)
	}
}

// TestSubscriptionRecipient: Recipient defaults to the requesting
// Controller and cannot be set by it.
func TestSubscriptionRecipient(t *testing.T) {
	e := start(t, nil)
	p := e.ctl.subscribe(t, "r1", "ValueChange", "Device.LocalAgent.")
	r := e.ctl.do(get(p + "Recipient"))
	if got := value(t, r, p+"Recipient"); got != "Device.LocalAgent.Controller.1" {
		t.Errorf("Recipient %q", got)
	}
	r = e.ctl.do(setReq(false, p, "Recipient", "Device.LocalAgent.Controller.2"))
	if r.GetBody().GetError().GetErrCode() != usperr.CodeParamReadOnly {
		t.Errorf("set Recipient: %v", r)
	}
}

// TestAsyncOperate: an asynchronous command answers with its Request
// object, which exists while it runs, then completes with
// OperationComplete.
func TestAsyncOperate(t *testing.T) {
	e := start(t, nil)
	e.ctl.subscribe(t, "done", "OperationComplete", "Device.SelfTestDiagnostics()")
	r := e.ctl.do(operateReq("Device.SelfTestDiagnostics()", "key-1", true, nil))
	res := r.GetBody().GetResponse().GetOperateResp().GetOperationResults()
	if len(res) != 1 || res[0].GetExecutedCommand() != "Device.SelfTestDiagnostics()" || !strings.HasPrefix(res[0].GetReqObjPath(), "Device.LocalAgent.Request.") {
		t.Fatalf("operate: %v", r)
	}
	n := e.ctl.notification(3 * time.Second).GetBody().GetRequest().GetNotify()
	oc := n.GetOperComplete()
	if n.GetSubscriptionId() != "done" || oc.GetObjPath() != "Device." || oc.GetCommandName() != "SelfTestDiagnostics()" || oc.GetCommandKey() != "key-1" ||
		oc.GetReqOutputArgs().GetOutputArgs()["Status"] != "Complete" {
		t.Errorf("complete: %v", n)
	}
	// send_resp=false: no response at all.
	m, ch := e.ctl.prepare(operateReq("Device.SelfTestDiagnostics()", "key-2", false, nil))
	e.ctl.send(m)
	select {
	case r := <-ch:
		t.Errorf("reply with send_resp=false: %v", r)
	case <-time.After(300 * time.Millisecond):
	}
	if n := e.ctl.notification(3 * time.Second); n.GetBody().GetRequest().GetNotify().GetOperComplete().GetCommandKey() != "key-2" {
		t.Errorf("second completion: %v", n)
	}
}

// TestNotifRetry: a Notify with NotifRetry is resent until acknowledged.
func TestNotifRetry(t *testing.T) {
	e := start(t, nil)
	e.ctl.do(setReq(false, "Device.LocalAgent.Controller.1.", "USPNotifRetryMinimumWaitInterval", "1", "USPNotifRetryIntervalMultiplier", "1000"))
	e.ctl.subscribe(t, "rt", "ObjectCreation", "Device.LocalAgent.ControllerTrust.Role.", "NotifRetry", "true")
	e.ctl.mu.Lock()
	e.ctl.autoAck = false
	e.ctl.mu.Unlock()
	e.ctl.do(addReq("Device.LocalAgent.ControllerTrust.Role.", "Name", "extra"))
	first := e.ctl.notification(2 * time.Second)
	if !first.GetBody().GetRequest().GetNotify().GetSendResp() {
		t.Fatalf("first: %v", first)
	}
	again := e.ctl.notification(4 * time.Second)
	if again.GetHeader().GetMsgId() != first.GetHeader().GetMsgId() {
		t.Fatalf("resend: %v", again)
	}
	if n := len(items(t, e.store, "notify")); n != 1 {
		t.Errorf("%d pending notifications stored", n)
	}
	e.ctl.send(respNotify(first.GetHeader().GetMsgId(), "rt"))
	time.Sleep(200 * time.Millisecond)
	if n := len(items(t, e.store, "notify")); n != 0 {
		t.Errorf("%d pending notifications stored after the response", n)
	}
	for e.ctl.notification(2500*time.Millisecond) != nil {
		t.Error("resent after NotifyResp")
	}
}

// TestBoot: a persistent Boot! subscription survives a restart and gets
// Boot! with the BootParameters; a non-persistent one does not survive.
func TestBoot(t *testing.T) {
	st := store.NewMemory()
	e := start(t, st)
	e.ctl.do(addReq("Device.LocalAgent.Controller.1.BootParameter.", "ParameterName", "Device.LocalAgent.SoftwareVersion", "Enable", "true"))
	e.ctl.subscribe(t, "boot", "Event", "Device.Boot!", "Persistent", "true")
	e.ctl.subscribe(t, "gone", "Event", "Device.Boot!")
	e.stop()

	e = start(t, st)
	n := e.ctl.notification(2 * time.Second).GetBody().GetRequest().GetNotify()
	ev := n.GetEvent()
	if n.GetSubscriptionId() != "boot" || ev.GetObjPath() != "Device." || ev.GetEventName() != "Boot!" || ev.GetParams()["Cause"] != "LocalReboot" ||
		!strings.Contains(ev.GetParams()["ParameterMap"], `"Device.LocalAgent.SoftwareVersion":"test"`) {
		t.Errorf("boot: %v", n)
	}
	if extra := e.ctl.notification(300 * time.Millisecond); extra != nil {
		t.Errorf("non-persistent subscription notified: %v", extra)
	}
	r := e.ctl.do(get("Device.LocalAgent.SubscriptionNumberOfEntries"))
	if got := value(t, r, "Device.LocalAgent.SubscriptionNumberOfEntries"); got != "1" {
		t.Errorf("%s subscriptions after restart", got)
	}
}

// TestRebootCommand: Reboot() records the cause for the next Boot!.
func TestRebootCommand(t *testing.T) {
	st := store.NewMemory()
	rebooted := make(chan string, 1)
	e := start(t, st, func(o *agent.Options) { o.OnReboot = func(c string) { rebooted <- c } })
	e.ctl.subscribe(t, "boot", "Event", "Device.Boot!", "Persistent", "true")
	r := e.ctl.do(operateReq("Device.Reboot()", "rb-7", true, nil))
	if r.GetBody().GetResponse().GetOperateResp() == nil {
		t.Fatalf("reboot: %v", r)
	}
	select {
	case c := <-rebooted:
		if c != "RemoteReboot" {
			t.Errorf("cause %q", c)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("OnReboot not called")
	}
	e.stop()
	e = start(t, st)
	ev := e.ctl.notification(2 * time.Second).GetBody().GetRequest().GetNotify().GetEvent()
	if ev.GetParams()["Cause"] != "RemoteReboot" || ev.GetParams()["CommandKey"] != "rb-7" {
		t.Errorf("boot after reboot: %v", ev)
	}
}

// TestUntrustedController: an unknown Controller gets the UntrustedRole:
// it may see the supported data model but not read LocalAgent values.
func TestUntrustedController(t *testing.T) {
	e := start(t, nil, func(o *agent.Options) { o.Factory = &agent.Config{} })
	r := e.ctl.do(get("Device.LocalAgent.EndpointID"))
	if rp := r.GetBody().GetResponse().GetGetResp().GetReqPathResults(); len(rp) != 1 || rp[0].GetErrCode() != usperr.CodeInvalidPath {
		t.Errorf("untrusted get: %v", r)
	}
	r = e.ctl.do(setReq(false, "Device.LocalAgent.ControllerTrust.", "UntrustedRole", "Device.LocalAgent.ControllerTrust.Role.1"))
	if r.GetBody().GetError().GetErrCode() != usperr.CodePermissionDenied {
		t.Errorf("untrusted set: %v", r)
	}
	r = e.ctl.do(&wire.Request{ReqType: &wire.Request_GetSupportedDm{GetSupportedDm: &wire.GetSupportedDM{ObjPaths: []string{"Device.LocalAgent."}, FirstLevelOnly: true}}})
	if res := r.GetBody().GetResponse().GetGetSupportedDmResp().GetReqObjResults(); len(res) != 1 || len(res[0].GetSupportedObjs()) < 2 {
		t.Errorf("untrusted supported: %v", r)
	}
}

// TestBadRecords: malformed input never stops the Agent.
func TestBadRecords(t *testing.T) {
	e := start(t, nil)
	e.ctl.sendRaw([]byte{0xff, 0xff, 0xff})
	wrongTo, _ := record.NewNoSession("os::someone-else", ctrlID, []byte{}).MarshalBinary()
	e.ctl.sendRaw(wrongTo)
	garbage, _ := record.NewNoSession(agentID, ctrlID, []byte{0x0a, 0xff}).MarshalBinary()
	e.ctl.sendRaw(garbage)
	notify := &wire.Request{ReqType: &wire.Request_Notify{Notify: &wire.Notify{}}}
	if r := e.ctl.do(notify); r.GetBody().GetError().GetErrCode() != usperr.CodeMessageNotSupported {
		t.Errorf("notify to agent: %v", r)
	}
	if r := e.ctl.do(get("Device.LocalAgent.EndpointID")); value(t, r, "Device.LocalAgent.EndpointID") != agentID {
		t.Error("agent not answering after bad input")
	}
}

func items(t *testing.T, st *store.Memory, kind string) []store.Item {
	t.Helper()
	snap, err := st.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out []store.Item
	for _, it := range snap.Items {
		if it.Kind == kind {
			out = append(out, it)
		}
	}
	return out
}
