package cli_test

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/uspkit/uspkit/internal/testenv"
	"github.com/uspkit/uspkit/wire"
)

// platformAgent is `usp agent` with a platform: section.
type platformAgent struct {
	cmd   *exec.Cmd
	lines *bufio.Scanner
	exit  chan error
}

func startPlatformAgent(t *testing.T, bin, cfg string) *platformAgent {
	t.Helper()
	cmd := exec.Command(bin, "agent", "--config", cfg)
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &platformAgent{cmd: cmd, lines: bufio.NewScanner(stdout), exit: make(chan error, 1)}
	t.Cleanup(func() {
		select {
		case <-p.exit:
		default:
			interrupt(cmd, 10*time.Second)
		}
	})
	if !p.lines.Scan() || !strings.Contains(p.lines.Text(), "ready") {
		t.Fatalf("first line %q", p.lines.Text())
	}
	go func() {
		for p.lines.Scan() {
		}
		p.exit <- cmd.Wait()
		close(p.exit)
	}()
	return p
}

// waitExit waits for the agent to end by itself and returns its status.
func (p *platformAgent) waitExit(t *testing.T) error {
	t.Helper()
	select {
	case err := <-p.exit:
		return err
	case <-time.After(20 * time.Second):
		t.Fatal("the agent did not end after the platform command")
	}
	return nil
}

// waitFile waits for a file the platform command writes.
func waitFile(t *testing.T, path string) string {
	t.Helper()
	for end := time.Now().Add(15 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if b, err := os.ReadFile(path); err == nil && len(b) > 0 {
			return strings.TrimSpace(string(b))
		}
	}
	t.Fatalf("%s not written", path)
	return ""
}

func operate(t *testing.T, c *wsController, command, key string) {
	t.Helper()
	r := c.do(&wire.Request{ReqType: &wire.Request_Operate{Operate: &wire.Operate{Command: command, CommandKey: key, SendResp: true}}}, 10*time.Second)
	if r.GetBody().GetResponse().GetOperateResp() == nil {
		t.Fatalf("%s: %v", command, r)
	}
}

// TestPlatformHooks runs `usp agent` with a platform: section whose
// reboot and factory reset commands are scripts writing a marker file,
// identity from a literal, a file, a UCI option and a command, and its log
// to a syslog socket the test listens on. Device.Reboot() runs the reboot
// command (the agent ends), and the agent started again sends Boot! with
// Cause RemoteReboot and the command key to the subscribed controller
// [R-NOT.0]; Device.FactoryReset() runs the factory reset command.
func TestPlatformHooks(t *testing.T) {
	bin := buildUSP(t)
	dir := t.TempDir()
	os.Chmod(dir, 0o700)
	os.WriteFile(filepath.Join(dir, "serial"), []byte("SN-PLATFORM-7\n"), 0o600)
	uci := filepath.Join(dir, "uci")
	os.Mkdir(uci, 0o700)
	os.WriteFile(filepath.Join(uci, "board"), []byte("config board 'main'\n\toption oui '00D0F1'\n"), 0o600)
	logSock := filepath.Join(dir, "log.sock")
	ln, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: logSock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	syslog := make(chan string, 256)
	go func() {
		b := make([]byte, 8192)
		for {
			n, err := ln.Read(b)
			if err != nil {
				return
			}
			select {
			case syslog <- string(b[:n]):
			default:
			}
		}
	}()
	port := testenv.FreePort(t)
	reboot, reset := filepath.Join(dir, "rebooted"), filepath.Join(dir, "reset")
	conf := fmt.Sprintf(`endpoint_id: os::012345-PLATFORM
data: %[1]s/data
store: journal
log_level: info
log:
  syslog: true
  socket: %[2]s
  tag: usp-agent
mtps:
  - protocol: WebSocket
    listen: 127.0.0.1:%[3]d
platform:
  reboot_command: [sh, -c, 'echo "$USP_RESTART_CAUSE" > %[4]s']
  factory_reset_command: [sh, -c, 'echo "$USP_RESTART_CAUSE" > %[5]s']
  uci_dir: %[6]s
  identity:
    Manufacturer: {value: ACME Networks}
    SerialNumber: {file: %[1]s/serial}
    ManufacturerOUI: {uci: board.main.oui}
    ModelName: {command: [echo, AX-1800]}
factory:
  controllers:
    - endpoint_id: proto::platform-ctl
      mtps:
        - protocol: WebSocket
`, dir, logSock, port, reboot, reset, uci)
	cfg := filepath.Join(dir, "agent.yaml")
	os.WriteFile(cfg, []byte(conf), 0o600)
	url := fmt.Sprintf("ws://127.0.0.1:%d/", port)

	a := startPlatformAgent(t, bin, cfg)
	c := dialController(t, url, "proto::platform-ctl", "os::012345-PLATFORM")
	r := c.do(&wire.Request{ReqType: &wire.Request_Get{Get: &wire.Get{ParamPaths: []string{"Device.DeviceInfo."}, MaxDepth: 1}}}, 10*time.Second)
	got := map[string]string{}
	for _, rp := range r.GetBody().GetResponse().GetGetResp().GetReqPathResults() {
		for _, res := range rp.GetResolvedPathResults() {
			for k, v := range res.GetResultParams() {
				got[k] = v
			}
		}
	}
	want := map[string]string{"Manufacturer": "ACME Networks", "SerialNumber": "SN-PLATFORM-7", "ManufacturerOUI": "00D0F1", "ModelName": "AX-1800"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("Device.DeviceInfo.%s = %q, want %q (from platform.identity)", k, got[k], v)
		}
	}
	sub := &wire.Request{ReqType: &wire.Request_Add{Add: &wire.Add{CreateObjs: []*wire.Add_CreateObject{{ObjPath: "Device.LocalAgent.Subscription.",
		ParamSettings: []*wire.Add_CreateParamSetting{{Param: "Enable", Value: "true"}, {Param: "NotifType", Value: "Event"},
			{Param: "ReferenceList", Value: "Device.Boot!"}, {Param: "Persistent", Value: "true"}}}}}}}
	if r := c.do(sub, 10*time.Second); r.GetBody().GetResponse().GetAddResp() == nil {
		t.Fatalf("subscription: %v", r)
	}
	operate(t, c, "Device.Reboot()", "platform-rb")
	if cause := waitFile(t, reboot); cause != "RemoteReboot" {
		t.Errorf("reboot command ran with cause %q", cause)
	}
	if err := a.waitExit(t); err != nil {
		t.Errorf("agent after the reboot command: %v, want exit 0", err)
	}

	c.cancel()
	c.cli.Close()

	// The device "comes back": Boot! carries the recorded cause.
	notifs := make(chan *wire.Msg, 8)
	c2 := dialController(t, url, "proto::platform-ctl", "os::012345-PLATFORM")
	c2.onNotify = func(m *wire.Msg) { notifs <- m }
	a = startPlatformAgent(t, bin, cfg)
	select {
	case m := <-notifs:
		ev := m.GetBody().GetRequest().GetNotify().GetEvent()
		if ev.GetEventName() != "Boot!" || ev.GetParams()["Cause"] != "RemoteReboot" || ev.GetParams()["CommandKey"] != "platform-rb" {
			t.Errorf("Boot!: %v", m)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no Boot! after the platform reboot")
	}
	operate(t, c2, "Device.FactoryReset()", "platform-fr")
	if cause := waitFile(t, reset); cause != "RemoteFactoryReset" {
		t.Errorf("factory reset command ran with cause %q", cause)
	}
	if err := a.waitExit(t); err != nil {
		t.Errorf("agent after the factory reset command: %v, want exit 0", err)
	}

	// The log went to syslog: RFC 3164 with the daemon facility.
	seen := false
	for len(syslog) > 0 && !seen {
		m := <-syslog
		seen = strings.HasPrefix(m, "<30>") && strings.Contains(m, " usp-agent[") && strings.Contains(m, "platform: running the restart command")
	}
	if !seen {
		t.Error("no syslog message <30>... usp-agent[PID]: ... platform: running the restart command")
	}
}

// TestPlatformRebootCommandFails: when the reboot command fails, the
// agent restarts its own process instead, and still comes back.
func TestPlatformRebootCommandFails(t *testing.T) {
	bin := buildUSP(t)
	dir := t.TempDir()
	os.Chmod(dir, 0o700)
	port := testenv.FreePort(t)
	conf := fmt.Sprintf("endpoint_id: os::012345-PLATFAIL\ndata: %s\nstore: journal\nlog_level: error\nmtps:\n  - protocol: WebSocket\n    listen: 127.0.0.1:%d\n"+
		"platform:\n  reboot_command: [sh, -c, 'exit 7']\nfactory:\n  controllers:\n    - endpoint_id: proto::platfail-ctl\n", dir, port)
	cfg := filepath.Join(dir, "agent.yaml")
	os.WriteFile(cfg, []byte(conf), 0o600)
	cmd := exec.Command(bin, "agent", "--config", cfg)
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer interrupt(cmd, 10*time.Second)
	lines := bufio.NewScanner(stdout)
	if !lines.Scan() || !strings.Contains(lines.Text(), "ready") {
		t.Fatalf("first line %q", lines.Text())
	}
	c := dialController(t, fmt.Sprintf("ws://127.0.0.1:%d/", port), "proto::platfail-ctl", "os::012345-PLATFAIL")
	operate(t, c, "Device.Reboot()", "")
	if !lines.Scan() || !strings.Contains(lines.Text(), "ready") {
		t.Fatalf("no ready line after the failed reboot command: %q", lines.Text())
	}
}
