package cli_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// `usp firmware upgrade` and `usp software install` through `usp up`
// against a real `usp agent` with firmware banks and a process execution
// environment: the image (build 2.0.0-b, gzip-compressed) and the
// Deployment Unit are uploaded to the controller's file store and fetched
// by the agent from there; the agent restarts on the new bank, its Boot!
// with FirmwareUpdated true ends the campaign, and SoftwareVersion is the
// new one; the DU is installed.
func TestCampaignAgainstAgent(t *testing.T) {
	binA, binB := buildVersioned(t, "1.0.0-a"), buildVersioned(t, "2.0.0-b")
	dir := t.TempDir()
	image := filepath.Join(dir, "usp-2.0.0-b.gz")
	du := filepath.Join(dir, "hello.tgz")
	if err := os.WriteFile(image, gzipFile(t, binB), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(du, smmHelloDU(t), 0o600); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "ctl")
	up := startUSP(t, binA, "up", "--lab", "--data", data, "--http", "127.0.0.1:0", "--ws", "127.0.0.1:0", "--mqtt", "127.0.0.1:0")
	ctlID := strings.Fields(up.lines["controller"])[0]
	wsURL := strings.Fields(up.lines["websocket"])[0]
	const id = "os::012345-CAMPAIGN"
	conf := fmt.Sprintf("endpoint_id: %s\ndata: %s\nlog_level: error\nmtps:\n  - protocol: WebSocket\n    url: %s\n"+
		"factory:\n  controllers:\n    - endpoint_id: %s\n      mtps:\n        - protocol: WebSocket\n"+
		"firmware:\n  confirm_timeout: 20s\nsoftware_modules:\n  exec_envs: [process]\n  stop_timeout: 3s\n", id, filepath.Join(dir, "agent"), wsURL, ctlID)
	cfg := filepath.Join(dir, "agent.yaml")
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	agent := startSMMAgent(t, binA, cfg)
	defer interrupt(agent, 10*time.Second)
	api := apiOf(t, up)
	api.waitOnline(t, id, 30*time.Second)

	out, errs, code := uspRun(t, binA, data, "firmware", "upgrade", "--json", "--file", image, "--activate", "--version", "2.0.0-b", "--timeout", "2m", id)
	var x struct {
		State   string
		Counts  struct{ Succeeded, Failed int }
		Targets []struct {
			FromVersion string `json:"from_version"`
			ToVersion   string `json:"to_version"`
		} `json:"targets"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &x) != nil || x.State != "completed" || x.Counts.Succeeded != 1 {
		t.Fatalf("firmware upgrade: exit %d %s %s", code, out, errs)
	}
	if tg := x.Targets[0]; tg.FromVersion != "1.0.0-a" || tg.ToVersion != "2.0.0-b" {
		t.Fatalf("target %+v", tg)
	}
	api.usp(t, id, "get", map[string]any{"paths": []string{"Device.DeviceInfo.SoftwareVersion"}}, `"2.0.0-b"`)

	out, errs, code = uspRun(t, binA, data, "software", "install", "--json", "--file", du, "--ee", "Device.SoftwareModules.ExecEnv.1.", id)
	if code != 0 || json.Unmarshal([]byte(out), &x) != nil || x.State != "completed" || x.Counts.Succeeded != 1 {
		t.Fatalf("software install: exit %d %s %s", code, out, errs)
	}
	api.usp(t, id, "get", map[string]any{"paths": []string{"Device.SoftwareModules.DeploymentUnit.1.Name"}}, `"hello"`)
}
