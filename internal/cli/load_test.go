package cli_test

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uspkit/uspkit/controller"
	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/mtp/ws"
	"github.com/uspkit/uspkit/wire"
)

// TestLoadWebSocket connects a fleet of light agents (`usp sim`, its own
// process) to a Controller over WebSocket and measures request round
// trips. USP_LOAD=1 uses 10,000 agents; the default is 1,000.
func TestLoadWebSocket(t *testing.T) {
	n, requests := 1000, 5000
	if os.Getenv("USP_LOAD") == "1" {
		n, requests = 10000, 50000
	}
	bin := buildUSP(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var c *controller.Controller
	srv, err := ws.Listen(ctx, "127.0.0.1:0", &ws.Options{EndpointID: "proto::load-ctl", PingInterval: 5 * time.Minute,
		OnState: func(ctx context.Context, p mtp.Peer, s mtp.State, err error) {
			if c != nil {
				c.OnState("WebSocket")(ctx, p, s, err)
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	c, err = controller.New(ctx, controller.Options{EndpointID: "proto::load-ctl", MTPs: []controller.MTP{{Protocol: "WebSocket", Transport: srv}},
		RequestTimeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	defer func() { cancel(); <-done }()
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)

	cmd := exec.Command(bin, "sim", "--n", strconv.Itoa(n), "--ws", "ws://"+srv.Addr().String()+"/usp", "--controller", "proto::load-ctl")
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "up ") {
		t.Fatalf("sim: %q %v", line, err)
	}
	for deadline := time.Now().Add(120 * time.Second); c.Stats().Online < n; {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d agents online", c.Stats().Online, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
	connected := time.Since(start)
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	perAgentCtl := float64(after.HeapInuse+after.StackInuse-before.HeapInuse-before.StackInuse) / float64(n)
	simRSS := rss(cmd.Process.Pid)

	lat := make([]time.Duration, requests)
	var wg sync.WaitGroup
	var failed int64
	var mu sync.Mutex
	work := make(chan int)
	t0 := time.Now()
	for range 256 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				id := fmt.Sprintf("os::012345-SIM%d", rand.IntN(n))
				s := time.Now()
				m, err := c.Do(ctx, id, &wire.Request{ReqType: &wire.Request_Get{Get: &wire.Get{ParamPaths: []string{"Device.DeviceInfo.SerialNumber"}}}})
				lat[i] = time.Since(s)
				if err != nil || m.GetBody().GetResponse().GetGetResp() == nil {
					mu.Lock()
					failed++
					mu.Unlock()
				}
			}
		}()
	}
	for i := range requests {
		work <- i
	}
	close(work)
	wg.Wait()
	elapsed := time.Since(t0)
	slices.Sort(lat)
	if failed > 0 {
		t.Errorf("%d of %d requests failed", failed, requests)
	}
	t.Logf("WebSocket: %d agents connected in %v; %d Gets in %v = %.0f round trips/s; p50 %v, p99 %v; controller memory %.1f KiB per agent; sim process RSS %.1f KiB per agent",
		n, connected.Round(time.Millisecond), requests, elapsed.Round(time.Millisecond), float64(requests)/elapsed.Seconds(),
		lat[len(lat)/2].Round(time.Microsecond), lat[len(lat)*99/100].Round(time.Microsecond), perAgentCtl/1024, float64(simRSS)/float64(n))
}

// rss returns a process's resident set in KiB.
func rss(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			v, _ := strconv.Atoi(strings.Fields(rest)[0])
			return v
		}
	}
	return 0
}
