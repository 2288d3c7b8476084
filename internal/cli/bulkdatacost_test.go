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
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestBulkDataAgentCost measures `usp agent` with 10 Bulk Data profiles
// of 200 parameters each reporting over HTTP to `usp up`'s collector:
// CPU time and RSS of the agent process, before the profiles and while
// they report. The reporting interval is 1 s (60 times the rate of a
// 60 s interval, to make the cost measurable) and the run lasts
// USP_BULK_COST_SECONDS (default 20). Set USP_BULK_COST=1 to run it.
func TestBulkDataAgentCost(t *testing.T) {
	if os.Getenv("USP_BULK_COST") != "1" {
		t.Skip("SKIP: a measurement for docs/perf.md; set USP_BULK_COST=1")
	}
	secs := 20
	if n, err := strconv.Atoi(os.Getenv("USP_BULK_COST_SECONDS")); err == nil && n > 0 {
		secs = n
	}
	bin := buildUSP(t)
	data := t.TempDir()
	lines, _ := startServer(t, bin, "up", "--lab", "--data", data, "--http", "127.0.0.1:0", "--ws", "127.0.0.1:0", "--mqtt", "127.0.0.1:0")
	ctrlID, api := lines["controller"], lines["api"]
	wsURL := lines["websocket"]
	if !strings.HasPrefix(wsURL, "ws") {
		wsURL = "ws://" + wsURL + "/usp"
	}
	token, _ := os.ReadFile(strings.Fields(lines["token"])[0])
	const agentID = "os::012345-BULKCOST"
	dir := t.TempDir()
	conf := fmt.Sprintf("endpoint_id: %s\ndata: %s\nlog_level: error\nmtps:\n  - protocol: WebSocket\n    url: %s\n"+
		"factory:\n  controllers:\n    - endpoint_id: %s\n      mtps:\n        - protocol: WebSocket\n"+
		"bulk_data:\n  min_reporting_interval: 1\n", agentID, dir, wsURL, ctrlID)
	cfg := filepath.Join(dir, "agent.yaml")
	os.WriteFile(cfg, []byte(conf), 0o600)
	agent := exec.Command(bin, "agent", "--config", cfg)
	agent.Stderr = os.Stderr
	if err := agent.Start(); err != nil {
		t.Fatal(err)
	}
	defer interrupt(agent, 10*time.Second)
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
	var params []string
	for deadline := time.Now().Add(15 * time.Second); len(params) < 200 && time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		code, b := rest("POST", base+"/get", `{"paths":["Device."]}`)
		if code != 200 {
			continue
		}
		var r struct {
			Body struct {
				Response struct {
					GetResp struct {
						ReqPathResults []struct {
							ResolvedPathResults []struct {
								ResolvedPath string            `json:"resolved_path"`
								ResultParams map[string]string `json:"result_params"`
							} `json:"resolved_path_results"`
						} `json:"req_path_results"`
					} `json:"get_resp"`
				} `json:"response"`
			} `json:"body"`
		}
		json.Unmarshal(b, &r)
		params = params[:0]
		for _, rp := range r.Body.Response.GetResp.ReqPathResults {
			for _, res := range rp.ResolvedPathResults {
				for k := range res.ResultParams {
					params = append(params, res.ResolvedPath+k)
				}
			}
		}
	}
	if len(params) < 200 {
		t.Fatalf("the agent has %d parameters, want 200", len(params))
	}
	slices.Sort(params)
	params = params[:200]
	pid := agent.Process.Pid
	measure := func(d time.Duration) (cpu float64, rss int) {
		c0 := cpuSeconds(t, pid)
		time.Sleep(d)
		return (cpuSeconds(t, pid) - c0) / d.Seconds(), rssKiB(t, pid)
	}
	idleCPU, idleRSS := measure(5 * time.Second)
	refs, _ := json.Marshal(params)
	for i := range 10 {
		body := fmt.Sprintf(`{"name":"cost%d","interval":1,"encoding":"%s","params":%s}`, i, []string{"JSON", "CSV"}[i%2], refs)
		if code, b := rest("POST", base+"/bulkdata", body); code != 200 {
			t.Fatalf("profile %d: %d %s", i, code, b)
		}
	}
	time.Sleep(3 * time.Second)
	cpu, rss := measure(time.Duration(secs) * time.Second)
	_, m := rest("GET", "/metrics", "")
	var reports string
	for l := range strings.SplitSeq(string(m), "\n") {
		if strings.HasPrefix(l, "usp_bulkdata_reports_total ") {
			reports = strings.Fields(l)[1]
		}
	}
	t.Logf("usp agent, 10 profiles × 200 parameters at 1 s (5 JSON, 5 CSV, HTTP): CPU %.1f%% of a core (idle %.1f%%), RSS %d KiB (idle %d KiB); %s reports stored",
		cpu*100, idleCPU*100, rss, idleRSS, reports)
}

func cpuSeconds(t *testing.T, pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	u, _ := strconv.ParseFloat(f[11], 64)
	s, _ := strconv.ParseFloat(f[12], 64)
	return (u + s) / 100 // USER_HZ
}

func rssKiB(t *testing.T, pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for l := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			n, _ := strconv.Atoi(strings.Fields(v)[0])
			return n
		}
	}
	return 0
}
