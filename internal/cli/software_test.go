package cli_test

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"debug/elf"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/uspkit/uspkit/controller"
	"github.com/uspkit/uspkit/internal/testenv"
	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/mtp/ws"
	"github.com/uspkit/uspkit/record"
	"github.com/uspkit/uspkit/store"
	"github.com/uspkit/uspkit/wire"
)

const (
	smmCtrlID  = "proto::smm-controller"
	smmAgentID = "os::012345-SMM1"
)

// TestAgentSoftwareModules: `usp agent` with a software_modules section,
// driven by a Controller over WebSocket, with each Execution Environment:
// InstallDU() of a unit from HTTP, the EU started and stopped with
// SetRequestedState(), AutoStart across an agent restart [R-SMM.0],
// Uninstall(); the Controller receives DUStateChange! for each DU
// operation and a ValueChange of the EU's Status. The EU's log is
// Device.DeviceInfo.VendorLogFile.2 (its VendorLogList), uploaded with
// Upload() to an HTTP server, and gone after Uninstall().
func TestAgentSoftwareModules(t *testing.T) {
	t.Run("process", func(t *testing.T) { smmScenario(t, "process", smmHelloDU(t)) })
	t.Run("oci", func(t *testing.T) { smmScenario(t, "oci", smmBusyboxDU(t)) })
}

func smmScenario(t *testing.T, env string, du []byte) {
	bin := buildUSP(t)
	var srv *ws.Server
	c := runSMMController(t, func(onState mtp.StateFunc) mtp.Transport {
		var err error
		srv, err = ws.Listen(context.Background(), "127.0.0.1:0", &ws.Options{EndpointID: smmCtrlID, OnState: onState})
		if err != nil {
			t.Fatal(err)
		}
		return srv
	})
	uploaded := make(chan string, 4)
	files := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut && r.URL.Path == "/upload/eu.log" {
			b, _ := io.ReadAll(r.Body)
			uploaded <- string(b)
			return
		}
		if r.URL.Path != "/hello.tgz" {
			http.NotFound(w, r)
			return
		}
		w.Write(du)
	}))
	defer files.Close()
	dir := t.TempDir()
	conf := fmt.Sprintf("endpoint_id: %s\ndata: %s\nlog_level: error\nmtps:\n  - protocol: WebSocket\n    url: ws://%s/usp\n"+
		"factory:\n  controllers:\n    - endpoint_id: %s\n      mtps:\n        - protocol: WebSocket\n"+
		"software_modules:\n  exec_envs: [%s]\n  stop_timeout: 3s\n", smmAgentID, dir, srv.Addr(), smmCtrlID, env)
	cfg := filepath.Join(dir, "agent.yaml")
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	agentProc := startSMMAgent(t, bin, cfg)
	defer func() { interrupt(agentProc, 10*time.Second) }()
	waitAgent(t, c, smmAgentID, true)
	smmWaitSubscription(t, c, "smm-du")
	events, stop := c.Subscribe()
	defer stop()

	smmOperate(t, c, "Device.SoftwareModules.InstallDU()", map[string]string{"URL": files.URL + "/hello.tgz"})
	ev := smmWaitDUEvent(t, events)
	if ev["OperationPerformed"] != "Install" || ev["CurrentState"] != "Installed" || ev["Fault.FaultCode"] != "0" ||
		ev["DeploymentUnitRef"] != "Device.SoftwareModules.DeploymentUnit.1" || ev["Version"] != "1.0" {
		t.Fatalf("DUStateChange! after InstallDU: %v", ev)
	}
	eu := "Device.SoftwareModules.ExecutionUnit.1."
	smmSet(t, c, eu, "AutoStart", "true")
	smmWaitSubscription(t, c, "smm-eu")
	smmOperate(t, c, eu+"SetRequestedState()", map[string]string{"RequestedState": "Active"})
	smmWaitValueChange(t, events, eu+"Status", "Active")
	smmWaitEU(t, c, eu, "Active")

	// The agent restarts; the AutoStart unit runs again.
	if err, ok := interrupt(agentProc, 10*time.Second); !ok {
		t.Fatalf("agent did not stop: %v", err)
	}
	waitAgent(t, c, smmAgentID, false)
	agentProc = startSMMAgent(t, bin, cfg)
	waitAgent(t, c, smmAgentID, true)
	smmWaitEU(t, c, eu, "Active")

	// The EU's log: a VendorLogFile row after the Agent's own, which
	// keeps its number across the restart, uploaded with Upload().
	const logRow = "Device.DeviceInfo.VendorLogFile.2"
	if got := smmParam(t, c, eu+"VendorLogList"); got != logRow {
		t.Fatalf("VendorLogList %q, want %s", got, logRow)
	}
	smmOperate(t, c, logRow+".Upload()", map[string]string{"URL": files.URL + "/upload/eu.log", "Username": "", "Password": ""})
	select {
	case got := <-uploaded:
		if !strings.Contains(got, "hello from the unit") {
			t.Errorf("uploaded EU log %q", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("EU log not uploaded within 10 s")
	}

	// Disabling the ExecEnv stops the unit; enabling it starts it again
	// (AutoStart), both while the Agent notifies the Status changes.
	smmSet(t, c, "Device.SoftwareModules.ExecEnv.1.", "Enable", "false")
	smmWaitEU(t, c, eu, "Idle")
	smmSet(t, c, "Device.SoftwareModules.ExecEnv.1.", "Enable", "true")
	smmWaitEU(t, c, eu, "Active")

	smmOperate(t, c, eu+"SetRequestedState()", map[string]string{"RequestedState": "Idle"})
	smmWaitEU(t, c, eu, "Idle")

	smmOperate(t, c, "Device.SoftwareModules.DeploymentUnit.1.Uninstall()", nil)
	ev = smmWaitDUEvent(t, events)
	if ev["OperationPerformed"] != "Uninstall" || ev["CurrentState"] != "UnInstalled" || ev["Fault.FaultCode"] != "0" {
		t.Fatalf("DUStateChange! after Uninstall: %v", ev)
	}
	if n := smmParam(t, c, "Device.DeviceInfo.VendorLogFileNumberOfEntries"); n != "1" {
		t.Errorf("VendorLogFileNumberOfEntries %q after Uninstall, want 1 (the Agent's own log)", n)
	}
	m := smmGet(t, c, "Device.SoftwareModules.DeploymentUnitNumberOfEntries")
	if n := m.GetBody().GetResponse().GetGetResp().GetReqPathResults()[0].GetResolvedPathResults()[0].GetResultParams()["DeploymentUnitNumberOfEntries"]; n != "0" {
		t.Errorf("DeploymentUnitNumberOfEntries %q after Uninstall", n)
	}
}

// smmBusyboxDU is an OCI bundle of a static busybox running until
// SIGTERM, or skips the test: OCI containers need root, runc (Debian's
// runc; a failure under USP_REQUIRE_EXTERNAL=1) and busybox-static.
func smmBusyboxDU(t *testing.T) []byte {
	if os.Geteuid() != 0 {
		t.Skip("SKIP: OCI containers need root; run the tests as root")
	}
	testenv.LookPath(t, "runc", "runc", "/usr/sbin", "/sbin")
	bb, err := exec.LookPath("busybox")
	if err != nil {
		t.Skip("SKIP: busybox not found; install Debian's busybox-static to run this test")
	}
	if f, err := elf.Open(bb); err != nil || slices.ContainsFunc(f.Progs, func(p *elf.Prog) bool { return p.Type == elf.PT_INTERP }) {
		t.Skipf("SKIP: %s is not a static binary; install Debian's busybox-static to run this test", bb)
	}
	body, err := os.ReadFile(bb)
	if err != nil {
		t.Fatal(err)
	}
	cfg := `{"ociVersion":"1.0.2","process":{"terminal":false,"user":{"uid":0,"gid":0},"args":["/bin/busybox","sh","-c",` +
		`"echo hello from the unit; trap 'exit 0' TERM; while true; do /bin/busybox sleep 0.2; done"],"env":["PATH=/bin"],"cwd":"/"},` +
		`"root":{"path":"rootfs","readonly":true},"mounts":[{"destination":"/proc","type":"proc","source":"proc"}],` +
		`"linux":{"namespaces":[{"type":"pid"},{"type":"mount"},{"type":"ipc"},{"type":"uts"},{"type":"network"}]},` +
		`"annotations":{"org.opencontainers.image.title":"hello","org.opencontainers.image.version":"1.0"}}`
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	tw.WriteHeader(&tar.Header{Name: "config.json", Mode: 0o644, Size: int64(len(cfg))})
	tw.Write([]byte(cfg))
	tw.WriteHeader(&tar.Header{Name: "rootfs/bin/", Mode: 0o755, Typeflag: tar.TypeDir})
	tw.WriteHeader(&tar.Header{Name: "rootfs/bin/busybox", Mode: 0o755, Size: int64(len(body))})
	tw.Write(body)
	tw.Close()
	gz.Close()
	return buf.Bytes()
}

// smmHelloDU is a plain-process Deployment Unit that runs until SIGTERM.
func smmHelloDU(t *testing.T) []byte {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, f := range []struct{ name, body string }{
		{"manifest.json", `{"name":"hello","version":"1.0","vendor":"Acme","command":["/bin/sh","run.sh"]}`},
		{"run.sh", "echo hello from the unit\ntrap 'exit 0' TERM\nwhile true; do sleep 0.2; done\n"},
	} {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.body))}); err != nil {
			t.Error(err)
		}
		tw.Write([]byte(f.body))
	}
	tw.Close()
	gz.Close()
	return buf.Bytes()
}

func runSMMController(t *testing.T, mk func(onState mtp.StateFunc) mtp.Transport) *controller.Controller {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var c *controller.Controller
	tr := mk(func(ctx context.Context, p mtp.Peer, s mtp.State, err error) {
		if c != nil {
			c.OnState("WebSocket")(ctx, p, s, err)
		}
	})
	c, err := controller.New(ctx, controller.Options{EndpointID: smmCtrlID, Store: store.NewMemory(),
		MTPs:      []controller.MTP{{Protocol: "WebSocket", Transport: tr, Identity: controller.IdentityClaimed}},
		Admission: controller.AdmitAll, RequestTimeout: 10 * time.Second,
		Subscriptions: []controller.Subscription{{ID: "smm-du", NotifType: "Event", ReferenceList: "Device.SoftwareModules.DUStateChange!"},
			{ID: "smm-eu", NotifType: "ValueChange", ReferenceList: "Device.SoftwareModules.ExecutionUnit.*.Status"}}})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return c
}

func startSMMAgent(t *testing.T, bin, cfg string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(bin, "agent", "--config", cfg)
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if line, err := bufio.NewReader(stdout).ReadString('\n'); err != nil || !strings.Contains(line, "ready") {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("agent: %q %v", line, err)
	}
	return cmd
}

func smmWaitSubscription(t *testing.T, c *controller.Controller, id string) {
	t.Helper()
	for range 200 {
		m, _ := c.Do(context.Background(), smmAgentID, &wire.Request{ReqType: &wire.Request_Get{Get: &wire.Get{ParamPaths: []string{"Device.LocalAgent.Subscription.*.ID"}}}})
		if strings.Contains(m.String(), id) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("subscription %s not created", id)
}

func smmOperate(t *testing.T, c *controller.Controller, cmd string, args map[string]string) {
	t.Helper()
	m, err := c.Do(context.Background(), smmAgentID, &wire.Request{ReqType: &wire.Request_Operate{Operate: &wire.Operate{Command: cmd,
		CommandKey: "smm", SendResp: true, InputArgs: args}}})
	if err != nil {
		t.Fatalf("%s: %v", cmd, err)
	}
	res := m.GetBody().GetResponse().GetOperateResp().GetOperationResults()
	if len(res) != 1 || res[0].GetCmdFailure() != nil {
		t.Fatalf("%s: %v", cmd, m)
	}
}

func smmGet(t *testing.T, c *controller.Controller, path string) *wire.Msg {
	t.Helper()
	m, err := c.Do(context.Background(), smmAgentID, &wire.Request{ReqType: &wire.Request_Get{Get: &wire.Get{ParamPaths: []string{path}}}})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// smmParam returns one parameter's value from a Get of its full path.
func smmParam(t *testing.T, c *controller.Controller, path string) string {
	t.Helper()
	rp := smmGet(t, c, path).GetBody().GetResponse().GetGetResp().GetReqPathResults()
	if len(rp) != 1 || len(rp[0].GetResolvedPathResults()) != 1 {
		t.Fatalf("Get %s: %v", path, rp)
	}
	return rp[0].GetResolvedPathResults()[0].GetResultParams()[path[strings.LastIndex(path, ".")+1:]]
}

func smmSet(t *testing.T, c *controller.Controller, obj, param, value string) {
	t.Helper()
	m, err := c.Do(context.Background(), smmAgentID, &wire.Request{ReqType: &wire.Request_Set{Set: &wire.Set{UpdateObjs: []*wire.Set_UpdateObject{{ObjPath: obj,
		ParamSettings: []*wire.Set_UpdateParamSetting{{Param: param, Value: value, Required: true}}}}}}})
	if err != nil || m.GetBody().GetResponse().GetSetResp() == nil {
		t.Fatalf("set %s%s: %v %v", obj, param, m, err)
	}
}

func smmWaitEU(t *testing.T, c *controller.Controller, eu, want string) {
	t.Helper()
	var got string
	for range 400 {
		m := smmGet(t, c, eu+"Status")
		if rp := m.GetBody().GetResponse().GetGetResp().GetReqPathResults(); len(rp) == 1 && len(rp[0].GetResolvedPathResults()) == 1 {
			got = rp[0].GetResolvedPathResults()[0].GetResultParams()["Status"]
			if got == want {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%sStatus %q, want %q", eu, got, want)
}

// smmWaitDUEvent returns the arguments of the next DUStateChange! the
// Controller stores.
func smmWaitDUEvent(t *testing.T, events <-chan controller.Event) map[string]string {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case e := <-events:
			if e.Kind != "notify" {
				continue
			}
			m, err := record.ParseMsgJSON(e.Msg)
			if err != nil {
				t.Fatal(err)
			}
			if ev := m.GetBody().GetRequest().GetNotify().GetEvent(); ev.GetEventName() == "DUStateChange!" {
				return ev.GetParams()
			}
		case <-deadline:
			t.Fatal("no DUStateChange! within 30 s")
		}
	}
}

// smmWaitValueChange waits for a ValueChange notification of path to
// value.
func smmWaitValueChange(t *testing.T, events <-chan controller.Event, path, value string) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case e := <-events:
			if e.Kind != "notify" {
				continue
			}
			m, err := record.ParseMsgJSON(e.Msg)
			if err != nil {
				t.Fatal(err)
			}
			if vc := m.GetBody().GetRequest().GetNotify().GetValueChange(); vc.GetParamPath() == path && vc.GetParamValue() == value {
				return
			}
		case <-deadline:
			t.Fatalf("no ValueChange of %s to %s within 30 s", path, value)
		}
	}
}
