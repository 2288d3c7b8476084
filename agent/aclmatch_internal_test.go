package agent

import (
	"strings"
	"testing"
)

// splitTargetMatches is targetMatches as first written, with
// strings.Split: the reference the allocation-free one must agree with.
func splitTargetMatches(target, path string) bool {
	if target == "" {
		return false
	}
	partial := strings.HasSuffix(target, ".")
	tp := strings.Split(strings.TrimSuffix(target, "."), ".")
	pp := strings.Split(strings.TrimSuffix(path, "."), ".")
	n := min(len(tp), len(pp))
	for i := 0; i < n; i++ {
		if tp[i] != pp[i] && !((tp[i] == "*" || tp[i] == "{i}") && isInstance(pp[i])) {
			return false
		}
	}
	switch {
	case len(tp) == len(pp):
		return true
	case len(tp) < len(pp):
		return partial
	default:
		return len(tp) == len(pp)+1 && strings.HasSuffix(path, ".") && (tp[n] == "*" || tp[n] == "{i}")
	}
}

// TestTargetMatchesAgrees: every Permission target against every path of
// a set that covers prefixes, wildcards, instance numbers, tables and the
// empty string gives the answer of the Split-based reference, and a match
// allocates nothing.
func TestTargetMatchesAgrees(t *testing.T) {
	targets := []string{"", ".", "Device.", "Device", "Device.LocalAgent.", "Device.LocalAgent.Subscription.",
		"Device.LocalAgent.Subscription.*.", "Device.LocalAgent.Subscription.{i}.", "Device.LocalAgent.Subscription.*.ID",
		"Device.LocalAgent.Subscription.2.", "Device.LocalAgent.Subscription.2.ID", "Device.LocalAgent.Subscription.*.*.",
		"Device.*.", "*.", "Device.LocalAgent.Controller.{i}.SendOnBoardRequest()", "Device.LocalAgent.EndpointID"}
	paths := []string{"", ".", "Device.", "Device", "Device.LocalAgent.", "Device.LocalAgent.Subscription.",
		"Device.LocalAgent.Subscription.2.", "Device.LocalAgent.Subscription.2.ID", "Device.LocalAgent.Subscription.0.",
		"Device.LocalAgent.Subscription.x.", "Device.LocalAgent.Subscription.2.ID.", "Device.LocalAgent.Subscription",
		"Device.LocalAgent.Controller.1.SendOnBoardRequest()", "Device.LocalAgent.EndpointID", "Device.DeviceInfo.",
		"Device.LocalAgent.Subscription.4294967296."}
	for _, tg := range targets {
		for _, p := range paths {
			if got, want := targetMatches(tg, p), splitTargetMatches(tg, p); got != want {
				t.Errorf("targetMatches(%q, %q) = %v, want %v", tg, p, got, want)
			}
		}
	}
	if a := testing.AllocsPerRun(100, func() {
		targetMatches("Device.LocalAgent.Subscription.*.", "Device.LocalAgent.Subscription.12.Enable")
	}); a != 0 {
		t.Errorf("%.0f allocations per match", a)
	}
}
