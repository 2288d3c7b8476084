package cli_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// `usp tag`, `usp agents` with filters, `usp groups` and `usp jobs`
// against `usp up` (its SQLite store) and `usp sim` agents: a tagged
// agent is found by its tag, a dynamic group lists its members, a Get
// job over the group finishes with every agent's result, a Set the
// agents refuse exits 1 with the USP error per agent, and a finished job
// cannot be cancelled but is deleted.
func TestFleetCLI(t *testing.T) {
	const n = 6
	bin := buildUSP(t)
	data := t.TempDir()
	up := startUSP(t, bin, "up", "--lab", "--data", data, "--http", "127.0.0.1:0", "--ws", "127.0.0.1:0", "--mqtt", "127.0.0.1:0")
	ctlID := strings.Fields(up.lines["controller"])[0]
	wsURL := strings.Fields(up.lines["websocket"])[0]
	sim := exec.Command(bin, "sim", "--n", "6", "--ws", wsURL, "--controller", ctlID, "--prefix", "os::012345-FLEETCLI")
	sim.Stderr = os.Stderr
	if err := sim.Start(); err != nil {
		t.Fatal(err)
	}
	defer interrupt(sim, 10*time.Second)
	api := apiOf(t, up)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		_, body := api.call(t, "GET", "/api/v1/agents?online=true&q=FLEETCLI", nil)
		var list struct{ Total int }
		json.Unmarshal([]byte(body), &list)
		if list.Total == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d simulated agents online", list.Total, n)
		}
	}
	run := func(want int, args ...string) string {
		t.Helper()
		out, errs, code := uspRun(t, bin, data, args...)
		if code != want {
			t.Fatalf("usp %s: exit %d (want %d)\nstdout %s\nstderr %s", strings.Join(args, " "), code, want, out, errs)
		}
		return out + errs
	}

	if out := run(0, "tag", "os::012345-FLEETCLI3", "gold", "lab"); !strings.Contains(out, "os::012345-FLEETCLI3 tags=gold,lab") {
		t.Errorf("usp tag: %s", out)
	}
	for range 100 { // the index follows the registry closely
		if out := run(0, "agents", "--tag", "gold"); strings.Contains(out, "os::012345-FLEETCLI3") {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	out := run(0, "agents", "--tag", "gold")
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 1 || !strings.HasPrefix(lines[0], "os::012345-FLEETCLI3 online") || !strings.HasSuffix(lines[0], "tags=gold,lab") {
		t.Errorf("usp agents --tag gold: %q", out)
	}
	out = run(0, "agents", "--q", "FLEETCLI", "--sort", "id", "--order", "desc", "--limit", "2")
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 2 || !strings.HasPrefix(lines[0], "os::012345-FLEETCLI5 ") {
		t.Errorf("usp agents --order desc --limit 2: %q", out)
	}
	run(1, "agents", "--sort", "nonsense")

	out = run(0, "groups", "create", "--name", "cli fleet", "--q", "FLEETCLI")
	m := regexp.MustCompile(`group (\S+) created`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("usp groups create: %s", out)
	}
	group := m[1]
	if out := run(0, "groups"); !strings.Contains(out, group+` "cli fleet" filter {"q":"FLEETCLI"}`) {
		t.Errorf("usp groups: %s", out)
	}
	if out := run(0, "groups", "members", group); strings.Count(out, "os::012345-FLEETCLI") != n {
		t.Errorf("usp groups members: %s", out)
	}
	out = run(0, "groups", "create", "--id", "pair", "os::012345-FLEETCLI1", "os::012345-FLEETCLI2")
	if !strings.Contains(out, "group pair created: static, 2 agents") {
		t.Errorf("static group: %s", out)
	}

	out = run(0, "jobs", "start", "--group", group, "--concurrency", "2", "--wait", "get", "Device.DeviceInfo.SerialNumber")
	m = regexp.MustCompile(`job (\S+) get completed: 6/6 succeeded 0 failed`).FindStringSubmatch(out)
	if m == nil || strings.Count(out, " succeeded\n") != n {
		t.Fatalf("usp jobs start --wait: %s", out)
	}
	job := m[1]
	out = run(1, "jobs", "start", "--group", "pair", "--wait", "set", "Device.LocalAgent.X=1")
	if strings.Count(out, " failed 7001: ") != 2 || !strings.Contains(out, "agents failed: 2 of 2") {
		t.Errorf("refused set: %s", out)
	}
	out = run(0, "jobs")
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 2 || !strings.Contains(lines[1], job+" ") || !strings.Contains(lines[1], "get completed 6/6 succeeded") {
		t.Errorf("usp jobs: %s", out)
	}
	if out := run(0, "jobs", job); !strings.Contains(out, "os::012345-FLEETCLI0 succeeded") {
		t.Errorf("usp jobs ID: %s", out)
	}
	if out := run(1, "jobs", "cancel", job); !strings.Contains(out, "not allowed") {
		t.Errorf("cancelling a finished job: %s", out)
	}
	run(0, "jobs", "delete", job)
	run(1, "jobs", job)
	run(0, "groups", "delete", group)
	if out := run(0, "groups"); strings.Contains(out, group) {
		t.Errorf("deleted group listed: %s", out)
	}
}
