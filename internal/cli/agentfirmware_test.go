package cli_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/uspkit/uspkit/internal/testenv"
	"github.com/uspkit/uspkit/wire"
)

// buildVersioned builds usp with the given link-time version.
func buildVersioned(t *testing.T, version string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "usp-"+version)
	out, err := exec.Command("go", "build", "-o", bin, "-ldflags", "-X github.com/uspkit/uspkit/internal/cli.linkVersion="+version, "../../cmd/usp").CombinedOutput()
	if err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

// fwAgent is a `usp agent` process with firmware banks, and a Controller
// subscribed to Boot!, TransferComplete! and OperationComplete.
type fwAgent struct {
	t      *testing.T
	cfg    string
	port   int
	cmd    *exec.Cmd
	lines  *bufio.Scanner
	ctl    *wsController
	notifs chan *wire.Msg
}

func (a *fwAgent) start(bin string) {
	a.t.Helper()
	a.cmd = exec.Command(bin, "agent", "--config", a.cfg)
	stdout, _ := a.cmd.StdoutPipe()
	a.cmd.Stderr = os.Stderr
	if err := a.cmd.Start(); err != nil {
		a.t.Fatal(err)
	}
	a.lines = bufio.NewScanner(stdout)
	a.ready()
}

func (a *fwAgent) ready() {
	a.t.Helper()
	if !a.lines.Scan() || !strings.Contains(a.lines.Text(), "ready") {
		a.t.Fatalf("no ready line: %q", a.lines.Text())
	}
}

func (a *fwAgent) stop() {
	if a.cmd != nil && a.cmd.ProcessState == nil {
		interrupt(a.cmd, 5*time.Second)
	}
}

func (a *fwAgent) operate(cmd, key string, in map[string]string) {
	a.t.Helper()
	r := a.ctl.do(&wire.Request{ReqType: &wire.Request_Operate{Operate: &wire.Operate{Command: cmd, CommandKey: key, SendResp: true, InputArgs: in}}}, 10*time.Second)
	res := r.GetBody().GetResponse().GetOperateResp().GetOperationResults()
	if len(res) != 1 || res[0].GetReqObjPath() == "" {
		a.t.Fatalf("%s: %v", cmd, r)
	}
}

func (a *fwAgent) get(path string) string {
	a.t.Helper()
	r := a.ctl.do(&wire.Request{ReqType: &wire.Request_Get{Get: &wire.Get{ParamPaths: []string{path}}}}, 10*time.Second)
	for _, rp := range r.GetBody().GetResponse().GetGetResp().GetReqPathResults() {
		for _, res := range rp.GetResolvedPathResults() {
			for k, v := range res.GetResultParams() {
				if res.GetResolvedPath()+k == path {
					return v
				}
			}
		}
	}
	a.t.Fatalf("get %s: %v", path, r)
	return ""
}

// event waits for the event or OperationComplete named (a "!" or "()"
// suffix) and returns its arguments (for OperationComplete: "err" holds
// the error code, 0 for success).
func (a *fwAgent) event(name string, within time.Duration) map[string]string {
	a.t.Helper()
	deadline := time.After(within)
	for {
		select {
		case m := <-a.notifs:
			n := m.GetBody().GetRequest().GetNotify()
			if ev := n.GetEvent(); ev != nil && ev.GetEventName() == name {
				return ev.GetParams()
			}
			if oc := n.GetOperComplete(); oc != nil && oc.GetCommandName() == name {
				return map[string]string{"err": fmt.Sprint(oc.GetCmdFailure().GetErrCode()), "msg": oc.GetCmdFailure().GetErrMsg()}
			}
		case <-deadline:
			a.t.Fatalf("no %s within %s", name, within)
			return nil
		}
	}
}

func subscribe(t *testing.T, c *wsController, id, typ, ref string) {
	t.Helper()
	add := &wire.Request{ReqType: &wire.Request_Add{Add: &wire.Add{CreateObjs: []*wire.Add_CreateObject{{ObjPath: "Device.LocalAgent.Subscription.",
		ParamSettings: []*wire.Add_CreateParamSetting{{Param: "ID", Value: id}, {Param: "Enable", Value: "true"}, {Param: "NotifType", Value: typ},
			{Param: "ReferenceList", Value: ref}, {Param: "Persistent", Value: "true"}}}}}}}
	if r := c.do(add, 5*time.Second); r.GetBody().GetResponse().GetAddResp() == nil {
		t.Fatalf("subscription: %v", r)
	}
}

// TestAgentFirmwareUpgrade: a Controller has `usp agent` (version
// 1.0.0-a) Download() the gzip-compressed build 2.0.0-b into bank 2 with
// a SHA-256 checksum (TransferComplete! FaultCode 0, OperationComplete)
// and Activate() it: the process restarts on bank 2, sends Boot! with
// FirmwareUpdated true and the command key, and reports the new
// SoftwareVersion. A download with a bad checksum ends in
// TransferComplete! with a fault and activates nothing. Then an image
// that exits at start is activated: the next start rolls back to bank 2,
// Boot! says FirmwareUpdated false with Cause LocalReboot, and bank 1 is
// ActivationFailed.
func TestAgentFirmwareUpgrade(t *testing.T) {
	binA, binB := buildVersioned(t, "1.0.0-a"), buildVersioned(t, "2.0.0-b")
	imgB := gzipFile(t, binB)
	bad := []byte("#!/bin/sh\nif [ \"$1\" = version ]; then echo 'usp 3.0.0-bad (USP 1.3)'; exit 0; fi\nexit 1\n")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/b.gz":
			w.Write(imgB)
		case "/bad":
			w.Write(bad)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()

	dir := t.TempDir()
	a := &fwAgent{t: t, port: testenv.FreePort(t), notifs: make(chan *wire.Msg, 64)}
	a.cfg = filepath.Join(dir, "agent.yaml")
	conf := fmt.Sprintf("endpoint_id: os::012345-FIRMWARE\ndata: %s\nlog_level: error\nmtps:\n  - protocol: WebSocket\n    listen: 127.0.0.1:%d\n"+
		"factory:\n  controllers:\n    - endpoint_id: proto::fw-ctl\n      mtps:\n        - protocol: WebSocket\nfirmware:\n  confirm_timeout: 20s\n", dir, a.port)
	os.WriteFile(a.cfg, []byte(conf), 0o600)
	a.start(binA)
	defer a.stop()
	a.ctl = dialController(t, fmt.Sprintf("ws://127.0.0.1:%d/", a.port), "proto::fw-ctl", "os::012345-FIRMWARE")
	a.ctl.onNotify = func(m *wire.Msg) { a.notifs <- m }
	subscribe(t, a.ctl, "ev", "Event", "Device.Boot!,Device.LocalAgent.TransferComplete!")
	subscribe(t, a.ctl, "oc", "OperationComplete", "Device.DeviceInfo.FirmwareImage.")
	if v := a.get("Device.DeviceInfo.SoftwareVersion"); v != "1.0.0-a" {
		t.Fatalf("SoftwareVersion %q", v)
	}

	// A bad checksum: TransferComplete! with a fault, the command fails,
	// nothing restarts.
	a.operate("Device.DeviceInfo.FirmwareImage.2.Download()", "dl-bad", map[string]string{"URL": srv.URL + "/b.gz", "AutoActivate": "true",
		"CheckSumAlgorithm": "SHA-256", "CheckSum": strings.Repeat("00", 32)})
	if tc := a.event("TransferComplete!", 30*time.Second); tc["FaultCode"] == "0" || tc["CommandKey"] != "dl-bad" {
		t.Fatalf("TransferComplete! after a bad checksum: %v", tc)
	}
	if oc := a.event("Download()", 10*time.Second); oc["err"] == "0" {
		t.Fatalf("Download() with a bad checksum succeeded")
	}
	if s := a.get("Device.DeviceInfo.FirmwareImage.2.Status"); s != "ValidationFailed" {
		t.Fatalf("bank 2 status %q", s)
	}

	sum := sha256.Sum256(imgB)
	a.operate("Device.DeviceInfo.FirmwareImage.2.Download()", "dl-1", map[string]string{"URL": srv.URL + "/b.gz", "AutoActivate": "false",
		"CheckSumAlgorithm": "SHA-256", "CheckSum": hex.EncodeToString(sum[:]), "FileSize": fmt.Sprint(len(imgB))})
	if tc := a.event("TransferComplete!", 30*time.Second); tc["FaultCode"] != "0" || tc["Affected"] != "Device.DeviceInfo.FirmwareImage.2." || tc["CommandKey"] != "dl-1" {
		t.Fatalf("TransferComplete!: %v", tc)
	}
	if oc := a.event("Download()", 10*time.Second); oc["err"] != "0" {
		t.Fatalf("Download(): %v", oc)
	}
	if v := a.get("Device.DeviceInfo.FirmwareImage.2.Version"); v != "2.0.0-b" {
		t.Fatalf("bank 2 version %q", v)
	}
	a.operate("Device.DeviceInfo.FirmwareImage.2.Activate()", "act-1", map[string]string{
		"TimeWindow.1.Start": "0", "TimeWindow.1.End": "60", "TimeWindow.1.Mode": "Immediately"})
	if oc := a.event("Activate()", 5*time.Second); oc["err"] != "0" { // before the restart (TP-469 9.4)
		t.Fatalf("Activate(): %v", oc)
	}
	a.ready() // the same process, now bank 2's binary
	boot := a.event("Boot!", 20*time.Second)
	if boot["FirmwareUpdated"] != "true" || boot["CommandKey"] != "act-1" || boot["Cause"] != "RemoteReboot" {
		t.Fatalf("Boot! after the activation: %v", boot)
	}
	if v := a.get("Device.DeviceInfo.SoftwareVersion"); v != "2.0.0-b" {
		t.Fatalf("SoftwareVersion after the upgrade %q", v)
	}
	if v := a.get("Device.DeviceInfo.ActiveFirmwareImage"); v != "Device.DeviceInfo.FirmwareImage.2." {
		t.Fatalf("ActiveFirmwareImage %q", v)
	}

	// Roll-back: an image that exits at start.
	a.operate("Device.DeviceInfo.FirmwareImage.1.Download()", "dl-bad-img", map[string]string{"URL": srv.URL + "/bad", "AutoActivate": "true"})
	if tc := a.event("TransferComplete!", 30*time.Second); tc["FaultCode"] != "0" {
		t.Fatalf("TransferComplete! of the bad image: %v", tc)
	}
	done := make(chan error, 1)
	go func() { done <- a.cmd.Wait() }()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("the bad image exited with status 0")
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the bad image did not exit")
	}
	a.start(binA) // a supervisor starts the agent again
	boot = a.event("Boot!", 20*time.Second)
	if boot["FirmwareUpdated"] != "false" || boot["Cause"] != "LocalReboot" {
		t.Fatalf("Boot! after the roll-back: %v", boot)
	}
	if v := a.get("Device.DeviceInfo.SoftwareVersion"); v != "2.0.0-b" {
		t.Fatalf("SoftwareVersion after the roll-back %q", v)
	}
	if s := a.get("Device.DeviceInfo.FirmwareImage.1.Status"); s != "ActivationFailed" {
		t.Fatalf("bank 1 status %q", s)
	}
}

func gzipFile(t *testing.T, path string) []byte {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var buf bytes.Buffer
	w, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	io.Copy(w, f)
	w.Close()
	return buf.Bytes()
}
