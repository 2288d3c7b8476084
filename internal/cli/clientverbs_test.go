package cli_test

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// verbs returns the commands `usp help` lists.
func verbs(t *testing.T) []string {
	t.Helper()
	out, _, code := run(t, nil, "help")
	if code != 0 {
		t.Fatalf("usp help: status %d", code)
	}
	var names []string
	inList := false
	for line := range strings.SplitSeq(out, "\n") {
		switch {
		case line == "Commands:":
			inList = true
		case inList && strings.HasPrefix(line, "  "):
			names = append(names, strings.Fields(line)[0])
		case inList:
			inList = false
		}
	}
	if len(names) < 10 {
		t.Fatalf("commands %v from %q", names, out)
	}
	return names
}

// TestVerbHelp: `usp VERB --help` (and -h) prints the verb's usage to
// stdout and exits 0, for every verb; a flag the verb does not know still
// exits 2 with the usage on stderr.
func TestVerbHelp(t *testing.T) {
	for _, verb := range verbs(t) {
		t.Run(verb, func(t *testing.T) {
			for _, h := range []string{"--help", "-h"} {
				out, errs, code := run(t, nil, verb, h)
				if code != 0 || !strings.Contains(out, "Usage: usp "+verb) || errs != "" {
					t.Errorf("%s %s: status %d\nstdout: %s\nstderr: %s", verb, h, code, out, errs)
				}
			}
			out, errs, code := run(t, nil, verb, "--no-such-flag")
			if code != 2 || !strings.Contains(errs, "flag provided but not defined") || !strings.Contains(errs, "Usage: usp "+verb) || out != "" {
				t.Errorf("%s --no-such-flag: status %d\nstdout: %s\nstderr: %s", verb, code, out, errs)
			}
		})
	}
}

// TestConformanceSecondIDHelp: --second-id works over MQTT as well, and
// its help says so.
func TestConformanceSecondIDHelp(t *testing.T) {
	out, _, _ := run(t, nil, "conformance", "--help")
	i := strings.Index(out, "\n  -second-id ") // its own line, not --second-cert's mention
	if i < 0 {
		t.Fatalf("no -second-id in %s", out)
	}
	line, _, _ := strings.Cut(out[i+1:], "\n  -")
	if !strings.Contains(line, "mqtt") || strings.Contains(line, "(WebSocket and STOMP)") {
		t.Errorf("-second-id help: %q", line)
	}
}

// TestClientNoServer: with nothing to find, a client verb says which
// flags and variables name the server and the token.
func TestClientNoServer(t *testing.T) {
	empty := t.TempDir()
	t.Setenv("USP_SERVER", "")
	t.Setenv("USP_TOKEN", "")
	t.Setenv("USP_DATA", empty)
	_, errs, code := run(t, nil, "get", "Device.")
	for _, want := range []string{"--server", "USP_SERVER", "--data", "USP_DATA", "usp controller", "api.url"} {
		if !strings.Contains(errs, want) {
			t.Errorf("no server: %q does not name %s", errs, want)
		}
	}
	if code != 1 {
		t.Errorf("status %d", code)
	}
	if err := os.WriteFile(filepath.Join(empty, "api.url"), []byte("http://127.0.0.1:1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, errs, _ = run(t, nil, "get", "Device.")
	for _, want := range []string{"USP_TOKEN", "--data", "admin.token"} {
		if !strings.Contains(errs, want) {
			t.Errorf("no token: %q does not name %s", errs, want)
		}
	}
}

// startServer runs `usp ARGS...` until it prints "ready" and returns its
// output lines by first word, and stop, which sends SIGINT and checks that
// it exits cleanly; stop runs when the test ends if not before.
func startServer(t *testing.T, bin string, args ...string) (lines map[string]string, stop func()) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		switch err, inTime := interrupt(cmd, 10*time.Second); {
		case !inTime:
			t.Errorf("usp %s did not stop on SIGINT", args[0])
		case err != nil:
			t.Errorf("usp %s did not stop cleanly: %v", args[0], err)
		}
	}
	t.Cleanup(stop)
	lines = map[string]string{}
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), " ")
		lines[k] = v
		if k == "ready" {
			go func() {
				for sc.Scan() {
				}
			}()
			return lines, stop
		}
	}
	t.Fatalf("usp %s never ready: %v", args[0], lines)
	return nil, nil
}

// TestControllerDiscoveryFiles: `usp controller` publishes its API in its
// data directory as `usp up` does, so client verbs need neither
// USP_SERVER nor USP_TOKEN, and removes the address when it stops.
func TestControllerDiscoveryFiles(t *testing.T) {
	bin := buildUSP(t)
	data := t.TempDir()
	conf := filepath.Join(t.TempDir(), "controller.yaml")
	if err := os.WriteFile(conf, []byte("data: "+data+"\nhttp: 127.0.0.1:0\nwebsocket: 127.0.0.1:0\nlog_level: warn\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	lines, stop := startServer(t, bin, "controller", "--config", conf)
	b, err := os.ReadFile(filepath.Join(data, "api.url"))
	if err != nil || strings.TrimSpace(string(b)) != lines["api"] {
		t.Fatalf("api.url: %q %v, want %q", b, err, lines["api"])
	}
	t.Setenv("USP_SERVER", "")
	t.Setenv("USP_TOKEN", "")
	t.Setenv("USP_DATA", data)
	if out, errs, code := run(t, nil, "agents"); code != 0 {
		t.Errorf("usp agents against usp controller: status %d\n%s%s", code, out, errs)
	}
	stop()
	if _, err := os.Stat(filepath.Join(data, "api.url")); !os.IsNotExist(err) {
		t.Errorf("api.url left behind: %v", err)
	}
}

// TestClientVerbErrors drives the client verbs in-process against `usp
// up`: per-parameter errors are shown with path and code, --json exits as
// the plain output does, and a delete of nothing says so.
func TestClientVerbErrors(t *testing.T) {
	bin := buildUSP(t)
	data := t.TempDir()
	startServer(t, bin, "up", "--data", data, "--http", "127.0.0.1:0", "--ws", "127.0.0.1:0", "--mqtt", "127.0.0.1:0")
	t.Setenv("USP_SERVER", "")
	t.Setenv("USP_TOKEN", "")
	t.Setenv("USP_AGENT", "")
	t.Setenv("USP_DATA", data)
	const interval = "Device.LocalAgent.Controller.1.PeriodicNotifInterval"

	t.Run("param errors", func(t *testing.T) {
		for _, args := range [][]string{{"set", interval + "=abc"}, {"set", "--allow-partial", interval + "=abc"}} {
			out, errs, code := run(t, nil, args...)
			if code != 1 || !strings.Contains(errs, interval+": USP error 7011") {
				t.Errorf("%v: status %d\nstdout: %s\nstderr: %s", args, code, out, errs)
			}
		}
	})

	t.Run("json exit status", func(t *testing.T) {
		for _, args := range [][]string{
			{"get", "Device.Nope."},
			{"get", "Device.LocalAgent.EndpointID"},
			{"set", interval + "=abc"},
			{"set", "--allow-partial", interval + "=abc"},
			{"add", "Device.LocalAgent.Nope."},
			{"delete", "Device.LocalAgent.Nope.1."},
			{"instances", "Device.Nope."},
			{"supported", "Device.Nope."},
			{"operate", "Device.Nope()"},
			{"proto"},
			{"agents"},
		} {
			_, plainErr, plain := run(t, nil, args...)
			out, _, asJSON := run(t, nil, append([]string{args[0], "--json"}, args[1:]...)...)
			if plain != asJSON {
				t.Errorf("%v: status %d plain, %d with --json (%s; %s)", args, plain, asJSON, plainErr, out)
			}
		}
	})

	t.Run("delete nothing", func(t *testing.T) {
		out, errs, code := run(t, nil, "delete", "Device.LocalAgent.Subscription.999.")
		if code != 0 || !strings.Contains(out, "nothing deleted") {
			t.Errorf("status %d\nstdout: %q\nstderr: %s", code, out, errs)
		}
	})
}
