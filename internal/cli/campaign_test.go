package cli_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// `usp firmware upgrade --file` uploads an image to `usp up`'s file store
// and upgrades a group of `usp sim --firmware --fetch` agents, which fetch
// the image from the controller and check its SHA-256; progress comes as
// plain lines off a terminal, the exit status is 1 because one agent in
// ten fails, and `usp campaigns ID --json` has the exact counts. `usp
// software install --json` prints the final campaign.
func TestFirmwareUpgradeCLI(t *testing.T) {
	const n = 20
	bin := buildUSP(t)
	data := t.TempDir()
	up := startUSP(t, bin, "up", "--lab", "--data", data, "--http", "127.0.0.1:0", "--ws", "127.0.0.1:0", "--mqtt", "127.0.0.1:0")
	ctlID := strings.Fields(up.lines["controller"])[0]
	wsURL := strings.Fields(up.lines["websocket"])[0]
	sim := exec.Command(bin, "sim", "--n", strconv.Itoa(n), "--ws", wsURL, "--controller", ctlID, "--prefix", "os::012345-CLISIM",
		"--firmware", "--firmware-version", "3.0", "--firmware-new-version", "3.1", "--fail-fraction", "0.1", "--fetch")
	sim.Stderr = os.Stderr
	if err := sim.Start(); err != nil {
		t.Fatal(err)
	}
	defer interrupt(sim, 10*time.Second)
	api := apiOf(t, up)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		_, body := api.call(t, "GET", "/api/v1/agents?online=true&q=CLISIM", nil)
		var list struct{ Total int }
		json.Unmarshal([]byte(body), &list)
		if list.Total == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d simulated agents online", list.Total, n)
		}
	}
	image := filepath.Join(t.TempDir(), "fw-3.1.bin")
	if err := os.WriteFile(image, []byte(strings.Repeat("image 3.1 ", 5000)), 0o600); err != nil {
		t.Fatal(err)
	}

	out, errs, code := uspRun(t, bin, data, "firmware", "upgrade", "--file", image, "--activate", "--version", "3.1", "--group", "CLISIM",
		"--canary", "2", "--wave", "6", "--concurrency", "4")
	if code != 1 || !strings.Contains(errs, "2 of 20 agents failed") {
		t.Fatalf("exit %d, stderr %s, stdout %s", code, errs, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var id string
	succeeded, failed := 0, 0
	for _, l := range lines {
		f := strings.Fields(l)
		switch {
		case len(f) >= 2 && f[0] == "campaign" && id == "":
			id = strings.TrimSuffix(f[1], ":")
		case strings.HasSuffix(l, "succeeded 3.0 -> 3.1"):
			succeeded++
		case len(f) >= 2 && f[1] == "failed:":
			failed++
		}
	}
	if succeeded != 18 || failed != 2 || !strings.Contains(lines[len(lines)-1], "completed: 18 succeeded, 2 failed") || strings.Contains(out, "\x1b[") {
		t.Fatalf("%d succeeded, %d failed lines:\n%s", succeeded, failed, out)
	}
	out, errs, code = uspRun(t, bin, data, "campaigns", "--json", id)
	var x struct {
		State  string
		Counts struct{ Total, Succeeded, Failed, Pending int }
		Spec   struct {
			CheckSum string `json:"checksum"`
		}
	}
	if err := json.Unmarshal([]byte(out), &x); err != nil || code != 0 {
		t.Fatalf("campaigns %s: %d %v %s %s", id, code, err, out, errs)
	}
	if x.State != "completed" || x.Counts.Total != n || x.Counts.Succeeded != 18 || x.Counts.Failed != 2 || len(x.Spec.CheckSum) != 64 {
		t.Fatalf("campaign %+v", x)
	}

	out, errs, code = uspRun(t, bin, data, "software", "install", "--url", "http://127.0.0.1:1/du.tar.gz", "--json",
		"os::012345-CLISIM0", "os::012345-CLISIM9")
	if code != 1 || json.Unmarshal([]byte(out), &x) != nil || x.Counts.Succeeded != 1 || x.Counts.Failed != 1 {
		t.Fatalf("software install: exit %d, %s %s", code, out, errs)
	}
	// On a terminal the progress is one display redrawn in place: the
	// lines cleared and drawn again, the bar with the final counts.
	drawn, code := uspRunTerminal(t, bin, data, "software", "install", "--url", "http://127.0.0.1:1/du.tar.gz", "os::012345-CLISIM0", "os::012345-CLISIM9")
	if code != 1 || !strings.Contains(drawn, "\x1b[2K") || !strings.Contains(drawn, "] 2/2  succeeded 1  failed 1") ||
		!strings.Contains(drawn, "["+strings.Repeat("#", 40)+"]") {
		t.Fatalf("software install on a terminal: exit %d, drew %q", code, drawn)
	}
	if _, errs, code := uspRun(t, bin, data, "firmware", "upgrade", "--url", "http://x/", "--checksum", "nocolon", "os::012345-CLISIM0"); code != 2 {
		t.Fatalf("bad --checksum: exit %d %s", code, errs)
	}
	if _, errs, code := uspRun(t, bin, data, "firmware", "upgrade", "--url", "http://x/"); code != 2 {
		t.Fatalf("no agents: exit %d %s", code, errs)
	}
}
