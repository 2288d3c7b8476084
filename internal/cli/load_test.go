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
	"sync/atomic"
	"testing"
	"time"

	"github.com/uspkit/uspkit/broker"
	"github.com/uspkit/uspkit/controller"
	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/mtp/mqtt"
	"github.com/uspkit/uspkit/mtp/ws"
	"github.com/uspkit/uspkit/wire"
)

// loadSize is 1,000 agents and 5,000 requests, or 10,000 and 50,000 with
// USP_LOAD=1.
func loadSize() (agents, requests int) {
	if os.Getenv("USP_LOAD") == "1" {
		return 10000, 50000
	}
	if n, err := strconv.Atoi(os.Getenv("USP_LOAD_N")); err == nil && n > 0 {
		return n, 5 * n
	}
	return 1000, 5000
}

// TestLoadWebSocket connects a fleet of light agents (`usp sim`, its own
// process) to a Controller over WebSocket and measures request round
// trips.
func TestLoadWebSocket(t *testing.T) {
	n, requests := loadSize()
	bin := buildUSP(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var c *controller.Controller
	// The whole fleet connects from 127.0.0.1: no per-source cap.
	srv, err := ws.Listen(ctx, "127.0.0.1:0", &ws.Options{EndpointID: "proto::load-ctl", PingInterval: 5 * time.Minute,
		MaxConns: -1, MaxConnsPerSource: -1,
		OnState: func(ctx context.Context, p mtp.Peer, s mtp.State, err error) {
			if c != nil {
				c.OnState("WebSocket")(ctx, p, s, err)
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	c = loadController(t, ctx, controller.MTP{Protocol: "WebSocket", Transport: srv})
	measureLoad(t, c, "WebSocket", n, requests, exec.Command(bin, "sim", "--n", strconv.Itoa(n), "--ws", "ws://"+srv.Addr().String()+"/usp", "--controller", "proto::load-ctl"))
}

// TestLoadMQTT does the same through the embedded MQTT broker, once with
// MQTT 5.0 and once with MQTT 3.1.1 on every connection, in the same run.
func TestLoadMQTT(t *testing.T) {
	n, requests := loadSize()
	bin := buildUSP(t)
	for _, v := range []mqtt.Version{mqtt.V5, mqtt.V311} {
		name := map[mqtt.Version]string{mqtt.V5: "v5", mqtt.V311: "v311"}[v]
		t.Run(name, func(t *testing.T) { loadMQTT(t, bin, v, n, requests) })
	}
}

func loadMQTT(t *testing.T, bin string, v mqtt.Version, n, requests int) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// The agents share one account, so their topic pattern has the
	// ClientId in it: with the default, "usp/agent/{user}/#", an MQTT 5.0
	// CONNACK would give every agent the same Response Information and
	// "subscribe-topic", which it must use [R-MQTT.21], [R-MQTT.15], and
	// every agent would receive, and answer, every request. An MQTT 3.1.1
	// agent's ClientId is its Endpoint ID, and its topic the prefix and
	// the Endpoint ID, so the pattern fits it as well.
	brk, err := broker.New(&broker.Options{Addr: "127.0.0.1:0", Users: map[string]string{"controller": "ctl-secret-0123456789", "sim": "sim-secret-0123456789"},
		Controllers: []string{"controller"}, USPPolicy: true, AgentTopicPattern: "usp/agent/{user}/{client}/#", MaxClients: n + 10})
	if err != nil {
		t.Fatal(err)
	}
	if err := brk.Start(ctx); err != nil {
		t.Fatal(err)
	}
	// Closed after the controller has stopped (cleanups run last first):
	// closing the broker while a client reconnects can deadlock inside
	// mochi.
	t.Cleanup(func() { brk.Close() })
	url := "tcp://" + brk.Addrs().TCP
	const ctlTopic = "usp/controller/controller/load"
	var c *controller.Controller
	cli := mqtt.NewClient(&mqtt.Options{URL: url, Version: v, EndpointID: "proto::load-ctl", Username: "controller", Password: "ctl-secret-0123456789", Topic: ctlTopic,
		OnState: func(ctx context.Context, p mtp.Peer, s mtp.State, err error) {
			if c != nil {
				c.OnState("MQTT")(ctx, p, s, err)
			}
		}})
	c = loadController(t, ctx, controller.MTP{Protocol: "MQTT", Transport: cli})
	args := []string{"sim", "--n", strconv.Itoa(n), "--mqtt", url, "--user", "sim", "--pass", "sim-secret-0123456789",
		"--topic-prefix", "usp/agent/sim/", "--controller-topic", ctlTopic, "--controller", "proto::load-ctl", "--pace", "300us"}
	if v == mqtt.V311 {
		args = append(args, "--v311")
	}
	measureLoad(t, c, "MQTT "+v.String()+" via the embedded broker", n, requests, exec.Command(bin, args...))
}

func loadController(t *testing.T, ctx context.Context, m controller.MTP) *controller.Controller {
	t.Helper()
	// The simulated agents carry no credentials: a lab.
	m.Identity = controller.IdentityClaimed
	c, err := controller.New(ctx, controller.Options{EndpointID: "proto::load-ctl", MTPs: []controller.MTP{m}, RequestTimeout: 10 * time.Second,
		Admission: controller.AdmitAll})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return c
}

// measureLoad starts the fleet, waits until every agent is online, then
// sends Gets to random agents from 256 callers.
func measureLoad(t *testing.T, c *controller.Controller, name string, n, requests int, cmd *exec.Cmd) {
	t.Helper()
	ctx := context.Background()
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
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
	for deadline := time.Now().Add(180 * time.Second); c.Stats().Online < n; {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d agents online", c.Stats().Online, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
	connected := time.Since(start)
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	perAgent := float64(after.HeapInuse+after.StackInuse-before.HeapInuse-before.StackInuse) / float64(n)
	simRSS := rss(cmd.Process.Pid)

	lat := make([]time.Duration, requests)
	var wg sync.WaitGroup
	var failed atomic.Int64
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
					failed.Add(1)
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
	if f := failed.Load(); f > 0 {
		t.Errorf("%d of %d requests failed", f, requests)
	}
	t.Logf("%s: %d agents connected in %v; %d Gets in %v = %.0f round trips/s; p50 %v, p99 %v; controller process memory %.1f KiB per agent; sim process RSS %.1f KiB per agent",
		name, n, connected.Round(time.Millisecond), requests, elapsed.Round(time.Millisecond), float64(requests)/elapsed.Seconds(),
		lat[len(lat)/2].Round(time.Microsecond), lat[len(lat)*99/100].Round(time.Microsecond), perAgent/1024, float64(simRSS)/float64(n))
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
