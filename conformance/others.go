package conformance

import (
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/uspkit/uspkit/wire"
)

func protoMarshal(m proto.Message) ([]byte, error)   { return proto.Marshal(m) }
func protoUnmarshal(b []byte, m proto.Message) error { return proto.Unmarshal(b, m) }

// sectionsOther implements the cases of sections 3 to 11 that need no
// special equipment.
func sectionsOther() map[string]caseFunc {
	m := map[string]caseFunc{}
	m["3.1"] = caseFunc{run: func(t *T) {
		for _, bad := range [][]byte{{0xff, 0xff, 0xff, 0xff}, {0x0a, 0x05, '9', '.', '9'}, []byte("not a record")} {
			t.Check(t.c.tr.Send(t.ctx, t.c.addr, bad) == nil, "send failed")
		}
		// Over WebSocket the Agent may close the connection with 1003
		// [R-WS.16]; the runner's transport then connects again.
		t.Check(t.c.ping(t.ctx, 30*time.Second) == nil, "the agent stopped answering after malformed records")
	}}
	m["9.9"] = caseFunc{run: func(t *T) {
		t.need("Device.LocalAgent.Controller.{i}.SendOnBoardRequest()")
		// The second Controller only receives here: the case removes its
		// entry and adds it anew, so the Agent need not answer it before
		// (an Agent may ignore a Controller it has no entry for).
		second := t.r.second
		if second == nil {
			t.Skipf("needs a second controller")
		}
		t.keepController(second.id) // restored when the case ends (restore.go)
		// The second Controller makes itself known over its MTP first, as
		// a connected Controller is; no answer is needed.
		_, _ = second.do(t.ctx, getReq("Device.LocalAgent.EndpointID"), min(t.r.o.ReplyTimeout, 2*time.Second))
		role := t.value(t.controller() + "AssignedRole")
		for _, c := range t.instances("Device.LocalAgent.Controller.") {
			if t.value(c+"EndpointID") == second.id {
				t.deleteResp(t.Do(deleteReq(false, c)))
			}
		}
		r := t.addResp(t.Do(addReq(false, obj("Device.LocalAgent.Controller.", p("Alias", "usp-111-Controller"), p("EndpointID", second.id),
			p("Enable", "true"), p("AssignedRole", role)))))
		c2 := t.created(r, 1)[0]
		t.Cleanup(func() { t.c.do(t.ctx, deleteReq(true, c2), t.r.o.ReplyTimeout) })
		t.created(t.addResp(t.Do(addReq(false, obj(c2+"MTP.", p("Enable", "true"), p("Protocol", t.protocol()))))), 1)
		t.operateResp(t.Do(operateReq(c2+"SendOnBoardRequest()", "", true, nil)))
		n := second.notification(t.ctx, 10*time.Second, func(n *wire.Notify) bool { return n.GetOnBoardReq() != nil }, true)
		t.Check(n != nil, "the new controller got no OnBoardRequest")
	}}
	m["9.10"] = caseFunc{boot: true, wait: 130 * time.Second, run: func(t *T) {
		t.need("Device.Reboot()", "Device.LocalAgent.Controller.{i}.BootParameter.{i}.")
		param := "Device.DeviceInfo.BootFirmwareImage"
		if !t.supports(param) {
			param = "Device.LocalAgent.SoftwareVersion" // an equivalent, as the plan allows
		}
		c := t.controller()
		r := t.addResp(t.Do(addReq(false, obj(subTable, p("NotifType", "Event"), p("ReferenceList", "Device.Boot!"), p("Enable", "true"), p("Persistent", "true")),
			obj(c+"BootParameter.", p("Enable", "true"), p("ParameterName", param)))))
		paths := t.created(r, 2)
		t.Cleanup(func() { t.c.do(t.ctx, deleteReq(true, paths...), t.r.o.ReplyTimeout) })
		t.operateResp(t.Do(operateReq("Device.Reboot()", "test910", true, nil)))
		t.rebooted()
		n := t.Notify(30*time.Second, func(n *wire.Notify) bool { return n.GetEvent().GetEventName() == "Boot!" })
		t.Check(n != nil, "no Boot!")
		t.Check(strings.Contains(n.GetBody().GetRequest().GetNotify().GetEvent().GetParams()["ParameterMap"], param), "ParameterMap without %s: %v", param, n)
	}}
	m["9.11"] = caseFunc{wait: 70 * time.Second, long: true, run: func(t *T) {
		t.need("Device.ScheduleTimer()")
		t.addSubs(obj(subTable, p("Enable", "true"), p("ID", "tp469-9.11"), p("NotifType", "OperationComplete"), p("ReferenceList", "Device.ScheduleTimer()")))
		r := t.operateResp(t.Do(operateReq("Device.ScheduleTimer()", "", true, map[string]string{"DelaySeconds": "60"})))
		t.Check(len(r.GetOperationResults()) == 1 && strings.Contains(r.GetOperationResults()[0].GetExecutedCommand(), "ScheduleTimer()"), "%v", r)
		t.Check(t.Notify(70*time.Second, isComplete("Device.ScheduleTimer()", "")) != nil, "no OperationComplete")
	}}
	return m
}

// protocol returns the MTP protocol of the runner's own Controller entry.
func (t *T) protocol() string {
	for k, v := range flat(t.getResp(t.Do(getReq(t.controller() + "MTP.*.Protocol")))) {
		_ = k
		return v
	}
	return "WebSocket"
}
