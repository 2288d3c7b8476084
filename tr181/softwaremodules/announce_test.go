package softwaremodules_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/uspkit/uspkit/tr181/softwaremodules"
)

// TestAnnounce: rows appearing and going, and every Status change, reach
// an Announcer (the Agent's ObjectCreation, ObjectDeletion and ValueChange
// subscriptions) without waiting for a poll; TR-369 Appendix I has
// Controllers follow autonomous EU changes with ValueChange on Status.
func TestAnnounce(t *testing.T) {
	srv, base := serve(t)
	srv.put("/a.tgz", processDU(t, "a", "1.0", loopScript("v1")))
	r := newRig(t, t.TempDir(), softwaremodules.ProcessEnv{})
	defer r.m.Close()
	if err := r.operate("Device.SoftwareModules.InstallDU()", map[string]string{"URL": base + "/a.tgz"}); err != nil {
		t.Fatal(err)
	}
	r.ev.next(t)
	if err := r.operate(eu1+"SetRequestedState()", map[string]string{"RequestedState": "Active"}); err != nil {
		t.Fatal(err)
	}
	r.waitStatus(eu1, "Active")
	if err := r.operate(eu1+"SetRequestedState()", map[string]string{"RequestedState": "Idle"}); err != nil {
		t.Fatal(err)
	}
	r.waitStatus(eu1, "Idle")
	if err := r.operate(du1+"Uninstall()", nil); err != nil {
		t.Fatal(err)
	}
	r.ev.next(t)
	want := []string{
		"add Device.SoftwareModules.DeploymentUnit.1.", "add Device.SoftwareModules.ExecutionUnit.1.",
		eu1 + "Status=Starting", eu1 + "Status=Active", eu1 + "Status=Stopping", eu1 + "Status=Idle",
		du1 + "Status=Uninstalling",
		"delete Device.SoftwareModules.ExecutionUnit.1.", "delete Device.SoftwareModules.DeploymentUnit.1.",
	}
	if got := r.ev.announced(); !slices.Equal(got, want) {
		t.Errorf("announced:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
