package agent_test

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"

	"github.com/uspkit/uspkit/agent"
	"testing"
	"time"

	"github.com/uspkit/uspkit/usperr"
)

const provCode = "Device.LocalAgent.Controller.1.ProvisioningCode"

// TestSubscriptionTriggerAction: a fired subscription notifies, applies its
// TriggerConfigSettings, or both, as its TriggerAction says (TR-369
// "TriggerAction Parameter"; TP-469 1.93, 1.94).
func TestSubscriptionTriggerAction(t *testing.T) {
	tests := []struct {
		action     string // "" leaves the default, Notify
		wantNotify bool
		wantConfig bool
	}{
		{"", true, false},
		{"Notify", true, false},
		{"Config", false, true},
		{"NotifyAndConfig", true, true},
	}
	for _, tt := range tests {
		t.Run("action="+tt.action, func(t *testing.T) {
			e := start(t, nil)
			var extra []string
			if tt.action != "" {
				extra = []string{"TriggerAction", tt.action}
			}
			sub := e.ctl.subscribe(t, "trig", "ValueChange", provCode, extra...)
			if r := e.ctl.do(setReq(false, sub, "TriggerConfigSettings", sub+"Enable=false")); r.GetBody().GetResponse().GetSetResp() == nil {
				t.Fatalf("TriggerConfigSettings not set: %v", r)
			}
			if got := value(t, e.ctl.do(get(sub+"TriggerAction")), sub+"TriggerAction"); tt.action == "" && got != "Notify" {
				t.Errorf("default TriggerAction %q, want Notify", got)
			}
			e.ctl.do(setReq(false, "Device.LocalAgent.Controller.1.", "ProvisioningCode", "fired-"+tt.action))
			n := e.ctl.notification(time.Second)
			if got := n != nil; got != tt.wantNotify {
				t.Errorf("notified %v, want %v (%v)", got, tt.wantNotify, n)
			}
			if n != nil {
				if vc := n.GetBody().GetRequest().GetNotify().GetValueChange(); vc.GetParamPath() != provCode || vc.GetParamValue() != "fired-"+tt.action {
					t.Errorf("notify %v", n)
				}
			}
			enabled := value(t, e.ctl.do(get(sub+"Enable")), sub+"Enable")
			if got := enabled == "false"; got != tt.wantConfig {
				t.Errorf("Enable %s after the trigger; configured %v, want %v", enabled, got, tt.wantConfig)
			}
		})
	}
}

// TestTriggerConfigSettingsChecked: settings that are not
// "<Parameter Name>=<Parameter Value>" pairs are refused with Invalid
// value, and settings the Controller may not apply leave the data model
// as it was.
func TestTriggerConfigSettingsChecked(t *testing.T) {
	e := start(t, nil)
	sub := e.ctl.subscribe(t, "trig", "ValueChange", provCode, "TriggerAction", "Config")
	r := e.ctl.do(setReq(false, sub, "TriggerConfigSettings", "Device.LocalAgent.Subscription.1.Enable"))
	if code := r.GetBody().GetError().GetErrCode(); code != usperr.CodeInvalidValue {
		t.Errorf("malformed settings: error %d, want %d (%v)", code, usperr.CodeInvalidValue, r)
	}
	// A read-only target: the trigger fails, the Agent goes on.
	e.ctl.do(setReq(false, sub, "TriggerConfigSettings", "Device.LocalAgent.EndpointID=x"))
	e.ctl.do(setReq(false, "Device.LocalAgent.Controller.1.", "ProvisioningCode", "again"))
	if got := value(t, e.ctl.do(get("Device.LocalAgent.EndpointID")), "Device.LocalAgent.EndpointID"); got != agentID {
		t.Errorf("EndpointID %q", got)
	}
}

// TestTriggerLoopBounded: two subscriptions that each set the parameter
// they both watch to their own value would trigger each other for ever;
// the chain stops after a bounded number of triggers, the Set that
// started it is answered and the Agent keeps serving.
func TestTriggerLoopBounded(t *testing.T) {
	var logs lockedBuffer
	e := start(t, nil, func(o *agent.Options) { o.Logger = slog.New(slog.NewTextHandler(&logs, nil)) })
	a := e.ctl.subscribe(t, "loop-a", "ValueChange", provCode, "TriggerAction", "Config")
	b := e.ctl.subscribe(t, "loop-b", "ValueChange", provCode, "TriggerAction", "Config")
	e.ctl.do(setReq(false, a, "TriggerConfigSettings", provCode+`="from-a"`))
	e.ctl.do(setReq(false, b, "TriggerConfigSettings", provCode+`="from-b"`))
	done := make(chan struct{})
	go func() {
		defer close(done)
		e.ctl.do(setReq(false, "Device.LocalAgent.Controller.1.", "ProvisioningCode", "start"))
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the Set that fires the chain never answered")
	}
	if got := value(t, e.ctl.do(get(provCode)), provCode); got != "from-a" && got != "from-b" {
		t.Errorf("ProvisioningCode %q, want one the triggers set", got)
	}
	// Two subscriptions firing on every change, four levels deep: at
	// most 2+4+8+16 triggers.
	if n := strings.Count(logs.String(), "subscription trigger applied"); n == 0 || n > 30 {
		t.Errorf("%d triggers applied, want 1 to 30", n)
	}
}

// lockedBuffer is a bytes.Buffer safe for concurrent use, to collect log
// lines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
