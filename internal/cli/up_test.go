package cli_test

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestUp starts `usp up` as a process on random ports and drives every
// client verb through it, error paths included.
func TestUp(t *testing.T) {
	bin := buildUSP(t)
	data := t.TempDir()
	cmd := exec.Command(bin, "up", "--data", data, "--http", "127.0.0.1:0", "--ws", "127.0.0.1:0", "--mqtt", "127.0.0.1:0")
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		switch err, inTime := interrupt(cmd, 10*time.Second); {
		case !inTime:
			t.Error("usp up did not stop on Ctrl-C")
		case err != nil:
			t.Errorf("usp up did not stop cleanly on Ctrl-C: %v", err)
		}
	}()
	lines := map[string]string{}
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), " ")
		lines[k] = v
		if k == "ready" {
			break
		}
	}
	for _, k := range []string{"controller", "api", "websocket", "mqtt", "agent", "token", "ready"} {
		if _, ok := lines[k]; !ok {
			t.Fatalf("no %q line: %v", k, lines)
		}
	}
	if !strings.HasPrefix(lines["api"], "http://127.0.0.1:") || strings.HasSuffix(lines["api"], ":0") {
		t.Errorf("api line %q", lines["api"])
	}
	if fi, err := os.Stat(strings.Fields(lines["token"])[0]); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("token file: %v %v", fi, err)
	}
	agentID := strings.Fields(lines["agent"])[0]
	usp := func(args ...string) (string, string, int) {
		t.Helper()
		return uspRun(t, bin, data, args...)
	}
	check := func(name string, ok bool, out, errs string) {
		t.Helper()
		if !ok {
			t.Errorf("%s:\nstdout: %s\nstderr: %s", name, out, errs)
		}
	}
	out, errs, code := usp("agents")
	check("agents", code == 0 && strings.Contains(out, agentID+" online"), out, errs)
	out, errs, code = usp("get", "Device.DeviceInfo.SerialNumber", "Device.LocalAgent.EndpointID")
	check("get", code == 0 && strings.Contains(out, "Device.LocalAgent.EndpointID = "+agentID) && strings.Contains(out, "Device.DeviceInfo.SerialNumber = "), out, errs)
	out, errs, code = usp("get", "Device.Nope.")
	check("get bad path", code != 0 && strings.Contains(errs, "7026"), out, errs)
	out, errs, code = usp("get", "--json", "Device.LocalAgent.SoftwareVersion")
	check("get --json", code == 0 && strings.Contains(out, `"resolved_path"`), out, errs)
	out, errs, code = usp("add", "Device.LocalAgent.Subscription.", "NotifType=ValueChange", "ReferenceList=Device.LocalAgent.Controller.1.PeriodicNotifInterval", "Enable=true", "NotifRetry=true", "ID=up")
	check("add", code == 0 && strings.HasPrefix(out, "Device.LocalAgent.Subscription.") && strings.Contains(out, "ID = up"), out, errs)
	sub := strings.TrimSpace(strings.SplitN(out, "\n", 2)[0])
	out, errs, code = usp("set", "Device.LocalAgent.Controller.1.PeriodicNotifInterval=600")
	check("set", code == 0 && strings.Contains(out, "Device.LocalAgent.Controller.1.PeriodicNotifInterval = 600"), out, errs)
	out, errs, code = usp("set", "Device.LocalAgent.Controller.1.PeriodicNotifInterval=0")
	check("set invalid", code != 0 && strings.Contains(errs, "7012"), out, errs)
	out, errs, code = usp("instances", "Device.LocalAgent.Subscription.")
	check("instances", code == 0 && strings.Contains(out, sub+" "), out, errs)
	out, errs, code = usp("supported", "Device.LocalAgent.Subscription.")
	check("supported", code == 0 && strings.Contains(out, "Device.LocalAgent.Subscription.{i}.") && strings.Contains(out, "NotifType string"), out, errs)
	out, errs, code = usp("supported", "Device.Nope.")
	check("supported bad path", code != 0 && strings.Contains(errs, "7026"), out, errs)
	out, errs, code = usp("proto")
	check("proto", code == 0 && strings.Contains(out, "1.3"), out, errs)
	out, errs, code = usp("operate", "Device.SelfTestDiagnostics()")
	check("operate async", code == 0 && strings.Contains(out, "Device.LocalAgent.Request."), out, errs)
	out, errs, code = usp("operate", "Device.LocalAgent.Controller.1.SendOnBoardRequest()")
	check("operate sync", code == 0 && strings.Contains(out, "done"), out, errs)
	out, errs, code = usp("operate", "Device.Nope()")
	check("operate bad path", code != 0 && strings.Contains(errs, "7026"), out, errs)
	out, errs, code = usp("events")
	check("events", code == 0 && strings.Contains(out, " notify ") && strings.Contains(out, "value_change"), out, errs)
	out, errs, code = usp("delete", sub)
	check("delete", code == 0 && strings.Contains(out, "deleted "+sub), out, errs)
	out, errs, code = usp("delete", "Device.LocalAgent.Nope.1.")
	check("delete bad path", code != 0 && strings.Contains(errs, "7026"), out, errs)
	// events --follow streams until interrupted.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	follow := exec.CommandContext(ctx, bin, "events", "--follow")
	follow.Env = append(os.Environ(), "USP_DATA="+data)
	var fout bytes.Buffer
	follow.Stdout = &fout
	follow.Start()
	time.Sleep(500 * time.Millisecond)
	usp("operate", "Device.LocalAgent.Controller.1.SendOnBoardRequest()")
	follow.Wait()
	if !strings.Contains(fout.String(), " notify ") {
		t.Errorf("events --follow printed %q", fout.String())
	}
	out, errs, code = usp("get", "--agent", "os::012345-NOBODY", "Device.")
	check("unknown agent", code != 0 && strings.Contains(errs, "unknown agent"), out, errs)
}

// TestUpAgain: a second `usp up` on the same data directory, with a new
// broker port and new broker passwords, reaches its agent again (the agent's
// stored Device.MQTT.Client is pointed at this run's broker).
func TestUpAgain(t *testing.T) {
	bin := buildUSP(t)
	data := t.TempDir()
	for run := range 2 {
		cmd := exec.Command(bin, "up", "--data", data, "--http", "127.0.0.1:0", "--ws", "127.0.0.1:0", "--mqtt", "127.0.0.1:0")
		stdout, _ := cmd.StdoutPipe()
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		ready := false
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if sc.Text() == "ready" {
				ready = true
				break
			}
		}
		cmd.Process.Signal(syscall.SIGINT)
		if err := cmd.Wait(); err != nil {
			t.Errorf("run %d: %v", run+1, err)
		}
		if !ready {
			t.Fatalf("run %d: usp up never ready", run+1)
		}
	}
}
