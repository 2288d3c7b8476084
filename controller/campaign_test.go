package controller_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uspkit/uspkit/controller"
	"github.com/uspkit/uspkit/internal/testenv"
	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/mtp/ws"
	"github.com/uspkit/uspkit/sim"
	"github.com/uspkit/uspkit/store"
	"github.com/uspkit/uspkit/store/postgres"
	"github.com/uspkit/uspkit/store/sqlite"
)

// startFleet connects n simulated firmware-capable Agents to the
// Controller at url and waits until the Controller has them all online.
func startFleet(t *testing.T, c func() *controller.Controller, url string, n int, fw *sim.Firmware) *sim.Fleet {
	t.Helper()
	f, err := sim.Start(context.Background(), sim.Options{N: n, Controller: ctrlID, ControllerAddr: ctrlID, Firmware: fw,
		Dial: func(id string, onState mtp.StateFunc) mtp.Transport {
			return ws.NewClient(&ws.Options{URL: url, EndpointID: id, OnState: onState, MinWait: 50 * time.Millisecond, QueueLen: 64})
		}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Close)
	waitFleetOnline(t, c, f, n)
	return f
}

func waitFleetOnline(t *testing.T, c func() *controller.Controller, f *sim.Fleet, n int) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		online := 0
		for _, a := range c().Agents() {
			if a.Online {
				online++
			}
		}
		if online == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d agents online (%d connected)", online, n, f.Up())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func fleetIDs(f *sim.Fleet, n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = f.ID(i)
	}
	return ids
}

// waitCampaign polls a campaign until it completes, resuming it whenever
// it pauses; it returns the campaign and how often it paused.
func waitCampaign(t *testing.T, c func() *controller.Controller, id string, limit time.Duration) (controller.Campaign, int) {
	t.Helper()
	deadline := time.Now().Add(limit)
	pauses := 0
	for {
		x, err := c().Campaign(id)
		if err != nil {
			t.Fatal(err)
		}
		switch x.State {
		case controller.CampaignCompleted, controller.CampaignAborted:
			return x, pauses
		case controller.CampaignPaused:
			if !strings.Contains(x.Reason, "failure rate") {
				t.Fatalf("paused for %q", x.Reason)
			}
			pauses++
			if _, err := c().ResumeCampaign(context.Background(), id, nil); err != nil {
				t.Fatal(err)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("campaign %s after %v: %+v", x.State, limit, x.Counts)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A firmware campaign over 200 simulated Agents, one in 20 of which fail
// their download (OperationComplete with a failure [R-OPR.0], a
// TransferComplete! with a fault): the canary passes, the failure rate pauses the campaign
// in a later wave, each resume goes on, and it ends with exactly 190
// Agents on the new SoftwareVersion (Boot! with FirmwareUpdated true) and
// the 10 that fail, each with its reason.
func TestCampaignFleet(t *testing.T) {
	const n = 200
	r := newCampaignRig(t)
	r.start(t, store.NewMemory())
	fw := &sim.Firmware{Version: "1.0.0", NewVersion: "2.0.0", FailFraction: 0.05}
	f := startFleet(t, r.get, r.url, n, fw)
	c := r.get()
	ctx := context.Background()
	events, stop := c.Subscribe()
	seen := map[string]int{}
	collected := make(chan struct{})
	go func() {
		defer close(collected)
		for e := range events {
			if e.Kind != "campaign" {
				continue
			}
			var body struct{ Change string }
			json.Unmarshal(e.Msg, &body)
			seen[body.Change]++
			if body.Change == "completed" {
				return
			}
		}
	}()
	x, err := c.CreateCampaign(ctx, controller.CampaignSpec{Kind: controller.KindFirmware, Agents: fleetIDs(f, n), URL: "http://127.0.0.1:1/fw.bin",
		CheckSumAlgorithm: "SHA-256", CheckSum: strings.Repeat("ab", 32), Activate: true, Version: "2.0.0",
		Rollout: controller.Rollout{Canary: 10, Wave: 50, Concurrency: 25, MaxFailureRate: 0.02, MinSample: 10}})
	if err != nil {
		t.Fatal(err)
	}
	if x.StageEnd != 10 || x.Counts.Pending != n {
		t.Fatalf("first stage ends at %d, %d pending", x.StageEnd, x.Counts.Pending)
	}
	done, pauses := waitCampaign(t, r.get, x.ID, 90*time.Second)
	if pauses == 0 {
		t.Error("never paused at the failure threshold")
	}
	if done.State != controller.CampaignCompleted || done.Counts.Succeeded != 190 || done.Counts.Failed != 10 || done.Counts.Pending != 0 || done.Counts.Running != 0 {
		t.Fatalf("campaign %s, counts %+v", done.State, done.Counts)
	}
	for _, tg := range done.Targets {
		want := controller.TargetSucceeded
		if fw.Fails(tg.Index) {
			want = controller.TargetFailed
		}
		if tg.State != want {
			t.Errorf("%s: %s (%s), want %s", tg.Agent, tg.State, tg.Reason, want)
		}
		switch {
		case want == controller.TargetFailed && !strings.Contains(tg.Reason, "7022"):
			t.Errorf("%s failed for %q", tg.Agent, tg.Reason)
		case want == controller.TargetSucceeded && (tg.ToVersion != "2.0.0" || tg.FromVersion != "1.0.0" || f.Version(tg.Index) != "2.0.0"):
			t.Errorf("%s: %s → %s, simulated agent at %s", tg.Agent, tg.FromVersion, tg.ToVersion, f.Version(tg.Index))
		}
	}
	// The stages ran in order: no target of a later stage started
	// before the canary had finished.
	var canaryEnd time.Time
	for _, tg := range done.Targets[:10] {
		canaryEnd = later(canaryEnd, tg.Ended)
	}
	for _, tg := range done.Targets[10:] {
		if tg.Started.Before(canaryEnd) {
			t.Errorf("%s started %v before the canary ended", tg.Agent, canaryEnd.Sub(tg.Started))
			break
		}
	}
	// Events told of the pauses and of each target's end.
	select {
	case <-collected:
	case <-time.After(10 * time.Second):
		t.Fatal("no completed event")
	}
	stop()
	if seen["paused"] != pauses || seen["succeeded"] != 190 || seen["failed"] != 10 || seen["completed"] != 1 {
		t.Errorf("campaign events %v, %d pauses", seen, pauses)
	}
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// A campaign stays paused until resumed, and an aborted one starts
// nothing more: its unfinished targets are aborted.
func TestCampaignPauseAbort(t *testing.T) {
	const n = 20
	r := newCampaignRig(t)
	r.start(t, store.NewMemory())
	f := startFleet(t, r.get, r.url, n, &sim.Firmware{Delay: 100 * time.Millisecond})
	c := r.get()
	ctx := context.Background()
	x, err := c.CreateCampaign(ctx, controller.CampaignSpec{Kind: controller.KindFirmware, Agents: fleetIDs(f, n), URL: "http://127.0.0.1:1/fw.bin",
		Rollout: controller.Rollout{Concurrency: 2}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.PauseCampaign(ctx, x.ID, "operator"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	p, _ := c.Campaign(x.ID)
	if p.State != controller.CampaignPaused || p.Counts.Succeeded+p.Counts.Running > 2 {
		t.Fatalf("paused campaign went on: %s %+v", p.State, p.Counts)
	}
	if _, err := c.ResumeCampaign(ctx, x.ID, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ResumeCampaign(ctx, x.ID, nil); err == nil {
		t.Error("resumed a running campaign")
	}
	time.Sleep(300 * time.Millisecond)
	a, err := c.AbortCampaign(ctx, x.ID)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	end, _ := c.Campaign(x.ID)
	if end.State != controller.CampaignAborted || end.Counts.Aborted == 0 || end.Counts.Running != 0 || end.Counts.Pending != 0 ||
		end.Counts.Succeeded+end.Counts.Aborted != n || end.Counts != a.Counts {
		t.Fatalf("aborted campaign: %s %+v (at abort %+v)", end.State, end.Counts, a.Counts)
	}
	if _, err := c.ResumeCampaign(ctx, x.ID, nil); err == nil {
		t.Error("resumed an aborted campaign")
	}
}

// Bad specs are refused with the reason.
func TestCampaignSpecRefused(t *testing.T) {
	r := startControllerWith(t, store.NewMemory(), controller.Options{})
	for _, tc := range []struct {
		name string
		spec controller.CampaignSpec
	}{
		{"kind", controller.CampaignSpec{Kind: "bios", URL: "http://x/", Agents: []string{agentID}}},
		{"url", controller.CampaignSpec{Kind: controller.KindFirmware, Agents: []string{agentID}}},
		{"checksum", controller.CampaignSpec{Kind: controller.KindFirmware, URL: "http://x/", CheckSumAlgorithm: "MD5", CheckSum: "00", Agents: []string{agentID}}},
		{"rate", controller.CampaignSpec{Kind: controller.KindFirmware, URL: "http://x/", Rollout: controller.Rollout{MaxFailureRate: 2}, Agents: []string{agentID}}},
		{"no agents", controller.CampaignSpec{Kind: controller.KindFirmware, URL: "http://x/"}},
		{"unknown agent", controller.CampaignSpec{Kind: controller.KindFirmware, URL: "http://x/", Agents: []string{"os::000000-NONE"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := r.c.CreateCampaign(context.Background(), tc.spec); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

// A Controller stopped in the middle of a campaign resumes it when it
// starts again on the same store: the targets it was following are looked
// at again (those upgraded meanwhile succeed), and the counts come out
// exact; on SQLite and on PostgreSQL.
func TestCampaignSurvivesRestart(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "ctl.db")
		testRestart(t, func() controller.Store {
			db, err := sqlite.Open(context.Background(), path)
			if err != nil {
				t.Fatal(err)
			}
			return db
		})
	})
	t.Run("postgres", func(t *testing.T) {
		s := testenv.Postgres(t)
		dsn := s.DSN(s.NewDatabase(t))
		testRestart(t, func() controller.Store {
			db, err := postgres.Open(context.Background(), dsn)
			if err != nil {
				t.Fatal(err)
			}
			return db
		})
	})
}

type closer interface{ Close() error }

// campaignRig runs a Controller with a WebSocket server on a fixed
// address, so that it can be stopped and started again with the
// simulated Agents reconnecting.
type campaignRig struct {
	mu   sync.Mutex
	cur  *controller.Controller
	addr string
	url  string
}

func newCampaignRig(t *testing.T) *campaignRig {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return &campaignRig{addr: addr, url: "ws://" + addr + "/usp"}
}

func (r *campaignRig) get() *controller.Controller {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cur
}

// start runs a Controller on st until the returned func is called.
func (r *campaignRig) start(t *testing.T, st controller.Store) func() {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var c *controller.Controller
	var srv *ws.Server
	var err error
	for range 50 { // the port of the previous run may take a moment
		if srv, err = ws.Listen(ctx, r.addr, &ws.Options{EndpointID: ctrlID, MaxConns: -1, MaxConnsPerSource: -1,
			OnState: func(ctx context.Context, p mtp.Peer, s mtp.State, err error) {
				if x := r.get(); x != nil && x == c {
					x.OnState("WebSocket")(ctx, p, s, err)
				}
			}}); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	c, err = controller.New(ctx, controller.Options{EndpointID: ctrlID, Store: st, Admission: controller.AdmitAll, NewAgentBurst: 100000,
		RequestTimeout: 10 * time.Second, MTPs: []controller.MTP{{Protocol: "WebSocket", Transport: srv, Identity: controller.IdentityClaimed}}})
	if err != nil {
		t.Fatal(err)
	}
	r.mu.Lock()
	r.cur = c
	r.mu.Unlock()
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			<-done
			r.mu.Lock()
			r.cur = nil
			r.mu.Unlock()
		})
	}
	t.Cleanup(stop)
	return stop
}

func testRestart(t *testing.T, open func() controller.Store) {
	const n = 60
	rig := newCampaignRig(t)
	get := rig.get
	start := func() (func(), controller.Store) {
		st := open()
		stop := rig.start(t, st)
		return func() {
			stop()
			if cl, ok := st.(closer); ok {
				cl.Close()
			}
		}, st
	}
	stop, _ := start()
	f := startFleet(t, get, rig.url, n, &sim.Firmware{Version: "1.0.0", NewVersion: "1.1.0", Delay: 150 * time.Millisecond})
	x, err := get().CreateCampaign(context.Background(), controller.CampaignSpec{Kind: controller.KindFirmware, Agents: fleetIDs(f, n),
		URL: "http://127.0.0.1:1/fw.bin", AutoActivate: true, Rollout: controller.Rollout{Wave: 20, Concurrency: 8}})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		p, _ := get().Campaign(x.ID)
		if p.Counts.Succeeded >= 12 && p.Counts.Running > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("campaign did not get going: %+v", p.Counts)
		}
		time.Sleep(5 * time.Millisecond)
	}
	stop()
	stop, _ = start()
	defer func() { stop() }()
	before, err := get().Campaign(x.ID)
	if err != nil {
		t.Fatal(err)
	}
	if before.State != controller.CampaignRunning || before.Counts.Running != 0 || before.Counts.Succeeded < 12 {
		t.Fatalf("after restart: %s %+v", before.State, before.Counts)
	}
	waitFleetOnline(t, get, f, n)
	done, pauses := waitCampaign(t, get, x.ID, 60*time.Second)
	if done.State != controller.CampaignCompleted || done.Counts.Succeeded != n || pauses != 0 {
		t.Fatalf("campaign %s, counts %+v, %d pauses", done.State, done.Counts, pauses)
	}
	for i, tg := range done.Targets {
		if f.Version(i) != "1.1.0" || tg.ToVersion != "1.1.0" {
			t.Errorf("%s at %s, target says %s (%s)", tg.Agent, f.Version(i), tg.ToVersion, tg.Reason)
		}
	}
	// A deleted campaign stays deleted.
	if err := get().DeleteCampaign(context.Background(), x.ID); err != nil {
		t.Fatal(err)
	}
	stop()
	stop, _ = start()
	if _, err := get().Campaign(x.ID); !errors.Is(err, controller.ErrUnknownCampaign) {
		t.Fatalf("deleted campaign after a restart: %v", err)
	}
}

// Agents offline when their turn comes wait, counted as offline, while
// the others are upgraded; the campaign completes once they come back and
// are upgraded too.
func TestCampaignOfflineAgents(t *testing.T) {
	r := newCampaignRig(t)
	r.start(t, store.NewMemory())
	fw := &sim.Firmware{Version: "1", NewVersion: "2"}
	on := startFleet(t, r.get, r.url, 6, fw)
	dial := func() *sim.Fleet {
		f, err := sim.Start(context.Background(), sim.Options{N: 3, Prefix: "os::012345-AWAY", Controller: ctrlID, ControllerAddr: ctrlID, Firmware: fw,
			Dial: func(id string, onState mtp.StateFunc) mtp.Transport {
				return ws.NewClient(&ws.Options{URL: r.url, EndpointID: id, OnState: onState, MinWait: 50 * time.Millisecond})
			}})
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	away := dial()
	waitFleetOnline(t, r.get, on, 9)
	away.Close()
	waitFleetOnline(t, r.get, on, 6)
	ids := append(fleetIDs(on, 3), "os::012345-AWAY0", "os::012345-AWAY1", "os::012345-AWAY2")
	ids = append(ids, on.ID(3), on.ID(4), on.ID(5))
	c := r.get()
	x, err := c.CreateCampaign(context.Background(), controller.CampaignSpec{Kind: controller.KindFirmware, Agents: ids, URL: "http://127.0.0.1:1/fw.bin",
		AutoActivate: true, Rollout: controller.Rollout{Canary: 2, Wave: 2, Concurrency: 2}})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		p, _ := c.Campaign(x.ID)
		if p.Counts.Succeeded == 6 {
			if p.State != controller.CampaignRunning || p.Counts.Pending != 3 || p.Counts.Offline != 3 {
				t.Fatalf("with 3 agents away: %s %+v", p.State, p.Counts)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("online agents not done: %s %+v", p.State, p.Counts)
		}
		time.Sleep(10 * time.Millisecond)
	}
	back := dial()
	defer back.Close()
	done, _ := waitCampaign(t, r.get, x.ID, 20*time.Second)
	if done.State != controller.CampaignCompleted || done.Counts.Succeeded != 9 {
		t.Fatalf("campaign %s %+v", done.State, done.Counts)
	}
	for i := range 3 {
		if back.Version(i) != "2" {
			t.Errorf("%s at %s", back.ID(i), back.Version(i))
		}
	}
}

// A selector picks the registered Agents by Endpoint ID and by the
// Device.DeviceInfo values read at first contact.
func TestCampaignSelector(t *testing.T) {
	r := newCampaignRig(t)
	r.start(t, store.NewMemory())
	f := startFleet(t, r.get, r.url, 12, &sim.Firmware{})
	c := r.get()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		n := 0
		for _, a := range c.Agents() {
			if a.Info["ProductClass"] == "Simulated" {
				n++
			}
		}
		if n == 12 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("first contact read DeviceInfo of %d agents", n)
		}
	}
	for _, tc := range []struct {
		name string
		sel  controller.Selector
		want int
	}{
		{"all by info", controller.Selector{Info: map[string]string{"ProductClass": "Simulated"}}, 12},
		{"by id", controller.Selector{Match: f.ID(1)}, 3}, // SIM1, SIM10, SIM11
		{"both", controller.Selector{Match: f.ID(1), Info: map[string]string{"SoftwareVersion": "1.0.0"}}, 3},
		{"none", controller.Selector{Info: map[string]string{"ProductClass": "Other"}}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x, err := c.CreateCampaign(context.Background(), controller.CampaignSpec{Kind: controller.KindSoftware, URL: "http://127.0.0.1:1/du.tgz", Selector: &tc.sel})
			switch {
			case tc.want == 0 && !errors.Is(err, controller.ErrCampaignSpec):
				t.Fatalf("%v", err)
			case tc.want > 0 && (err != nil || x.Counts.Total != tc.want):
				t.Fatalf("%v, %d targets", err, x.Counts.Total)
			}
			if err == nil {
				waitCampaign(t, r.get, x.ID, 10*time.Second)
			}
		})
	}
}
