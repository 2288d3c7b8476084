package softwaremodules_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/uspkit/uspkit/tr181/softwaremodules"
	"github.com/uspkit/uspkit/usperr"
)

// TestInstallFaults: an InstallDU that fails leaves no DU or EU behind
// and reports its fault code in DUStateChange! (TR-181 Fault.FaultCode;
// TR-369 Appendix I, "Install Faults").
func TestInstallFaults(t *testing.T) {
	srv, base := serve(t)
	good := processDU(t, "app", "1.0", "sleep 5\n")
	srv.put("/good.tgz", good)
	srv.put("/garbage.tgz", []byte("this is not a tar file at all, not even close................................................................................................................................................................................................................................................................................................................................................................................................................................................................................................................"))
	srv.put("/nomanifest.tgz", tarball(t, map[string][]byte{"README": []byte("hi")}, "README"))
	srv.put("/escape.tgz", tarball(t, map[string][]byte{softwaremodules.ManifestFile: []byte(`{"name":"x","version":"1","command":["/bin/true"]}`),
		"out/evil": []byte("x")}, softwaremodules.ManifestFile, "@link:out=/tmp", "out/evil"))
	tlsSrv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(good) }))
	defer tlsSrv.Close()
	srv.put("/badmanifest.tgz", tarball(t, map[string][]byte{softwaremodules.ManifestFile: []byte(`{"name":`)}, softwaremodules.ManifestFile))
	for _, tc := range []struct {
		name string
		in   map[string]string
		code uint32
	}{
		{"not found", map[string]string{"URL": base + "/absent.tgz"}, softwaremodules.CodeServerUnreachable},
		{"untrusted TLS certificate", map[string]string{"URL": tlsSrv.URL + "/good.tgz"}, softwaremodules.CodeServerInsecure},
		{"no server", map[string]string{"URL": "http://127.0.0.1:1/x.tgz"}, softwaremodules.CodeServerUnreachable},
		{"credentials in the URL", map[string]string{"URL": "http://u:p@" + base[len("http://"):] + "/good.tgz"}, softwaremodules.CodeInvalidArguments},
		{"not a tar file", map[string]string{"URL": base + "/garbage.tgz"}, softwaremodules.CodeCorruptData},
		{"bad manifest", map[string]string{"URL": base + "/badmanifest.tgz"}, softwaremodules.CodeCorruptData},
		{"link out of the unit", map[string]string{"URL": base + "/escape.tgz"}, softwaremodules.CodeCorruptData},
		{"no environment takes it", map[string]string{"URL": base + "/nomanifest.tgz"}, softwaremodules.CodeEnvMismatch},
		{"unknown environment", map[string]string{"URL": base + "/good.tgz", "ExecutionEnvRef": "Device.SoftwareModules.ExecEnv.9"}, softwaremodules.CodeUnknownEnv},
		{"file URL of a missing file", map[string]string{"URL": "file:///nonexistent/x.tgz"}, softwaremodules.CodeServerUnreachable},
		{"unsupported scheme", map[string]string{"URL": "ftp://127.0.0.1/x.tgz"}, softwaremodules.CodeInvalidArguments},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, t.TempDir(), softwaremodules.ProcessEnv{})
			defer r.m.Close()
			err := r.operate("Device.SoftwareModules.InstallDU()", tc.in)
			// The command's OperationComplete takes a TR-369 1.3 code
			// [R-OPR.0]: 7033-7035 (TR-181's, for DUStateChange! only)
			// are 7022 there.
			want := tc.code
			if want >= 7033 && want <= 7035 {
				want = usperr.CodeCommandFailure
			}
			if usperr.Code(err) != want {
				t.Errorf("InstallDU: %v, want code %d", err, want)
			}
			if !tr369Code(usperr.Code(err)) {
				t.Errorf("InstallDU failed with %d, a code TR-369 1.3 does not define", usperr.Code(err))
			}
			expectEvent(t, r.ev.next(t), map[string]string{"OperationPerformed": "Install", "CurrentState": "Failed",
				"Fault.FaultCode": strconv.Itoa(int(tc.code)), "DeploymentUnitRef": "", "Resolved": "false"})
			if r.count("DeploymentUnitNumberOfEntries") != "0" || r.count("ExecutionUnitNumberOfEntries") != "0" {
				t.Errorf("a failed install left %v", r.get("Device.SoftwareModules."))
			}
			if _, err := os.Stat("/tmp/evil"); err == nil {
				t.Error("an archive wrote /tmp/evil")
			}
		})
	}
}

// TestStateMachineFaults: operations that conflict with the DU and EU
// state machines fail with the spec's codes and change nothing.
func TestStateMachineFaults(t *testing.T) {
	srv, base := serve(t)
	srv.put("/app-1.tgz", processDU(t, "app", "1.0", loopScript("v1")))
	srv.put("/app-2.tgz", processDU(t, "app", "2.0", loopScript("v2")))
	dir := t.TempDir()
	r := newRig(t, dir, softwaremodules.ProcessEnv{})
	defer r.m.Close()
	install := map[string]string{"URL": base + "/app-1.tgz", "UUID": "1c2a0b9e-6a2c-5d3e-9f00-0123456789ab"}
	if err := r.operate("Device.SoftwareModules.InstallDU()", install); err != nil {
		t.Fatal(err)
	}
	r.ev.next(t)

	// The same UUID and version on the same ExecEnv: 7226.
	if err := r.operate("Device.SoftwareModules.InstallDU()", install); usperr.Code(err) != softwaremodules.CodeDuplicateDU {
		t.Errorf("second InstallDU: %v, want 7226", err)
	}
	expectEvent(t, r.ev.next(t), map[string]string{"CurrentState": "Failed", "Fault.FaultCode": "7226", "UUID": install["UUID"]})

	// Uninstall while an Update is in progress: 7229, then the Update completes.
	srv.mu.Lock()
	srv.hold, srv.holdPath = make(chan struct{}), "/app-2.tgz"
	srv.mu.Unlock()
	updated := make(chan error, 1)
	go func() {
		updated <- r.m.Update(context.Background(), 1, softwaremodules.UpdateArgs{URL: base + "/app-2.tgz"})
	}()
	for range 200 {
		if r.get(du1)["Status"] == "Updating" {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if st := r.get(du1)["Status"]; st != "Updating" {
		t.Fatalf("Status %q during an Update", st)
	}
	if err := r.m.Uninstall(context.Background(), 1); usperr.Code(err) != softwaremodules.CodeInvalidDUState {
		t.Errorf("Uninstall while Updating: %v, want 7229", err)
	}
	if err := r.m.SetRequestedState(context.Background(), 1, "Active"); usperr.Code(err) != usperr.CodeRequestDenied {
		t.Errorf("start while the DU is Updating: %v, want 7002", err)
	}
	expectEvent(t, r.ev.next(t), map[string]string{"OperationPerformed": "Uninstall", "CurrentState": "Installed", "Fault.FaultCode": "7229", "Version": "1.0"})
	close(srv.hold)
	if err := <-updated; err != nil {
		t.Fatalf("Update: %v", err)
	}
	expectEvent(t, r.ev.next(t), map[string]string{"OperationPerformed": "Update", "Fault.FaultCode": "0", "Version": "2.0"})

	// An Update whose file is missing leaves the unit as it was.
	if err := r.operate(du1+"Update()", map[string]string{"URL": base + "/absent.tgz"}); usperr.Code(err) != usperr.CodeCommandFailure || !strings.Contains(err.Error(), "7033") {
		t.Errorf("Update from a missing file: %v", err)
	}
	expectEvent(t, r.ev.next(t), map[string]string{"OperationPerformed": "Update", "CurrentState": "Installed", "Fault.FaultCode": "7033", "Version": "2.0"})
	if du := r.get(du1); du["Version"] != "2.0" || du["Status"] != "Installed" {
		t.Errorf("after a failed Update: %v", du)
	}
	if _, err := os.Stat(filepath.Join(dir, "du", "1", "run.sh")); err != nil {
		t.Errorf("a failed Update lost the unit's files: %v", err)
	}

	// An unknown DU: 7228.
	if err := r.m.Uninstall(context.Background(), 42); usperr.Code(err) != softwaremodules.CodeUnknownDU {
		t.Errorf("Uninstall of an unknown unit: %v", err)
	}
	r.ev.next(t)

	// EU: Active while Stopping is refused; anything on a disabled ExecEnv is 7012.
	if err := r.operate(eu1+"SetRequestedState()", map[string]string{"RequestedState": "Active"}); err != nil {
		t.Fatal(err)
	}
	r.waitStatus(eu1, "Active")
	set(t, r, "Device.SoftwareModules.ExecEnv.1.Enable", "false")
	for range 200 {
		if eu := r.get(eu1); eu["Status"] == "Idle" && eu["ExecutionFaultCode"] == "UnStartable" {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if eu := r.get(eu1); eu["Status"] != "Idle" || eu["ExecutionFaultCode"] != "UnStartable" {
		t.Errorf("EU of a disabled ExecEnv: %s %s", eu["Status"], eu["ExecutionFaultCode"])
	}
	if st := r.get("Device.SoftwareModules.ExecEnv.1.")["Status"]; st != "Disabled" {
		t.Errorf("ExecEnv Status %q", st)
	}
	if err := r.operate(eu1+"SetRequestedState()", map[string]string{"RequestedState": "Active"}); usperr.Code(err) != usperr.CodeInvalidValue {
		t.Errorf("SetRequestedState on a disabled ExecEnv: %v, want 7012", err)
	}
	if err := r.operate(du1+"Uninstall()", nil); usperr.Code(err) != usperr.CodeInvalidValue {
		t.Errorf("Uninstall on a disabled ExecEnv: %v, want 7012", err)
	}
	r.ev.next(t)
	set(t, r, "Device.SoftwareModules.ExecEnv.1.Enable", "true")
	if err := r.operate(eu1+"SetRequestedState()", map[string]string{"RequestedState": "Active"}); err != nil {
		t.Fatal(err)
	}
	r.waitStatus(eu1, "Active")
}

// TestOperationTimeout: an InstallDU not complete within the operation
// limit is in error and reported as such, never retried [R-SMM.1].
func TestOperationTimeout(t *testing.T) {
	srv, base := serve(t)
	srv.put("/slow.tgz", processDU(t, "slow", "1.0", "sleep 1\n"))
	srv.hold, srv.holdPath = make(chan struct{}), "/slow.tgz"
	defer close(srv.hold)
	m, err := softwaremodules.New(context.Background(), &softwaremodules.Options{Dir: t.TempDir(), Envs: []softwaremodules.ExecEnv{softwaremodules.ProcessEnv{}},
		OperationTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ev := newEvents()
	m.Start(context.Background(), ev)
	start := time.Now()
	if _, err := m.Install(context.Background(), softwaremodules.InstallArgs{URL: base + "/slow.tgz"}); usperr.Code(err) != softwaremodules.CodeServerUnreachable {
		t.Errorf("Install past the limit: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Install took %v with a 300 ms limit", d)
	}
	expectEvent(t, ev.next(t), map[string]string{"CurrentState": "Failed", "Fault.FaultCode": "7033"})
}

// TestHTTPSCredentials: a unit fetched over HTTPS with Username and
// Password (HTTP Basic); an Update without a URL uses the last URL and
// credentials (TR-369 Appendix I, Update); wrong credentials fail.
func TestHTTPSCredentials(t *testing.T) {
	var body atomic.Value
	body.Store(processDU(t, "sec", "1.0", "sleep 1\n"))
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "alice" || p != "s3cret" {
			w.Header().Set("WWW-Authenticate", `Basic realm="du"`)
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		w.Write(body.Load().([]byte))
	}))
	defer srv.Close()
	dir := t.TempDir()
	opts := &softwaremodules.Options{Dir: dir, Envs: []softwaremodules.ExecEnv{softwaremodules.ProcessEnv{}}, Client: srv.Client()}
	m, err := softwaremodules.New(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { m.Close() }()
	if _, err := m.Install(context.Background(), softwaremodules.InstallArgs{URL: srv.URL + "/sec.tgz", Username: "alice", Password: "wrong"}); usperr.Code(err) != softwaremodules.CodeServerUnreachable {
		t.Errorf("wrong password: %v", err)
	}
	n, err := m.Install(context.Background(), softwaremodules.InstallArgs{URL: srv.URL + "/sec.tgz", Username: "alice", Password: "s3cret"})
	if err != nil {
		t.Fatalf("Install over HTTPS: %v", err)
	}
	// The password is kept for Update(), sealed with secret.key.
	st, _ := os.ReadFile(filepath.Join(dir, "state.json"))
	if strings.Contains(string(st), "s3cret") || !strings.Contains(string(st), "aes-gcm:") {
		t.Errorf("state.json keeps the password in the clear: %s", st)
	}
	m.Close()
	if m, err = softwaremodules.New(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	body.Store(processDU(t, "sec", "2.0", "sleep 1\n"))
	if err := m.Update(context.Background(), n, softwaremodules.UpdateArgs{}); err != nil {
		t.Fatalf("Update with the last URL and credentials: %v", err)
	}
}

// TestTooManyOperations: Installs beyond Options.MaxOperations at once
// fail with 7005 (Resources exceeded), not 7227, which TR-181 keeps for a
// unit too large for the device.
func TestTooManyOperations(t *testing.T) {
	srv, base := serve(t)
	srv.put("/slow.tgz", processDU(t, "slow", "1.0", "sleep 1\n"))
	srv.hold, srv.holdPath = make(chan struct{}), "/slow.tgz"
	m, err := softwaremodules.New(context.Background(), &softwaremodules.Options{Dir: t.TempDir(), Envs: []softwaremodules.ExecEnv{softwaremodules.ProcessEnv{}},
		MaxOperations: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	first := make(chan error, 1)
	go func() {
		_, err := m.Install(context.Background(), softwaremodules.InstallArgs{URL: base + "/slow.tgz"})
		first <- err
	}()
	var err2 error
	for range 100 {
		time.Sleep(20 * time.Millisecond)
		if _, err2 = m.Install(context.Background(), softwaremodules.InstallArgs{URL: base + "/slow.tgz"}); usperr.Code(err2) == usperr.CodeResourcesExceeded {
			break
		}
	}
	if usperr.Code(err2) != usperr.CodeResourcesExceeded {
		t.Errorf("second Install at once: %v, want 7005", err2)
	}
	close(srv.hold)
	if err := <-first; err != nil {
		t.Errorf("first Install: %v", err)
	}
}

// TestRestart: ExecutionUnit.{i}.Restart() stops a running unit and
// starts it again (a new process).
func TestRestart(t *testing.T) {
	srv, base := serve(t)
	srv.put("/a.tgz", processDU(t, "a", "1.0", "echo pid $$\ntrap 'exit 0' TERM\nwhile true; do sleep 0.2; done\n"))
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
	waitLog(t, r.m.LogPath(1), "pid")
	if err := r.operate(eu1+"Restart()", nil); err != nil {
		t.Fatal(err)
	}
	for range 200 {
		b, _ := os.ReadFile(r.m.LogPath(1))
		if strings.Count(string(b), "pid ") == 2 {
			r.waitStatus(eu1, "Active")
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Error("no second process after Restart()")
}

// tr369Code tells whether TR-369 1.3's error table defines code: 7000-7031,
// 7100-7199 (Records), 7200-7299 (the data model's), 7800-7999 (vendors').
func tr369Code(code uint32) bool {
	return (code >= 7000 && code <= 7031) || (code >= 7100 && code <= 7299) || (code >= 7800 && code <= 7999)
}
