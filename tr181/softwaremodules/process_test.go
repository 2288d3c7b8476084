package softwaremodules_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/uspkit/uspkit/tr181/softwaremodules"
)

const (
	du1 = "Device.SoftwareModules.DeploymentUnit.1."
	eu1 = "Device.SoftwareModules.ExecutionUnit.1."
)

// loopScript prints its version and a line a second until SIGTERM.
func loopScript(version string) string {
	return "echo hello " + version + "\ntrap 'echo bye; exit 0' TERM\nwhile true; do sleep 0.2; done\n"
}

// TestProcessLifecycle drives a plain-process Deployment Unit through the
// TR-369 Appendix I state machines: install from HTTP, start, stop, update
// from file://, agent restart with AutoStart [R-SMM.0], uninstall, with a
// DUStateChange! for each DU operation.
func TestProcessLifecycle(t *testing.T) {
	srv, base := serve(t)
	srv.put("/hello-1.tgz", processDU(t, "hello", "1.0", loopScript("v1")))
	dir := t.TempDir()
	r := newRig(t, dir, softwaremodules.ProcessEnv{})
	defer func() { r.m.Close() }()

	if err := r.operate("Device.SoftwareModules.InstallDU()", map[string]string{"URL": base + "/hello-1.tgz"}); err != nil {
		t.Fatalf("InstallDU: %v", err)
	}
	ev := r.ev.next(t)
	expectEvent(t, ev, map[string]string{"OperationPerformed": "Install", "CurrentState": "Installed", "Fault.FaultCode": "0",
		"DeploymentUnitRef": "Device.SoftwareModules.DeploymentUnit.1", "ExecutionUnitRefList": "Device.SoftwareModules.ExecutionUnit.1",
		"Version": "1.0", "Resolved": "true"})
	du := r.get(du1)
	if du["Status"] != "Installed" || du["Name"] != "hello" || du["Version"] != "1.0" || du["UUID"] != ev["UUID"] || du["ExecutionEnvRef"] != "Device.SoftwareModules.ExecEnv.1" {
		t.Errorf("DeploymentUnit.1 = %v", du)
	}
	if eu := r.get(eu1); eu["Status"] != "Idle" || eu["ExecutionFaultCode"] != "NoFault" || eu["Name"] != "hello" {
		t.Errorf("ExecutionUnit.1 = %v", eu)
	}

	if err := r.operate(eu1+"SetRequestedState()", map[string]string{"RequestedState": "Active"}); err != nil {
		t.Fatal(err)
	}
	eu := r.waitStatus(eu1, "Active")
	if n, _ := strconv.Atoi(eu["MemoryInUse"]); n <= 0 {
		t.Errorf("MemoryInUse %q of an Active unit", eu["MemoryInUse"])
	}
	if n, _ := strconv.Atoi(eu["DiskSpaceInUse"]); n <= 0 {
		t.Errorf("DiskSpaceInUse %q", eu["DiskSpaceInUse"])
	}
	if env := r.get("Device.SoftwareModules.ExecEnv.1."); env["ActiveExecutionUnits"] != "Device.SoftwareModules.ExecutionUnit.1" || env["Status"] != "Up" {
		t.Errorf("ExecEnv.1 = %v", env)
	}
	waitLog(t, r.m.LogPath(1), "hello v1")

	if err := r.operate(eu1+"SetRequestedState()", map[string]string{"RequestedState": "Idle"}); err != nil {
		t.Fatal(err)
	}
	if eu := r.waitStatus(eu1, "Idle"); eu["ExecutionFaultCode"] != "NoFault" {
		t.Errorf("stopped unit: %v", eu)
	}
	waitLog(t, r.m.LogPath(1), "bye")

	// Update from file:// while Active: the unit is restarted on the new version.
	set(t, r, eu1+"AutoStart", "true")
	if err := r.operate(eu1+"SetRequestedState()", map[string]string{"RequestedState": "Active"}); err != nil {
		t.Fatal(err)
	}
	r.waitStatus(eu1, "Active")
	v2 := filepath.Join(t.TempDir(), "hello-2.tgz")
	if err := os.WriteFile(v2, processDU(t, "hello", "2.0", loopScript("v2")), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := r.operate(du1+"Update()", map[string]string{"URL": "file://" + v2}); err != nil {
		t.Fatalf("Update: %v", err)
	}
	expectEvent(t, r.ev.next(t), map[string]string{"OperationPerformed": "Update", "CurrentState": "Installed", "Fault.FaultCode": "0",
		"Version": "2.0", "UUID": ev["UUID"], "DeploymentUnitRef": "Device.SoftwareModules.DeploymentUnit.1"})
	if du := r.get(du1); du["Version"] != "2.0" || du["URL"] != "file://"+v2 {
		t.Errorf("after Update: %v", du)
	}
	r.waitStatus(eu1, "Active")
	waitLog(t, r.m.LogPath(1), "hello v2")

	// The Agent restarts: the unit is kept and, with AutoStart, runs again.
	r.m.Close()
	r = newRig(t, dir, softwaremodules.ProcessEnv{})
	if got := r.count("DeploymentUnitNumberOfEntries"); got != "1" {
		t.Fatalf("after restart %s deployment units", got)
	}
	if du := r.get(du1); du["Version"] != "2.0" || du["UUID"] != ev["UUID"] {
		t.Errorf("after restart: %v", du)
	}
	r.waitStatus(eu1, "Active")

	if err := r.operate(du1+"Uninstall()", nil); err != nil {
		t.Fatalf("Uninstall: %v", err)
	}
	expectEvent(t, r.ev.next(t), map[string]string{"OperationPerformed": "Uninstall", "CurrentState": "UnInstalled", "Fault.FaultCode": "0",
		"Version": "2.0", "UUID": ev["UUID"]})
	if r.count("DeploymentUnitNumberOfEntries") != "0" || r.count("ExecutionUnitNumberOfEntries") != "0" {
		t.Errorf("after Uninstall: %v", r.get("Device.SoftwareModules."))
	}
	if ents, _ := os.ReadDir(filepath.Join(dir, "du")); len(ents) != 0 {
		t.Errorf("du/ holds %d entries after Uninstall", len(ents))
	}
}

func set(t *testing.T, r *rig, param, value string) {
	t.Helper()
	i := strings.LastIndexByte(param, '.')
	if _, err := r.eng.Set(context.Background(), callerAll, false, updates(param[:i+1], param[i+1:], value)); err != nil {
		t.Fatalf("Set %s: %v", param, err)
	}
}

func waitLog(t *testing.T, path, want string) {
	t.Helper()
	for range 400 {
		b, _ := os.ReadFile(path)
		if strings.Contains(string(b), want) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	b, _ := os.ReadFile(path)
	t.Fatalf("%s does not say %q: %q", path, want, b)
}

// TestCrashIsAFault: a unit whose process fails while Active goes Idle
// with FailureWhileActive; one that cannot start shows FailureOnStart.
func TestCrashIsAFault(t *testing.T) {
	srv, base := serve(t)
	srv.put("/crash.tgz", processDU(t, "crash", "1.0", "echo up\nsleep 1\nexit 3\n"))
	r := newRig(t, t.TempDir(), softwaremodules.ProcessEnv{})
	defer r.m.Close()
	if err := r.operate("Device.SoftwareModules.InstallDU()", map[string]string{"URL": base + "/crash.tgz"}); err != nil {
		t.Fatal(err)
	}
	r.ev.next(t)
	if err := r.operate(eu1+"SetRequestedState()", map[string]string{"RequestedState": "Active"}); err != nil {
		t.Fatal(err)
	}
	r.waitStatus(eu1, "Active")
	eu := r.waitStatus(eu1, "Idle")
	if eu["ExecutionFaultCode"] != "FailureWhileActive" || !strings.Contains(eu["ExecutionFaultMessage"], "exit status 3") {
		t.Errorf("crashed unit: %s %q", eu["ExecutionFaultCode"], eu["ExecutionFaultMessage"])
	}
	// A start after the fault clears it.
	if err := r.operate(eu1+"SetRequestedState()", map[string]string{"RequestedState": "Active"}); err != nil {
		t.Fatal(err)
	}
	if eu := r.waitStatus(eu1, "Active"); eu["ExecutionFaultCode"] != "NoFault" {
		t.Errorf("restarted unit: %v", eu["ExecutionFaultCode"])
	}
	r.waitStatus(eu1, "Idle")

	// A unit whose command is missing cannot start.
	srv.put("/nocmd.tgz", tarball(t, map[string][]byte{softwaremodules.ManifestFile: []byte(`{"name":"nocmd","version":"1","command":["bin/absent"]}`)},
		softwaremodules.ManifestFile))
	if err := r.operate("Device.SoftwareModules.InstallDU()", map[string]string{"URL": base + "/nocmd.tgz"}); err != nil {
		t.Fatal(err)
	}
	r.ev.next(t)
	eu2 := "Device.SoftwareModules.ExecutionUnit.2."
	if err := r.operate(eu2+"SetRequestedState()", map[string]string{"RequestedState": "Active"}); err != nil {
		t.Fatal(err)
	}
	for range 200 {
		if v := r.get(eu2); v["ExecutionFaultCode"] == "FailureOnStart" && v["Status"] == "Idle" {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Errorf("unit with a missing command: %v", r.get(eu2))
}

// TestUpdateCutShort: an Agent that died between an Update's two renames
// finds the unit's old files again at the next start.
func TestUpdateCutShort(t *testing.T) {
	srv, base := serve(t)
	srv.put("/a.tgz", processDU(t, "a", "1.0", loopScript("v1")))
	dir := t.TempDir()
	r := newRig(t, dir, softwaremodules.ProcessEnv{})
	if err := r.operate("Device.SoftwareModules.InstallDU()", map[string]string{"URL": base + "/a.tgz"}); err != nil {
		t.Fatal(err)
	}
	r.ev.next(t)
	r.m.Close()
	unit := filepath.Join(dir, "du", "1")
	if err := os.Rename(unit, unit+".old"); err != nil {
		t.Fatal(err)
	}
	r = newRig(t, dir, softwaremodules.ProcessEnv{})
	defer r.m.Close()
	if _, err := os.Stat(filepath.Join(unit, "run.sh")); err != nil {
		t.Fatalf("the unit's files are not back: %v", err)
	}
	if err := r.operate(eu1+"SetRequestedState()", map[string]string{"RequestedState": "Active"}); err != nil {
		t.Fatal(err)
	}
	r.waitStatus(eu1, "Active")
}

// TestGroupMemory: a process unit's MemoryInUse counts the processes its
// command starts, not the command alone.
func TestGroupMemory(t *testing.T) {
	srv, base := serve(t)
	// The shell starts a child that holds about 20 MiB.
	srv.put("/mem.tgz", processDU(t, "mem", "1.0", "sh -c 'x=$(head -c 20000000 /dev/zero | tr \"\\\\0\" a); sleep 1000' &\ntrap 'kill $!; exit 0' TERM\nwhile true; do sleep 0.2; done\n"))
	r := newRig(t, t.TempDir(), softwaremodules.ProcessEnv{})
	defer r.m.Close()
	if err := r.operate("Device.SoftwareModules.InstallDU()", map[string]string{"URL": base + "/mem.tgz"}); err != nil {
		t.Fatal(err)
	}
	r.ev.next(t)
	if err := r.operate(eu1+"SetRequestedState()", map[string]string{"RequestedState": "Active"}); err != nil {
		t.Fatal(err)
	}
	r.waitStatus(eu1, "Active")
	var mem int
	for range 100 {
		mem, _ = strconv.Atoi(r.get(eu1)["MemoryInUse"])
		if mem > 15000 {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Errorf("MemoryInUse %d KiB, want the child's 20 MB counted", mem)
}
