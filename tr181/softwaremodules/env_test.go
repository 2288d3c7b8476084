package softwaremodules_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/uspkit/uspkit/tr181/softwaremodules"
)

// TestExecEnvs: each environment has its ExecEnv and ExecEnvClass rows
// (OCIImage as the OCI class's capability); an OCI environment whose
// runtime does not work shows Status Error with the reason, and an
// install without ExecutionEnvRef goes to the next environment that
// takes the unit.
func TestExecEnvs(t *testing.T) {
	oci := softwaremodules.NewOCI(&softwaremodules.OCIOptions{Runtimes: []string{"/nonexistent/runc"}, StateDir: filepath.Join(t.TempDir(), "oci")})
	srv, base := serve(t)
	srv.put("/a.tgz", processDU(t, "a", "1.0", "sleep 1\n"))
	r := newRig(t, t.TempDir(), oci, softwaremodules.ProcessEnv{})
	defer r.m.Close()
	root := r.get("Device.SoftwareModules.")
	if root["ExecEnvNumberOfEntries"] != "2" || root["ExecEnvClassNumberOfEntries"] != "2" {
		t.Errorf("Device.SoftwareModules. = %v", root)
	}
	e1 := r.get("Device.SoftwareModules.ExecEnv.1.")
	if e1["Name"] != "OCI" || e1["Status"] != "Error" || !strings.Contains(e1["RestartReason"], "/nonexistent/runc") ||
		e1["ExecEnvClassRef"] != "Device.SoftwareModules.ExecEnvClass.1" || e1["Enable"] != "true" {
		t.Errorf("ExecEnv.1 = %v", e1)
	}
	if e2 := r.get("Device.SoftwareModules.ExecEnv.2."); e2["Name"] != "Process" || e2["Status"] != "Up" {
		t.Errorf("ExecEnv.2 = %v", e2)
	}
	if c := r.get("Device.SoftwareModules.ExecEnvClass.1."); c["Name"] != "OCI" || c["CapabilityNumberOfEntries"] != "1" {
		t.Errorf("ExecEnvClass.1 = %v", c)
	}
	if c := r.get("Device.SoftwareModules.ExecEnvClass.1.Capability.1."); c["Specification"] != "OCIImage" {
		t.Errorf("ExecEnvClass.1.Capability.1 = %v", c)
	}
	if c := r.get("Device.SoftwareModules.ExecEnvClass.2."); c["CapabilityNumberOfEntries"] != "0" {
		t.Errorf("ExecEnvClass.2 = %v", c)
	}
	if err := r.operate("Device.SoftwareModules.InstallDU()", map[string]string{"URL": base + "/a.tgz"}); err != nil {
		t.Fatal(err)
	}
	r.ev.next(t)
	if du := r.get(du1); du["ExecutionEnvRef"] != "Device.SoftwareModules.ExecEnv.2" {
		t.Errorf("installed on %s, want ExecEnv.2", du["ExecutionEnvRef"])
	}
}
