package cli_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestBulkDataProcesses: `usp agent` with a bulk_data section reports to
// `usp up`'s controller: an HTTP profile configured through the REST API
// posts to the collector with the credentials the API gave it, a
// USPEventNotif profile delivers Push! events over USP, and the values
// of both come back from the telemetry query and /metrics.
func TestBulkDataProcesses(t *testing.T) {
	bin := buildUSP(t)
	data := t.TempDir()
	lines, _ := startServer(t, bin, "up", "--lab", "--data", data, "--http", "127.0.0.1:0", "--ws", "127.0.0.1:0", "--mqtt", "127.0.0.1:0")
	ctrlID, api := lines["controller"], lines["api"]
	wsURL := lines["websocket"]
	if !strings.HasPrefix(wsURL, "ws") {
		wsURL = "ws://" + wsURL + "/usp"
	}
	token, err := os.ReadFile(strings.Fields(lines["token"])[0])
	if err != nil {
		t.Fatal(err)
	}
	const agentID = "os::012345-BULKDATA1"
	dir := t.TempDir()
	conf := fmt.Sprintf("endpoint_id: %s\ndata: %s\nlog_level: warn\nmtps:\n  - protocol: WebSocket\n    url: %s\n"+
		"factory:\n  controllers:\n    - endpoint_id: %s\n      mtps:\n        - protocol: WebSocket\n"+
		"bulk_data:\n  min_reporting_interval: 1\n", agentID, dir, wsURL, ctrlID)
	cfg := filepath.Join(dir, "agent.yaml")
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	agent := exec.Command(bin, "agent", "--config", cfg)
	agent.Stderr = os.Stderr
	if err := agent.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err, inTime := interrupt(agent, 10*time.Second); !inTime || err != nil {
			t.Errorf("usp agent did not stop cleanly: %v", err)
		}
	}()
	rest := func(method, path, body string) (int, []byte) {
		t.Helper()
		req, _ := http.NewRequest(method, api+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	base := "/api/v1/agents/" + url.PathEscape(agentID)
	deadline := time.Now().Add(15 * time.Second)
	for {
		code, b := rest("GET", base, "")
		if code == 200 && strings.Contains(string(b), `"online": true`) || code == 200 && strings.Contains(string(b), `"online":true`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("agent not online: %d %s", code, b)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, body := range []string{
		`{"name":"http","interval":1,"encoding":"CSV","params":["Device.DeviceInfo.UpTime"]}`,
		`{"name":"push","interval":1,"protocol":"USPEventNotif","params":["Device.LocalAgent.UpTime"]}`,
	} {
		if code, b := rest("POST", base+"/bulkdata", body); code != 200 {
			t.Fatalf("POST bulkdata %s: %d %s", body, code, b)
		}
	}
	for _, param := range []string{"Device.DeviceInfo.UpTime", "Device.LocalAgent.UpTime"} {
		var got struct {
			Points []struct {
				V *float64 `json:"v"`
			}
		}
		deadline := time.Now().Add(10 * time.Second)
		for len(got.Points) < 2 && time.Now().Before(deadline) {
			time.Sleep(200 * time.Millisecond)
			code, b := rest("GET", base+"/telemetry?param="+url.QueryEscape(param), "")
			if code != 200 || json.Unmarshal(b, &got) != nil {
				t.Fatalf("telemetry %s: %d %s", param, code, b)
			}
		}
		if len(got.Points) < 2 || got.Points[0].V == nil {
			t.Errorf("%s: %d points %+v", param, len(got.Points), got.Points)
		}
	}
	// usp sim's agents report to the same collector with the passwords
	// derived from the controller's key.
	simCmd := exec.Command(bin, "sim", "-n", "5", "--ws", wsURL, "--controller", ctrlID, "--prefix", "os::012345-BDSIM",
		"--bulkdata", api, "--bulkdata-key", filepath.Join(data, "bulkdata.key"), "--bulkdata-interval", "500ms", "--bulkdata-encoding", "CSV")
	var simOut strings.Builder
	simCmd.Stdout, simCmd.Stderr = &simOut, os.Stderr
	if err := simCmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second)
	if err, inTime := interrupt(simCmd, 10*time.Second); !inTime || err != nil {
		t.Errorf("usp sim did not stop cleanly: %v", err)
	}
	if !strings.Contains(simOut.String(), "(0 failed)") || strings.Contains(simOut.String(), "bulkdata 0 reports") {
		t.Errorf("usp sim: %s", simOut.String())
	}
	code, b := rest("GET", base[:len("/api/v1/agents/")]+url.PathEscape("os::012345-BDSIM0")+"/telemetry?param=Device.Sim.Stats.1.BytesSent", "")
	if code != 200 || !strings.Contains(string(b), `"v"`) {
		t.Errorf("simulated agent's telemetry: %d %s", code, b)
	}
	code, b = rest("GET", "/metrics", "")
	if code != 200 || !strings.Contains(string(b), "usp_bulkdata_reports_total ") || strings.Contains(string(b), "usp_bulkdata_reports_total 0\n") {
		t.Errorf("metrics: %d %s", code, b)
	}
}
