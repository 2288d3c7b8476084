package conformance

import (
	"time"

	"github.com/uspkit/uspkit/wire"
)

// section1Features implements the cases of section 1 on optional Agent
// features: Subscription TriggerAction (1.93, 1.94) and OnBoardRequest
// with OnBoardingComplete and OnBoardingRestartTime (1.101 to 1.103, USP
// 1.4). Each skips when the Agent's supported data model lacks the
// parameters the case needs.
func section1Features(m map[string]caseFunc) {
	trigger := func(n, action string, notifies bool) func(*T) {
		return func(t *T) {
			t.need(subTable+"{i}.TriggerAction", subTable+"{i}.TriggerConfigSettings")
			value := "TestValue" + n
			id := "notify" + n
			pc := t.provisioning(value)
			s := t.vcSub(id, pc, p("TriggerAction", action))
			t.setOK(s, preq("TriggerConfigSettings", s+"Enable=false"))
			t.setOK(parentObject(pc), preq("ProvisioningCode", value))
			if notifies {
				t.Check(t.valueChange(isValueChange(id, pc)) != nil, "%s", t.noValueChange())
			}
			// The configuration change follows the event; an Agent may
			// apply it a little later than it answers the Set.
			deadline := time.Now().Add(5 * time.Second)
			enabled := t.value(s + "Enable")
			for enabled != "false" && time.Now().Before(deadline) {
				t.sleep(200 * time.Millisecond)
				enabled = t.value(s + "Enable")
			}
			t.Check(enabled == "false", "%sEnable is %s after the trigger, want false", s, enabled)
		}
	}
	m["1.93"] = caseFunc{run: trigger("93", "Config", false)}
	m["1.94"] = caseFunc{valueChange: true, run: trigger("94", "NotifyAndConfig", true)}

	m["1.101"] = caseFunc{run: func(t *T) {
		c := t.onBoarding()
		t.sendOnBoard(c, "test101")
		t.Check(t.Notify(10*time.Second, isOnBoard) != nil, "no OnBoardRequest Notify")
		t.Check(t.value(c+"OnBoardingComplete") == "false", "OnBoardingComplete is not false after SendOnBoardRequest()")
		t.setOK(c, preq("OnBoardingComplete", "true"))
	}}
	m["1.102"] = caseFunc{wait: 150 * time.Second, long: true, run: func(t *T) {
		c := t.onBoarding()
		t.setOK(c, preq("OnBoardingRestartTime", "60"))
		t.sendOnBoard(c, "test102")
		t.Check(t.Notify(10*time.Second, isOnBoard) != nil, "no OnBoardRequest Notify")
		acked := time.Now()
		t.Check(t.Notify(75*time.Second, isOnBoard) != nil, "no second OnBoardRequest within 75 s of the NotifyResp")
		after := time.Since(acked)
		t.Check(after >= 55*time.Second, "second OnBoardRequest %v after the NotifyResp, want 60 s", after.Round(time.Second))
		t.setOK(c, preq("OnBoardingComplete", "true"))
		t.Check(t.Notify(65*time.Second, isOnBoard) == nil, "OnBoardRequest after OnBoardingComplete was set to true")
	}}
	m["1.103"] = caseFunc{wait: 80 * time.Second, long: true, run: func(t *T) {
		c := t.onBoarding()
		t.setOK(c, preq("OnBoardingRestartTime", "0"))
		t.sendOnBoard(c, "test103")
		t.Check(t.Notify(10*time.Second, isOnBoard) != nil, "no OnBoardRequest Notify")
		t.Check(t.Notify(65*time.Second, isOnBoard) == nil, "another OnBoardRequest with OnBoardingRestartTime 0")
	}}
}

func isOnBoard(n *wire.Notify) bool { return n.GetOnBoardReq() != nil }

// onBoarding prepares an OnBoardRequest case: it needs OnBoardingComplete
// and OnBoardingRestartTime, acknowledges OnBoardRequests already waiting,
// and restores both parameters when the case ends. It returns the runner's
// Controller entry.
func (t *T) onBoarding() string {
	const ctrl = "Device.LocalAgent.Controller.{i}."
	t.need(ctrl+"OnBoardingComplete", ctrl+"OnBoardingRestartTime", ctrl+"SendOnBoardRequest()")
	c := t.controller()
	restart := t.value(c + "OnBoardingRestartTime")
	t.Cleanup(func() {
		t.c.do(t.ctx, setReq(false, obj(c, preq("OnBoardingComplete", "true"), preq("OnBoardingRestartTime", restart))), t.r.o.ReplyTimeout)
	})
	for range 100 {
		if t.Notify(0, isOnBoard) == nil {
			break
		}
	}
	return c
}

// sendOnBoard runs Controller.{i}.SendOnBoardRequest() without asking for
// the OperateResp, as the plan does.
func (t *T) sendOnBoard(c, key string) {
	t.NoReply(operateReq(c+"SendOnBoardRequest()", key, false, nil), time.Second)
}
