package cli_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// onboardingController holds every unknown Agent for approval and applies
// the provisioning profile its ProvisioningCode names (GOLD), or another to
// Agents without one.
const onboardingController = `endpoint_id: proto::onboarding-ctl
data: %s
http: 127.0.0.1:0
log_level: warn
admission: pending
profiles:
  "":
    sets:
      - object: Device.LocalAgent.Controller.1.
        params: {PeriodicNotifInterval: "1111"}
  GOLD:
    sets:
      - object: Device.LocalAgent.Controller.1.
        params: {PeriodicNotifInterval: "4321"}
    adds:
      - object: Device.LocalAgent.Subscription.
        key: ID
        params: {ID: onboard-1, NotifType: ValueChange, ReferenceList: Device.LocalAgent.EndpointID, Enable: "true"}
mtps:
  - name: local
    protocol: UDS
    socket: %s
`

const onboardingAgent = `endpoint_id: os::00D09E-ONBOARD
data: %s
log_level: warn
mtps:
  - protocol: UDS
    socket: %s
factory:
  controllers:
    - endpoint_id: proto::onboarding-ctl
      provisioning_code: GOLD
      mtps:
        - protocol: UDS
`

// An unknown Agent waits for approval under the pending policy (usp agents
// pending), is served once approved (usp agents approve), gets the
// provisioning profile its ProvisioningCode names once, and not again after
// the Controller restarts.
func TestOnboardingPendingAndProfile(t *testing.T) {
	bin := buildUSP(t)
	dir := t.TempDir()
	data, sock := filepath.Join(dir, "ctl"), filepath.Join(dir, "ctl.sock")
	const id = "os::00D09E-ONBOARD"
	ctl := startConfigured(t, bin, "controller", dir, "ctl.yaml", fmt.Sprintf(onboardingController, data, sock))
	startConfigured(t, bin, "agent", dir, "agent.yaml", fmt.Sprintf(onboardingAgent, filepath.Join(dir, "agent"), sock))
	api := apiOf(t, ctl)

	deadline := time.Now().Add(15 * time.Second)
	for {
		out, _, code := uspRun(t, bin, data, "agents", "pending")
		if code == 0 && strings.Contains(out, id) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("agent not pending: %s", out)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if code, out := api.call(t, "POST", "/api/v1/agents/"+id+"/get", map[string]any{"paths": []string{"Device.LocalAgent.EndpointID"}}); code != 409 {
		t.Fatalf("request to a pending agent: HTTP %d %s", code, out)
	}
	if out, errs, code := uspRun(t, bin, data, "agents", "approve", id); code != 0 || !strings.Contains(out, "approved") {
		t.Fatalf("approve: %d %s %s", code, out, errs)
	}
	api.waitOnline(t, id, 15*time.Second)
	provisioned := func() int {
		n := 0
		for _, e := range api.events(t) {
			if e.Agent == id && e.Kind == "provisioned" {
				n++
			}
		}
		return n
	}
	for deadline := time.Now().Add(15 * time.Second); provisioned() == 0; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("profile not applied")
		}
	}
	check := func() {
		t.Helper()
		out := api.usp(t, id, "get", map[string]any{"paths": []string{"Device.LocalAgent.Controller.1.PeriodicNotifInterval", "Device.LocalAgent.Subscription.*.ID"}}, "4321")
		if n := strings.Count(out, "onboard-1"); n != 1 {
			t.Fatalf("%d onboard-1 subscriptions: %s", n, out)
		}
	}
	check()

	ctl.stop()
	ctl = startConfigured(t, bin, "controller", dir, "ctl.yaml", fmt.Sprintf(onboardingController, data, sock))
	api = apiOf(t, ctl)
	api.waitOnline(t, id, 30*time.Second)
	time.Sleep(time.Second) // room for a second provisioning, which must not come
	check()
	if n := provisioned(); n != 1 {
		t.Fatalf("profile applied %d times", n)
	}
	if out, _, _ := uspRun(t, bin, data, "agents", "pending"); !strings.Contains(out, "no agent is waiting") {
		t.Fatalf("pending after approval: %s", out)
	}
}
