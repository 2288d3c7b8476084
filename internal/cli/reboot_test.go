package cli_test

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/uspkit/uspkit/internal/testenv"
	"github.com/uspkit/uspkit/wire"
)

// TestAgentReboot: Device.Reboot() restarts the `usp agent` process, which
// comes back and sends Boot! with the cause and command key to the
// subscribed controller.
func TestAgentReboot(t *testing.T) {
	bin := buildUSP(t)
	dir := t.TempDir()
	port := testenv.FreePort(t)
	conf := fmt.Sprintf("endpoint_id: os::012345-REBOOT\ndata: %s\nlog_level: error\nmtps:\n  - protocol: WebSocket\n    listen: 127.0.0.1:%d\n"+
		"factory:\n  controllers:\n    - endpoint_id: proto::reboot-ctl\n      mtps:\n        - protocol: WebSocket\n", dir, port)
	cfg := filepath.Join(dir, "agent.yaml")
	os.WriteFile(cfg, []byte(conf), 0o600)
	cmd := exec.Command(bin, "agent", "--config", cfg)
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	lines := bufio.NewScanner(stdout)
	if !lines.Scan() || !strings.Contains(lines.Text(), "ready") {
		t.Fatalf("first line %q", lines.Text())
	}
	c := dialController(t, fmt.Sprintf("ws://127.0.0.1:%d/", port), "proto::reboot-ctl", "os::012345-REBOOT")
	notifs := make(chan *wire.Msg, 8)
	c.onNotify = func(m *wire.Msg) { notifs <- m }
	add := &wire.Request{ReqType: &wire.Request_Add{Add: &wire.Add{CreateObjs: []*wire.Add_CreateObject{{ObjPath: "Device.LocalAgent.Subscription.",
		ParamSettings: []*wire.Add_CreateParamSetting{{Param: "Enable", Value: "true"}, {Param: "NotifType", Value: "Event"},
			{Param: "ReferenceList", Value: "Device.Boot!"}, {Param: "Persistent", Value: "true"}}}}}}}
	if r := c.do(add, 5*time.Second); r.GetBody().GetResponse().GetAddResp() == nil {
		t.Fatalf("subscription: %v", r)
	}
	if r := c.do(&wire.Request{ReqType: &wire.Request_Operate{Operate: &wire.Operate{Command: "Device.Reboot()", CommandKey: "rb-1", SendResp: true}}}, 5*time.Second); r.GetBody().GetResponse().GetOperateResp() == nil {
		t.Fatalf("reboot: %v", r)
	}
	// The process replaces itself (same PID) and prints its ready line again.
	if !lines.Scan() || !strings.Contains(lines.Text(), "ready") {
		t.Fatalf("no ready line after the reboot: %q", lines.Text())
	}
	select {
	case m := <-notifs:
		ev := m.GetBody().GetRequest().GetNotify().GetEvent()
		if ev.GetEventName() != "Boot!" || ev.GetParams()["Cause"] != "RemoteReboot" || ev.GetParams()["CommandKey"] != "rb-1" {
			t.Errorf("Boot!: %v", m)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("no Boot! after the reboot")
	}
}
