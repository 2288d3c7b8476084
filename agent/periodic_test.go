package agent_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/uspkit/uspkit/agent"
	"github.com/uspkit/uspkit/usperr"
)

// periodicArrivals waits for n Periodic! notifications and returns when
// each arrived.
func (e *env) periodicArrivals(n int, timeout time.Duration) []time.Time {
	e.t.Helper()
	var out []time.Time
	deadline := time.Now().Add(timeout)
	for len(out) < n {
		left := time.Until(deadline)
		if left <= 0 {
			e.t.Fatalf("%d Periodic! in %v, want %d", len(out), timeout, n)
		}
		m := e.ctl.notification(left)
		if m == nil {
			continue
		}
		if ev := m.GetBody().GetRequest().GetNotify().GetEvent(); ev.GetEventName() == "Periodic!" && ev.GetObjPath() == "Device.LocalAgent." {
			out = append(out, time.Now())
		}
	}
	return out
}

// TestPeriodicInterval: Periodic! comes every PeriodicNotifInterval
// (TR-181 Controller.{i}.PeriodicNotifInterval: the interval at which the
// Agent MUST attempt to issue a Periodic Notification), not every
// interval plus a polling tick.
func TestPeriodicInterval(t *testing.T) {
	e := start(t, nil)
	e.ctl.subscribe(t, "per1", "Event", "Device.LocalAgent.Periodic!")
	if r := e.ctl.do(setReq(false, "Device.LocalAgent.Controller.1.", "PeriodicNotifInterval", "1")); r.GetBody().GetError() != nil {
		t.Fatal(r)
	}
	at := e.periodicArrivals(6, 10*time.Second)
	var gaps []time.Duration
	for i := 1; i < len(at); i++ {
		d := at[i].Sub(at[i-1])
		gaps = append(gaps, d.Round(time.Millisecond))
		if d < 850*time.Millisecond || d > 1150*time.Millisecond {
			t.Errorf("Periodic! %d came %v after the one before, want 1 s ± 150 ms", i, d)
		}
	}
	t.Logf("Periodic! every %v", gaps)
}

// TestPeriodicChangeAtOnce: shortening the interval takes effect at once,
// not at the deadline of the old interval.
func TestPeriodicChangeAtOnce(t *testing.T) {
	e := start(t, nil)
	e.ctl.subscribe(t, "per2", "Event", "Device.LocalAgent.Periodic!")
	if r := e.ctl.do(setReq(false, "Device.LocalAgent.Controller.1.", "PeriodicNotifInterval", "3600")); r.GetBody().GetError() != nil {
		t.Fatal(r)
	}
	time.Sleep(300 * time.Millisecond)
	set := time.Now()
	// The Unknown Time: no alignment, the new interval counts from the
	// change.
	if r := e.ctl.do(setReq(false, "Device.LocalAgent.Controller.1.", "PeriodicNotifInterval", "1",
		"PeriodicNotifTime", "0001-01-01T00:00:00Z")); r.GetBody().GetError() != nil {
		t.Fatal(r)
	}
	at := e.periodicArrivals(2, 5*time.Second)
	if d := at[0].Sub(set); d < 850*time.Millisecond || d > 1150*time.Millisecond {
		t.Errorf("first Periodic! %v after the change to 1 s, want 1 s ± 150 ms", d)
	}
	if d := at[1].Sub(at[0]); d < 850*time.Millisecond || d > 1150*time.Millisecond {
		t.Errorf("second Periodic! %v after the first", d)
	}
}

// TestPeriodicTimeReference: with PeriodicNotifTime set, events fall on
// PeriodicNotifTime + k × PeriodicNotifInterval, whatever the time of the
// change.
func TestPeriodicTimeReference(t *testing.T) {
	e := start(t, nil)
	e.ctl.subscribe(t, "per3", "Event", "Device.LocalAgent.Periodic!")
	// A reference in the past with a phase of 0.5 s past the second
	// (RFC 3339 with fractional seconds).
	ref := time.Now().UTC().Add(-time.Hour).Truncate(time.Second).Add(500 * time.Millisecond)
	if r := e.ctl.do(setReq(false, "Device.LocalAgent.Controller.1.", "PeriodicNotifInterval", "2",
		"PeriodicNotifTime", ref.Format(time.RFC3339Nano))); r.GetBody().GetError() != nil {
		t.Fatal(r)
	}
	for i, at := range e.periodicArrivals(3, 8*time.Second) {
		phase := at.Sub(ref) % (2 * time.Second)
		if phase > time.Second {
			phase -= 2 * time.Second
		}
		if phase < -50*time.Millisecond || phase > 150*time.Millisecond {
			t.Errorf("Periodic! %d is %v off the grid of %s every 2 s", i, phase, ref.Format(time.RFC3339Nano))
		}
	}
}

// TestPeriodicFactoryValue: a Controller's PeriodicNotifInterval reads
// back within TR-181's range (minimum 1) and an out-of-range Set is
// refused with 7012 Invalid Value for the parameter.
func TestPeriodicFactoryValue(t *testing.T) {
	e := start(t, nil)
	path := "Device.LocalAgent.Controller.1.PeriodicNotifInterval"
	want := strconv.Itoa(agent.DefaultPeriodicNotifInterval)
	if got := value(t, e.ctl.do(get(path)), path); got != want {
		t.Errorf("factory %s = %q, want %q", path, got, want)
	}
	r := e.ctl.do(addReq("Device.LocalAgent.Controller.", "EndpointID", "proto::other-controller"))
	added := r.GetBody().GetResponse().GetAddResp().GetCreatedObjResults()
	if len(added) != 1 || added[0].GetOperStatus().GetOperSuccess() == nil {
		t.Fatalf("add: %v", r)
	}
	p2 := added[0].GetOperStatus().GetOperSuccess().GetInstantiatedPath() + "PeriodicNotifInterval"
	if got := value(t, e.ctl.do(get(p2)), p2); got != want {
		t.Errorf("added %s = %q, want %q", p2, got, want)
	}
	r = e.ctl.do(setReq(false, "Device.LocalAgent.Controller.1.", "PeriodicNotifInterval", "0"))
	er := r.GetBody().GetError()
	if er == nil || len(er.GetParamErrs()) != 1 || er.GetParamErrs()[0].GetErrCode() != usperr.CodeInvalidValue {
		t.Errorf("Set 0: %v", r)
	}
	if got := value(t, e.ctl.do(get(path)), path); got != want {
		t.Errorf("after a refused Set, %s = %q", path, got)
	}
}
