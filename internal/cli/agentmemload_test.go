//go:build linux

package cli_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uspkit/uspkit/internal/agentbench"
	"github.com/uspkit/uspkit/internal/testenv"
)

// procRSS is a process's VmRSS, RssAnon and RssFile in KiB, from
// /proc/PID/status.
type procRSS struct{ total, anon, file int }

func readRSS(pid int) (procRSS, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return procRSS{}, err
	}
	var r procRSS
	for line := range strings.SplitSeq(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok || len(strings.Fields(v)) == 0 {
			continue
		}
		n, _ := strconv.Atoi(strings.Fields(v)[0])
		switch k {
		case "VmRSS":
			r.total = n
		case "RssAnon":
			r.anon = n
		case "RssFile":
			r.file = n
		}
	}
	return r, nil
}

func (r procRSS) String() string {
	return fmt.Sprintf("%d KiB (anon %d, file %d)", r.total, r.anon, r.file)
}

// What TestAgentRSSAfterLoad holds `usp agent` and `usp-agent` to
// (agentmem.go, docs/perf.md "Memory after a load"):
const (
	// startSettle: the release at the end of start-up comes about 2 s
	// after the Agent is ready.
	startSettle = 6 * time.Second
	// afterLoad: the release after activity comes within 8 s of the last
	// request, 3 s after a load longer than 5 s.
	afterLoad = 10 * time.Second
	// fileSlackKiB is what the executable's resident pages may exceed
	// their idle figure by, beyond 10%, once released after the load.
	fileSlackKiB = 512
	// anonGrowthKiB bounds the anonymous memory a load leaves: the Go
	// runtime's metadata sized by the heap's peak, heap spans fragmented
	// by the burst and the caches it filled (about 4 MB measured).
	anonGrowthKiB = 6 * 1024
)

// TestAgentRSSAfterLoad runs `usp agent` and `usp-agent` with an MQTT MTP
// on mosquitto, measures their RSS once start-up is released, drives every
// `usp bench` workload at 1, 8 and 64 in flight through them (a bounded
// load), and checks that within afterLoad of the last request the
// executable's pages are back within 10% of idle and the anonymous memory
// within anonGrowthKiB of it. With USP_RSS_GOAL=1 it also asks for the
// whole VmRSS within 10% of idle.
func TestAgentRSSAfterLoad(t *testing.T) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skipf("no /proc/self/status: %v", err)
	}
	mosq := testenv.StartMosquitto(t)
	dir := t.TempDir()
	var (
		wg   sync.WaitGroup
		errs [2]error
		bins = [2]string{filepath.Join(dir, "usp"), filepath.Join(dir, "usp-agent")}
	)
	for i, pkg := range []string{"../../cmd/usp", "../../cmd/usp-agent"} {
		wg.Go(func() {
			if out, err := exec.Command("go", "build", "-o", bins[i], pkg).CombinedOutput(); err != nil {
				errs[i] = fmt.Errorf("build %s: %v\n%s", pkg, err, out)
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	type agent struct {
		name, id, topic string
		cmd             *exec.Cmd
		idle            procRSS
	}
	agents := []*agent{
		{name: "usp agent", id: "os::012345-MEM1", topic: "usp/agent/mem1"},
		{name: "usp-agent", id: "os::012345-MEM2", topic: "usp/agent/mem2"},
	}
	for i, a := range agents {
		data := filepath.Join(dir, fmt.Sprintf("data%d", i))
		conf := fmt.Sprintf(`endpoint_id: %s
data: %s
log_level: warn
mtps:
  - protocol: MQTT
    url: tcp://%s
    mqtt_version: "5"
    topic: %s
    controller_topic: usp/controller/agentbench
factory:
  controllers:
    - endpoint_id: proto::agentbench
      mtps:
        - protocol: MQTT
          topic: usp/controller/agentbench
`, a.id, data, mosq.Plain, a.topic)
		cfg := filepath.Join(dir, fmt.Sprintf("agent%d.yaml", i))
		if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
			t.Fatal(err)
		}
		args := []string{"--config", cfg}
		if i == 0 {
			args = append([]string{"agent"}, args...)
		}
		a.cmd = exec.Command(bins[i], args...)
		stdout, _ := a.cmd.StdoutPipe()
		a.cmd.Stderr = os.Stderr
		if err := a.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer interrupt(a.cmd, 10*time.Second)
		line, err := bufio.NewReader(stdout).ReadString('\n')
		if err != nil || !strings.Contains(line, "ready") {
			t.Fatalf("%s: first line %q: %v", a.name, line, err)
		}
	}
	time.Sleep(startSettle)
	var targets []agentbench.Target
	for _, a := range agents {
		var err error
		if a.idle, err = readRSS(a.cmd.Process.Pid); err != nil {
			t.Fatal(err)
		}
		targets = append(targets, agentbench.Target{Name: a.name, EndpointID: a.id, PID: a.cmd.Process.Pid,
			MQTT: &agentbench.MQTTTarget{URL: "tcp://" + mosq.Plain, AgentTopic: a.topic}})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rep, err := agentbench.Run(ctx, targets, &agentbench.Options{Requests: 100, Duration: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	end := time.Now()
	for _, r := range rep.Results {
		if r.Errors > 0 || r.Requests == 0 {
			t.Errorf("%s %s at %d in flight: %d answered, %d errors (%s)", r.Target, r.Workload, r.InFlight, r.Requests, r.Errors, r.FirstErr)
		}
	}
	goal := os.Getenv("USP_RSS_GOAL") == "1"
	for _, a := range agents {
		peak := rep.AfterRSS[a.name]
		var after procRSS
		var released time.Duration
		for deadline := end.Add(afterLoad); ; time.Sleep(250 * time.Millisecond) {
			if after, err = readRSS(a.cmd.Process.Pid); err != nil {
				t.Fatal(err)
			}
			if after.file*10 <= a.idle.file*11+fileSlackKiB*10 && (!goal || after.total*10 <= a.idle.total*11) {
				released = time.Since(end)
				break
			}
			if time.Now().After(deadline) {
				break
			}
		}
		t.Logf("%s: idle %v; %d KiB a second after the load; %v after %v", a.name, a.idle, peak, after, released.Round(100*time.Millisecond))
		if released == 0 {
			t.Errorf("%s: %v %v after the load, idle %v: not within 10%% of idle", a.name, after, afterLoad, a.idle)
			continue
		}
		if after.anon > a.idle.anon+anonGrowthKiB {
			t.Errorf("%s: anonymous memory %d KiB after the load, idle %d KiB: grew more than %d KiB", a.name, after.anon, a.idle.anon, anonGrowthKiB)
		}
	}
}
