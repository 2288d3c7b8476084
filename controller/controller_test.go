package controller_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uspkit/uspkit/agent"
	"github.com/uspkit/uspkit/controller"
	"github.com/uspkit/uspkit/datamodel"
	"github.com/uspkit/uspkit/internal/testenv"
	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/mtp/ws"
	"github.com/uspkit/uspkit/record"
	"github.com/uspkit/uspkit/schema"
	"github.com/uspkit/uspkit/store"
	"github.com/uspkit/uspkit/store/postgres"
	"github.com/uspkit/uspkit/store/sqlite"
	"github.com/uspkit/uspkit/tr181/deviceinfo"
	"github.com/uspkit/uspkit/wire"
)

func TestMain(m *testing.M) { testenv.Main(m) }

const (
	ctrlID  = "proto::controller-test"
	agentID = "os::012345-CTRLTEST"
)

type rig struct {
	c    *controller.Controller
	url  string
	stop func()
}

// startController runs a Controller with a WebSocket server.
func startController(t *testing.T, st controller.Store) *rig {
	return startControllerWith(t, st, controller.Options{})
}

func startControllerWith(t *testing.T, st controller.Store, o controller.Options) *rig {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var c *controller.Controller
	srv, err := ws.Listen(ctx, "127.0.0.1:0", &ws.Options{EndpointID: ctrlID, OnState: func(ctx context.Context, p mtp.Peer, s mtp.State, err error) {
		if c != nil {
			c.OnState("WebSocket")(ctx, p, s, err)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	// These agents connect without credentials: a lab setup.
	o.EndpointID, o.Store, o.MTPs, o.RequestTimeout = ctrlID, st, []controller.MTP{{Protocol: "WebSocket", Transport: srv, Identity: controller.IdentityClaimed}}, 5*time.Second
	if o.Admission == controller.AdmitVerified {
		o.Admission = controller.AdmitAll
	}
	c, err = controller.New(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	r := &rig{c: c, url: "ws://" + srv.Addr().String() + "/usp"}
	var once sync.Once
	r.stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(r.stop)
	return r
}

// startAgent runs an Agent that connects to url over WebSocket.
func startAgent(t *testing.T, url string, st *store.Memory) func() {
	t.Helper()
	m := schema.New()
	agent.Define(m)
	deviceinfo.Define(m)
	mux := datamodel.NewMux(m)
	deviceinfo.Register(mux, deviceinfo.Info{Manufacturer: "uspkit", ManufacturerOUI: "00D09E", ModelName: "m", SerialNumber: "S1", SoftwareVersion: "1"})
	var a *agent.Agent
	var mu sync.Mutex
	cli := ws.NewClient(&ws.Options{URL: url, EndpointID: agentID, MinWait: 100 * time.Millisecond, OnState: func(ctx context.Context, p mtp.Peer, s mtp.State, err error) {
		mu.Lock()
		x := a
		mu.Unlock()
		if x != nil {
			x.OnState("WebSocket")(ctx, p, s, err)
		}
	}})
	var err error
	mu.Lock()
	a, err = agent.New(context.Background(), agent.Options{EndpointID: agentID, Mux: mux, Store: st,
		MTPs:    []agent.MTP{{Protocol: "WebSocket", Transport: cli, Connect: func(to string) *record.Record { return record.NewWebSocketConnect(to, agentID) }}},
		Factory: &agent.Config{Controllers: []agent.ControllerConfig{{EndpointID: ctrlID, MTPs: []agent.ControllerMTPConf{{Protocol: "WebSocket"}}}}}})
	mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cancel()
			<-done
		}
	}
	t.Cleanup(stop)
	return stop
}

func waitOnline(t *testing.T, c *controller.Controller, online bool) controller.Agent {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if a, ok := c.Agent(agentID); ok && a.Online == online && (!online || a.Info["SerialNumber"] != "") {
			return a
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("agent not online=%v", online)
	return controller.Agent{}
}

func get(paths ...string) *wire.Request {
	return &wire.Request{ReqType: &wire.Request_Get{Get: &wire.Get{ParamPaths: paths}}}
}

// eachStore runs f with the Controller on every store: in memory, SQLite
// and PostgreSQL.
func eachStore(t *testing.T, f func(t *testing.T, st controller.Store)) {
	t.Run("memory", func(t *testing.T) { f(t, store.NewMemory()) })
	t.Run("sqlite", func(t *testing.T) {
		db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "c.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		f(t, db)
	})
	t.Run("postgres", func(t *testing.T) {
		s := testenv.Postgres(t)
		db, err := postgres.Open(context.Background(), s.DSN(s.NewDatabase(t)))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		f(t, db)
	})
}

func TestRegistryAndRequests(t *testing.T) { eachStore(t, testRegistryAndRequests) }

func testRegistryAndRequests(t *testing.T, st controller.Store) {
	r := startController(t, st)
	startAgent(t, r.url, store.NewMemory())
	a := waitOnline(t, r.c, true)
	if a.Protocol != "WebSocket" || a.Info["Manufacturer"] != "uspkit" {
		t.Errorf("agent %+v", a)
	}
	// Many requests in flight at once, each answered to its caller.
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			path := "Device.LocalAgent.EndpointID"
			if i%2 == 1 {
				path = "Device.DeviceInfo.SerialNumber"
			}
			m, err := r.c.Do(context.Background(), agentID, get(path))
			if err != nil {
				errs <- err
				return
			}
			rp := m.GetBody().GetResponse().GetGetResp().GetReqPathResults()
			if len(rp) != 1 || rp[0].GetRequestedPath() != path {
				errs <- fmt.Errorf("request %d got the answer to %v", i, rp)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if _, err := r.c.Do(context.Background(), "os::012345-NOBODY", get("Device.")); !errors.Is(err, controller.ErrUnknownAgent) {
		t.Errorf("unknown agent: %v", err)
	}
}

// TestNotifyStoredAndAcknowledged: a Notify with send_resp is stored as
// an event and acknowledged, so the Agent stops resending it.
func TestNotifyStoredAndAcknowledged(t *testing.T) {
	r := startController(t, nil)
	ast := store.NewMemory()
	startAgent(t, r.url, ast)
	waitOnline(t, r.c, true)
	events, stop := r.c.Subscribe()
	defer stop()
	add := &wire.Request{ReqType: &wire.Request_Add{Add: &wire.Add{CreateObjs: []*wire.Add_CreateObject{{ObjPath: "Device.LocalAgent.Subscription.",
		ParamSettings: []*wire.Add_CreateParamSetting{{Param: "Enable", Value: "true"}, {Param: "NotifType", Value: "ObjectCreation"},
			{Param: "ReferenceList", Value: "Device.LocalAgent.Controller.1.BootParameter."}, {Param: "NotifRetry", Value: "true"}, {Param: "ID", Value: "s1"}}}}}}}
	if m, err := r.c.Do(context.Background(), agentID, add); err != nil || m.GetBody().GetResponse().GetAddResp() == nil {
		t.Fatalf("add subscription: %v %v", m, err)
	}
	addBP := &wire.Request{ReqType: &wire.Request_Add{Add: &wire.Add{CreateObjs: []*wire.Add_CreateObject{{ObjPath: "Device.LocalAgent.Controller.1.BootParameter.",
		ParamSettings: []*wire.Add_CreateParamSetting{{Param: "ParameterName", Value: "Device.DeviceInfo.SerialNumber"}}}}}}}
	if _, err := r.c.Do(context.Background(), agentID, addBP); err != nil {
		t.Fatal(err)
	}
	timeout := time.After(5 * time.Second)
	for {
		select {
		case e := <-events:
			if e.Kind != "notify" {
				continue
			}
			var m map[string]any
			json.Unmarshal(e.Msg, &m)
			if e.Agent != agentID || len(r.c.Events(agentID, 0)) == 0 {
				t.Errorf("event %+v", e)
			}
			// The Agent forgets the notification once acknowledged.
			for range 50 {
				if snap, _ := ast.Load(context.Background()); countKind(snap, "notify") == 0 {
					return
				}
				time.Sleep(20 * time.Millisecond)
			}
			t.Fatal("the agent still holds the notification: no NotifyResp")
		case <-timeout:
			t.Fatal("no notify event")
		}
	}
}

func countKind(s *store.Snapshot, kind string) int {
	n := 0
	for _, it := range s.Items {
		if it.Kind == kind {
			n++
		}
	}
	return n
}

// TestOfflineQueue: a request for an offline Agent is queued and
// delivered when it comes back; its response arrives as an event. The
// registry survives a restart of the Controller.
func TestOfflineQueue(t *testing.T) { eachStore(t, testOfflineQueue) }

func testOfflineQueue(t *testing.T, cst controller.Store) {
	r := startController(t, cst)
	ast := store.NewMemory()
	stopAgent := startAgent(t, r.url, ast)
	waitOnline(t, r.c, true)
	stopAgent()
	waitOnline(t, r.c, false)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	set := &wire.Request{ReqType: &wire.Request_Set{Set: &wire.Set{UpdateObjs: []*wire.Set_UpdateObject{{ObjPath: "Device.LocalAgent.Controller.1.",
		ParamSettings: []*wire.Set_UpdateParamSetting{{Param: "PeriodicNotifInterval", Value: "777", Required: true}}}}}}}
	if _, err := r.c.Do(ctx, agentID, set); !errors.Is(err, controller.ErrQueued) {
		t.Fatalf("offline request: %v", err)
	}
	if s := r.c.Stats(); s.Queued != 1 {
		t.Errorf("stats %+v", s)
	}
	events, stop := r.c.Subscribe()
	defer stop()
	startAgent(t, r.url, ast)
	timeout := time.After(10 * time.Second)
	for {
		select {
		case e := <-events:
			if e.Kind == "response" {
				m, err := r.c.Do(context.Background(), agentID, get("Device.LocalAgent.Controller.1.PeriodicNotifInterval"))
				if err != nil || m.GetBody().GetResponse().GetGetResp().GetReqPathResults()[0].GetResolvedPathResults()[0].GetResultParams()["PeriodicNotifInterval"] != "777" {
					t.Errorf("queued Set not applied: %v %v", m, err)
				}
				if s := r.c.Stats(); s.Queued != 0 {
					t.Errorf("queue not emptied: %+v", s)
				}
				r.stop()
				again, err := controller.New(context.Background(), controller.Options{EndpointID: ctrlID, Store: cst})
				if err != nil {
					t.Fatal(err)
				}
				if a, ok := again.Agent(agentID); !ok || a.Info["Manufacturer"] != "uspkit" || len(again.Events(agentID, 0)) == 0 {
					t.Errorf("after a restart the registry has %+v (%v), %d events", a, ok, len(again.Events(agentID, 0)))
				}
				return
			}
		case <-timeout:
			t.Fatal("queued request not delivered")
		}
	}
}

// TestDesiredSubscriptionsAndWebhooks: the Controller creates its
// subscriptions on a new Agent, gets Boot! through them after a restart,
// and posts every event to its webhook.
func TestDesiredSubscriptionsAndWebhooks(t *testing.T) {
	hooks := make(chan controller.Event, 100)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var e controller.Event
		json.NewDecoder(r.Body).Decode(&e)
		hooks <- e
	}))
	defer hook.Close()
	r := startControllerWith(t, nil, controller.Options{Webhooks: []string{hook.URL},
		Subscriptions: []controller.Subscription{{ID: "ctl-boot", NotifType: "Event", ReferenceList: "Device.Boot!"}}})
	ast := store.NewMemory()
	stop := startAgent(t, r.url, ast)
	a := waitOnline(t, r.c, true)
	if len(a.Supported) < 10 {
		t.Errorf("supported data model not cached: %v", a.Supported)
	}
	m, err := r.c.Do(context.Background(), agentID, get("Device.LocalAgent.Subscription.*.ID"))
	if err != nil || !strings.Contains(m.String(), "ctl-boot") {
		t.Fatalf("subscription not created: %v %v", m, err)
	}
	stop()
	startAgent(t, r.url, ast)
	deadline := time.After(10 * time.Second)
	for {
		select {
		case e := <-hooks:
			if e.Kind == "notify" && strings.Contains(string(e.Msg), "Boot!") {
				return
			}
		case <-deadline:
			t.Fatal("no Boot! through the webhook")
		}
	}
}

// TestMaxEvents: the Controller keeps the newest MaxEvents events, in the
// API and in the store, while events keep coming.
func TestMaxEvents(t *testing.T) {
	st := store.NewMemory()
	r := startControllerWith(t, st, controller.Options{MaxEvents: 16, Subscriptions: []controller.Subscription{{ID: "max-events",
		NotifType: "ValueChange", ReferenceList: "Device.LocalAgent.Controller.1.PeriodicNotifInterval"}}})
	stop := startAgent(t, r.url, store.NewMemory())
	defer stop()
	ctx := context.Background()
	waitOnline(t, r.c, true)
	// Each Set makes a ValueChange Notify, each Notify an event.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		m, err := r.c.Do(ctx, agentID, &wire.Request{ReqType: &wire.Request_Get{Get: &wire.Get{ParamPaths: []string{"Device.LocalAgent.Subscription.*.ID"}}}})
		if err == nil && strings.Contains(m.String(), "max-events") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the controller's subscription was not created")
		}
	}
	for i := range 100 {
		set := &wire.Request{ReqType: &wire.Request_Set{Set: &wire.Set{UpdateObjs: []*wire.Set_UpdateObject{{ObjPath: "Device.LocalAgent.Controller.1.",
			ParamSettings: []*wire.Set_UpdateParamSetting{{Param: "PeriodicNotifInterval", Value: strconv.Itoa(100 + i), Required: true}}}}}}}
		if _, err := r.c.Do(ctx, agentID, set); err != nil {
			t.Fatal(err)
		}
	}
	for deadline := time.Now().Add(10 * time.Second); r.c.Stats().Notifies < 100 && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	ev := r.c.Events("", 0)
	if len(ev) != 16 {
		t.Fatalf("%d events, want the newest 16", len(ev))
	}
	for i := 1; i < len(ev); i++ {
		if ev[i].Seq != ev[i-1].Seq+1 {
			t.Fatalf("events not the newest in order: %d after %d", ev[i].Seq, ev[i-1].Seq)
		}
	}
	if s := r.c.Stats(); s.Events != 16 {
		t.Errorf("Stats.Events %d", s.Events)
	}
	snap, err := st.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	stored := 0
	for _, it := range snap.Items {
		if it.Kind == "event" {
			stored++
		}
	}
	if stored < 16 || stored > 16+16/8 {
		t.Errorf("%d events stored, want 16 to 18", stored)
	}
}

// An asynchronous command started with no OperationComplete subscription
// on the Agent still ends as complete: the Controller subscribes first.
func TestAsyncOperationEnds(t *testing.T) {
	r := startController(t, store.NewMemory())
	startAgent(t, r.url, store.NewMemory())
	waitOnline(t, r.c, true)
	op := &wire.Request{ReqType: &wire.Request_Operate{Operate: &wire.Operate{Command: "Device.SelfTestDiagnostics()", CommandKey: "k-async", SendResp: true}}}
	if _, err := r.c.Do(context.Background(), agentID, op); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, o := range r.c.Operations(agentID) {
			if o.CommandKey == "k-async" && o.Status != "running" {
				if o.Status != "complete" {
					t.Fatalf("operation %+v", o)
				}
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("operation still running: %+v", r.c.Operations(agentID))
}
