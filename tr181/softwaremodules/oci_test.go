package softwaremodules_test

import (
	"debug/elf"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/uspkit/uspkit/internal/testenv"
	"github.com/uspkit/uspkit/tr181/softwaremodules"
)

// ociRuntime returns runc's path and a statically linked busybox, or skips
// the test saying why (it fails under USP_REQUIRE_EXTERNAL=1 when runc is
// missing: install Debian's runc and busybox-static).
func ociRuntime(t *testing.T) (runc, busybox string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("SKIP: OCI containers need root (runc run); run the tests as root")
	}
	runc = testenv.LookPath(t, "runc", "runc", "/usr/sbin", "/sbin")
	busybox, err := exec.LookPath("busybox")
	if err != nil {
		t.Skip("SKIP: busybox not found; install Debian's busybox-static to run this test")
	}
	f, err := elf.Open(busybox)
	if err != nil {
		t.Skipf("SKIP: %s: %v", busybox, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Skipf("SKIP: %s is dynamically linked; install Debian's busybox-static to run this test", busybox)
		}
	}
	return runc, busybox
}

// ociEnv returns an OCIEnv on runc, or skips the test with the reason
// the runtime refuses to run a container.
func ociEnv(t *testing.T, runc string) *softwaremodules.OCIEnv {
	t.Helper()
	e := softwaremodules.NewOCI(&softwaremodules.OCIOptions{Runtimes: []string{runc}, StateDir: filepath.Join(t.TempDir(), "oci")})
	if err := e.Check(t.Context()); err != nil {
		t.Skipf("SKIP: %v", err)
	}
	return e
}

// ociBundle builds an OCI runtime bundle whose root filesystem is busybox
// alone, running script with busybox sh; its terminal is on, as `runc
// spec` writes it, and the ExecEnv must turn it off.
func ociBundle(t *testing.T, busybox, name, version, script string) []byte {
	t.Helper()
	bb, err := os.ReadFile(busybox)
	if err != nil {
		t.Fatal(err)
	}
	cfg := map[string]any{
		"ociVersion": "1.0.2",
		"process": map[string]any{"terminal": true, "user": map[string]int{"uid": 0, "gid": 0},
			"args": []string{"/bin/busybox", "sh", "-c", script}, "env": []string{"PATH=/bin"}, "cwd": "/"},
		"root":   map[string]any{"path": "rootfs", "readonly": true},
		"mounts": []map[string]any{{"destination": "/proc", "type": "proc", "source": "proc"}},
		"linux": map[string]any{"namespaces": []map[string]string{{"type": "pid"}, {"type": "mount"}, {"type": "ipc"}, {"type": "uts"},
			{"type": "network"}}},
		"annotations": map[string]string{softwaremodules.AnnotationTitle: name, softwaremodules.AnnotationVersion: version,
			softwaremodules.AnnotationVendor: "Acme", softwaremodules.AnnotationDescription: name + " in a container"},
	}
	b, _ := json.Marshal(cfg)
	return tarball(t, map[string][]byte{"config.json": b, "rootfs/bin/busybox": bb},
		"config.json", "rootfs/", "rootfs/bin/", "rootfs/bin/busybox", "@link:rootfs/bin/sh=busybox")
}

func ociLoop(version string) string {
	return "echo oci " + version + "; trap 'echo bye; exit 0' TERM; while true; do /bin/busybox sleep 0.2; done"
}

// TestOCILifecycle runs a busybox container as an Execution Unit through
// install (HTTP), start, stop, update (file://), Agent restart with
// AutoStart [R-SMM.0], a crash, and uninstall.
func TestOCILifecycle(t *testing.T) {
	runc, busybox := ociRuntime(t)
	env := ociEnv(t, runc)
	srv, base := serve(t)
	srv.put("/app-1.tar.gz", ociBundle(t, busybox, "app", "1.0", ociLoop("v1")))
	dir := t.TempDir()
	r := newRig(t, dir, env)
	defer func() { r.m.Close() }()

	if err := r.operate("Device.SoftwareModules.InstallDU()", map[string]string{"URL": base + "/app-1.tar.gz",
		"ExecutionEnvRef": "Device.SoftwareModules.ExecEnv.1"}); err != nil {
		t.Fatalf("InstallDU: %v", err)
	}
	expectEvent(t, r.ev.next(t), map[string]string{"OperationPerformed": "Install", "CurrentState": "Installed", "Fault.FaultCode": "0", "Version": "1.0"})
	if du := r.get(du1); du["Name"] != "app" || du["Vendor"] != "Acme" || du["DUID"] != "OCI-1" {
		t.Errorf("DeploymentUnit.1 = %v", du)
	}
	if e := r.get("Device.SoftwareModules.ExecEnv.1."); e["Name"] != "OCI" || e["Status"] != "Up" || e["Vendor"] == "" {
		t.Errorf("ExecEnv.1 = %v", e)
	}

	if err := r.operate(eu1+"SetRequestedState()", map[string]string{"RequestedState": "Active"}); err != nil {
		t.Fatal(err)
	}
	eu := r.waitStatus(eu1, "Active")
	if n, _ := strconv.Atoi(eu["MemoryInUse"]); n <= 0 {
		t.Errorf("MemoryInUse %q of a running container", eu["MemoryInUse"])
	}
	waitLog(t, r.m.LogPath(1), "oci v1")
	if err := r.operate(eu1+"SetRequestedState()", map[string]string{"RequestedState": "Idle"}); err != nil {
		t.Fatal(err)
	}
	if eu := r.waitStatus(eu1, "Idle"); eu["ExecutionFaultCode"] != "NoFault" {
		t.Errorf("stopped container: %v %v", eu["ExecutionFaultCode"], eu["ExecutionFaultMessage"])
	}
	waitLog(t, r.m.LogPath(1), "bye")

	set(t, r, eu1+"AutoStart", "true")
	if err := r.operate(eu1+"SetRequestedState()", map[string]string{"RequestedState": "Active"}); err != nil {
		t.Fatal(err)
	}
	r.waitStatus(eu1, "Active")
	v2 := filepath.Join(t.TempDir(), "app-2.tar")
	if err := os.WriteFile(v2, ociBundle(t, busybox, "app", "2.0", ociLoop("v2")), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := r.operate(du1+"Update()", map[string]string{"URL": "file://" + v2}); err != nil {
		t.Fatalf("Update: %v", err)
	}
	expectEvent(t, r.ev.next(t), map[string]string{"OperationPerformed": "Update", "CurrentState": "Installed", "Fault.FaultCode": "0", "Version": "2.0"})
	r.waitStatus(eu1, "Active")
	waitLog(t, r.m.LogPath(1), "oci v2")

	r.m.Close()
	r = newRig(t, dir, env)
	if eu := r.waitStatus(eu1, "Active"); eu["Version"] != "2.0" {
		t.Errorf("after restart: %v", eu)
	}

	if err := r.operate(du1+"Uninstall()", nil); err != nil {
		t.Fatalf("Uninstall: %v", err)
	}
	expectEvent(t, r.ev.next(t), map[string]string{"OperationPerformed": "Uninstall", "CurrentState": "UnInstalled", "Fault.FaultCode": "0"})
	if r.count("ExecutionUnitNumberOfEntries") != "0" {
		t.Error("the EU outlived its Uninstall")
	}
}

// TestOCICrash: a container that exits with an error while Active shows
// FailureWhileActive.
func TestOCICrash(t *testing.T) {
	runc, busybox := ociRuntime(t)
	env := ociEnv(t, runc)
	srv, base := serve(t)
	srv.put("/crash.tar.gz", ociBundle(t, busybox, "crash", "1.0", "echo up; /bin/busybox sleep 1; exit 7"))
	r := newRig(t, t.TempDir(), env)
	defer r.m.Close()
	if err := r.operate("Device.SoftwareModules.InstallDU()", map[string]string{"URL": base + "/crash.tar.gz"}); err != nil {
		t.Fatal(err)
	}
	r.ev.next(t)
	if err := r.operate(eu1+"SetRequestedState()", map[string]string{"RequestedState": "Active"}); err != nil {
		t.Fatal(err)
	}
	r.waitStatus(eu1, "Active")
	eu := r.waitStatus(eu1, "Idle")
	if eu["ExecutionFaultCode"] != "FailureWhileActive" || !strings.Contains(eu["ExecutionFaultMessage"], "exit status 7") {
		t.Errorf("crashed container: %s %q", eu["ExecutionFaultCode"], eu["ExecutionFaultMessage"])
	}
}

// TestOCIRuntimeChoice: the first runtime that runs a container is used,
// and when none does, Check names each one's failure.
func TestOCIRuntimeChoice(t *testing.T) {
	runc, _ := ociRuntime(t)
	e := softwaremodules.NewOCI(&softwaremodules.OCIOptions{Runtimes: []string{"/nonexistent/crun", runc}, StateDir: t.TempDir()})
	if err := e.Check(t.Context()); err != nil {
		t.Skipf("SKIP: %v", err)
	}
	if e.Runtime() != runc {
		t.Errorf("runtime %q, want %q", e.Runtime(), runc)
	}
	bad := softwaremodules.NewOCI(&softwaremodules.OCIOptions{Runtimes: []string{"/nonexistent/crun", "/nonexistent/runc"}, StateDir: t.TempDir()})
	err := bad.Check(t.Context())
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/crun") || !strings.Contains(err.Error(), "/nonexistent/runc") {
		t.Errorf("Check with no runtime: %v", err)
	}
	if crun, lerr := exec.LookPath("crun"); lerr == nil {
		c := softwaremodules.NewOCI(&softwaremodules.OCIOptions{Runtimes: []string{crun}, StateDir: t.TempDir()})
		t.Logf("crun on this host: %v", c.Check(t.Context()))
	}
}

// TestOCIReset: a container left running by an Agent that died is
// deleted when the next Manager starts.
func TestOCIReset(t *testing.T) {
	runc, busybox := ociRuntime(t)
	state := filepath.Join(t.TempDir(), "oci")
	env := softwaremodules.NewOCI(&softwaremodules.OCIOptions{Runtimes: []string{runc}, StateDir: state})
	if err := env.Check(t.Context()); err != nil {
		t.Skipf("SKIP: %v", err)
	}
	srv, base := serve(t)
	srv.put("/app.tar", ociBundle(t, busybox, "app", "1.0", ociLoop("v1")))
	dir := t.TempDir()
	r := newRig(t, dir, env)
	if err := r.operate("Device.SoftwareModules.InstallDU()", map[string]string{"URL": base + "/app.tar"}); err != nil {
		t.Fatal(err)
	}
	r.ev.next(t)
	if err := r.operate(eu1+"SetRequestedState()", map[string]string{"RequestedState": "Active"}); err != nil {
		t.Fatal(err)
	}
	r.waitStatus(eu1, "Active")
	// As if the Agent had died: a second Manager on the same runtime
	// state finds the container running.
	out, err := exec.Command(runc, "--root", state, "state", "uspkit-OCI-1").Output()
	if err != nil || !strings.Contains(string(out), `"running"`) {
		t.Fatalf("container state: %s %v", out, err)
	}
	env2 := softwaremodules.NewOCI(&softwaremodules.OCIOptions{Runtimes: []string{runc}, StateDir: state})
	r2 := newRig(t, t.TempDir(), env2) // Start resets the runtime's containers
	defer r2.m.Close()
	if out, err := exec.Command(runc, "--root", state, "state", "uspkit-OCI-1").CombinedOutput(); err == nil {
		t.Errorf("the container outlived the reset: %s", out)
	}
	r.m.Close()
}

// TestOCILimits: Resources.AllocatedMemory and AllocatedCPUPercent of
// InstallDU() become the container's cgroup limits and show in the EU.
func TestOCILimits(t *testing.T) {
	runc, busybox := ociRuntime(t)
	state := filepath.Join(t.TempDir(), "oci")
	env := softwaremodules.NewOCI(&softwaremodules.OCIOptions{Runtimes: []string{runc}, StateDir: state})
	if err := env.Check(t.Context()); err != nil {
		t.Skipf("SKIP: %v", err)
	}
	srv, base := serve(t)
	srv.put("/app.tar", ociBundle(t, busybox, "app", "1.0", ociLoop("v1")))
	r := newRig(t, t.TempDir(), env)
	defer r.m.Close()
	if err := r.operate("Device.SoftwareModules.InstallDU()", map[string]string{"URL": base + "/app.tar",
		"Resources.AllocatedMemory": "65536", "Resources.AllocatedCPUPercent": "50"}); err != nil {
		t.Fatal(err)
	}
	r.ev.next(t)
	if err := r.operate(eu1+"SetRequestedState()", map[string]string{"RequestedState": "Active"}); err != nil {
		t.Fatal(err)
	}
	eu := r.waitStatus(eu1, "Active")
	if eu["AllocatedMemory"] != "65536" || eu["AllocatedCPUPercent"] != "50" {
		t.Errorf("EU limits %s KiB %s%%", eu["AllocatedMemory"], eu["AllocatedCPUPercent"])
	}
	out, err := exec.Command(runc, "--root", state, "state", "uspkit-OCI-1").Output()
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Pid int `json:"pid"`
	}
	json.Unmarshal(out, &st)
	cg, _ := os.ReadFile("/proc/" + strconv.Itoa(st.Pid) + "/cgroup")
	for _, line := range strings.Split(string(cg), "\n") {
		f := strings.SplitN(line, ":", 3)
		if len(f) == 3 && f[1] == "memory" {
			b, err := os.ReadFile(filepath.Join("/sys/fs/cgroup/memory", f[2], "memory.limit_in_bytes"))
			if err != nil {
				t.Skipf("SKIP: memory cgroup not readable: %v", err)
			}
			if got := strings.TrimSpace(string(b)); got != "67108864" {
				t.Errorf("memory.limit_in_bytes %s, want 67108864", got)
			}
			return
		}
	}
	t.Skip("SKIP: no cgroup v1 memory controller to check the limit in")
}
