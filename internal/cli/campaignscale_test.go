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
	"syscall"
	"testing"
	"time"

	"github.com/uspkit/uspkit/controller"
	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/mtp/ws"
	"github.com/uspkit/uspkit/store/sqlite"
)

// campaignSize is 1,000 agents, or USP_CAMPAIGN_N (10000 for the figure
// in docs/perf.md).
func campaignSize() int {
	if n, err := strconv.Atoi(os.Getenv("USP_CAMPAIGN_N")); err == nil && n > 0 {
		return n
	}
	return 1000
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestCampaignScale runs a firmware campaign (Download() with AutoActivate,
// then the Boot!) over a fleet of `usp sim --firmware` agents in their own
// process, with the Controller on SQLite in this one, and reports the
// Controller's CPU time per agent upgraded: every request, notification,
// stored state change and event the campaign makes.
func TestCampaignScale(t *testing.T) {
	n := campaignSize()
	bin := buildUSP(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var c *controller.Controller
	srv, err := ws.Listen(ctx, "127.0.0.1:0", &ws.Options{EndpointID: "proto::load-ctl", PingInterval: 5 * time.Minute, MaxConns: -1, MaxConnsPerSource: -1,
		OnState: func(ctx context.Context, p mtp.Peer, s mtp.State, err error) {
			if c != nil {
				c.OnState("WebSocket")(ctx, p, s, err)
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "controller.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	c, err = controller.New(ctx, controller.Options{EndpointID: "proto::load-ctl", Store: db, Admission: controller.AdmitAll, RequestTimeout: 30 * time.Second,
		MTPs: []controller.MTP{{Protocol: "WebSocket", Transport: srv, Identity: controller.IdentityClaimed}}})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	defer func() { cancel(); <-done }()
	cmd := exec.Command(bin, "sim", "--n", strconv.Itoa(n), "--ws", "ws://"+srv.Addr().String()+"/usp", "--controller", "proto::load-ctl",
		"--firmware", "--firmware-version", "1", "--firmware-new-version", "2")
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	if line, err := bufio.NewReader(stdout).ReadString('\n'); err != nil || !strings.HasPrefix(line, "up ") {
		t.Fatalf("sim: %q %v", line, err)
	}
	for deadline := time.Now().Add(180 * time.Second); c.Stats().Online < n; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d agents online", c.Stats().Online, n)
		}
	}
	// Let first contact (DeviceInfo and supported data model reads) end.
	time.Sleep(2 * time.Second)
	ids := make([]string, n)
	for i := range ids {
		ids[i] = "os::012345-SIM" + strconv.Itoa(i)
	}
	cpu0, t0 := cpuTime(), time.Now()
	x, err := c.CreateCampaign(ctx, controller.CampaignSpec{Kind: controller.KindFirmware, Agents: ids, URL: "http://127.0.0.1:1/fw.bin", AutoActivate: true, Version: "2",
		Rollout: controller.Rollout{Canary: n / 100, Wave: n / 4, Concurrency: 200, MaxFailureRate: 0.01}})
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(time.Duration(n/10+60) * time.Second); ; time.Sleep(50 * time.Millisecond) {
		got, _ := c.Campaign(x.ID)
		if got.State == controller.CampaignCompleted {
			if got.Counts.Succeeded != n {
				t.Fatalf("counts %+v", got.Counts)
			}
			break
		}
		if got.State != controller.CampaignRunning || time.Now().After(deadline) {
			t.Fatalf("campaign %s %s: %+v", got.State, got.Reason, got.Counts)
		}
	}
	cpu, wall := cpuTime()-cpu0, time.Since(t0)
	msg := fmt.Sprintf("campaign over %d agents (SQLite, concurrency 200): %v wall, controller CPU %v, %.0f µs per agent upgraded, %.0f agents/s",
		n, wall.Round(time.Millisecond), cpu.Round(time.Millisecond), float64(cpu.Microseconds())/float64(n), float64(n)/wall.Seconds())
	t.Log(msg)
}
