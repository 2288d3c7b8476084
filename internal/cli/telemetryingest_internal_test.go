//go:build !usp_device

package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/uspkit/uspkit/controller"
	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/mtp/mtptest"
	"github.com/uspkit/uspkit/record"
	"github.com/uspkit/uspkit/store"
	"github.com/uspkit/uspkit/telemetry"
	"github.com/uspkit/uspkit/wire"
)

const pushCtrlID, pushAgentID = "proto::ctl-ingest", "proto::agent-flood"

// pushRig is a real Controller on st with an Agent at the other end of a
// pipe; stop ends both.
type pushRig struct {
	t     *testing.T
	ctx   context.Context
	c     *controller.Controller
	agent *mtptest.Pipe
	stop  func()
}

func newPushRig(t *testing.T, st controller.Store) *pushRig {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ctrlEnd, agentEnd := mtptest.NewPipe(pushCtrlID, pushAgentID, nil)
	c, err := controller.New(ctx, controller.Options{EndpointID: pushCtrlID, Store: st, MTPs: []controller.MTP{{Protocol: "UDS", Transport: ctrlEnd}},
		Admission: controller.AdmitAll, RequestTimeout: 100 * time.Millisecond})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	runDone := make(chan error, 1)
	go func() { runDone <- c.Run(ctx) }()
	agentDone := make(chan error, 1)
	go func() {
		agentDone <- agentEnd.Serve(ctx, mtp.HandlerFunc(func(context.Context, mtp.Inbound) {})) // the Controller's requests go unanswered
	}()
	r := &pushRig{t: t, ctx: ctx, c: c, agent: agentEnd}
	stopped := false
	r.stop = func() {
		if !stopped {
			stopped = true
			cancel()
			<-runDone
			<-agentDone
		}
	}
	t.Cleanup(r.stop)
	r.send(record.NewWebSocketConnect(pushCtrlID, pushAgentID))
	return r
}

func (r *pushRig) send(rec *record.Record) {
	r.t.Helper()
	b, err := rec.MarshalBinary()
	if err != nil {
		r.t.Fatal(err)
	}
	for range 5000 { // the pipe's queue holds 1024
		err = r.agent.Send(r.ctx, pushCtrlID, b)
		if !errors.Is(err, mtp.ErrQueueFull) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if err != nil {
		r.t.Fatal(err)
	}
}

// flood sends Notifications from..to-1 [R-NOT.1]: Push! events of
// Device.BulkData.Profile.1. whose report has N = i, but a Boot! event
// for every tenth. It waits until the Controller has them all as events
// and returns how many were Push! events.
func (r *pushRig) flood(from, to int) (pushes int) {
	r.t.Helper()
	const t0 = 1_700_000_000
	for i := from; i < to; i++ {
		ev := &wire.Notify_Event{ObjPath: "Device.BulkData.Profile.1.", EventName: "Push!",
			Params: map[string]string{"Data": fmt.Sprintf(`{"Report":[{"CollectionTime":%d,"N":%d}]}`, t0+i, i)}}
		if isBoot(i) {
			ev = &wire.Notify_Event{ObjPath: "Device.", EventName: "Boot!", Params: map[string]string{"Data": `{"Report":[{"CollectionTime":1,"N":-1}]}`}}
		} else {
			pushes++
		}
		m := &wire.Msg{Header: &wire.Header{MsgId: fmt.Sprintf("push-%d", i), MsgType: wire.Header_NOTIFY}, Body: &wire.Body{MsgBody: &wire.Body_Request{Request: &wire.Request{
			ReqType: &wire.Request_Notify{Notify: &wire.Notify{SubscriptionId: "bulk", Notification: &wire.Notify_Event_{Event: ev}}}}}}}
		payload, err := proto.Marshal(m)
		if err != nil {
			r.t.Fatal(err)
		}
		r.send(record.NewNoSession(pushCtrlID, pushAgentID, payload))
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if got := countKind(r.c.Events(pushAgentID, 0), "notify"); got >= to {
			return pushes
		} else if time.Now().After(deadline) {
			r.t.Fatalf("the Controller has %d notify events, want %d", got, to)
		}
	}
}

func isBoot(i int) bool { return i%10 == 9 }

// slowIngest starts a Push! ingest into svc from r's Controller that takes
// a millisecond per notify event; stop ends it and returns it.
func slowIngest(r *pushRig, svc *telemetry.Service, point string, notifies *atomic.Int64) (stop func() *pushIngest) {
	log := slog.New(slog.DiscardHandler)
	ing := newPushIngest(r.c, func(ctx context.Context, e controller.Event) {
		if e.Kind == "notify" {
			notifies.Add(1)
			time.Sleep(time.Millisecond) // slower than the Controller takes them in
		}
		ingestPush(ctx, svc, e, log)
	}, point, log)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { ing.run(ctx); close(done) }()
	return func() *pushIngest { cancel(); <-done; return ing }
}

func newTelemetry(t *testing.T) *telemetry.Service {
	t.Helper()
	db, err := telemetry.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return telemetry.New(db, telemetry.NewCredentials([]byte("0123456789abcdef0123456789abcdef")), nil)
}

// waitReports waits for n reports in svc, and a little longer for one
// too many.
func waitReports(svc *telemetry.Service, n int) {
	for deadline := time.Now().Add(30 * time.Second); svc.Stats().Reports < int64(n) && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
}

// checkOnce checks that svc holds the report of every Push! Notification
// below n once, and nothing of the others.
func checkOnce(t *testing.T, svc *telemetry.Service, n, pushes int) {
	t.Helper()
	if st := svc.Stats(); st.Reports != int64(pushes) {
		t.Errorf("%d reports stored, want %d", st.Reports, pushes)
	}
	ps, err := svc.Query(context.Background(), telemetry.Query{Agent: pushAgentID, Param: "N", Limit: 2 * n})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]int{}
	for _, p := range ps {
		seen[int(p.Value)]++
	}
	for i := range n {
		want := 1
		if isBoot(i) {
			want = 0
		}
		if seen[i] != want {
			t.Errorf("report %d stored %d times, want %d", i, seen[i], want)
		}
	}
	if seen[-1] != 0 {
		t.Errorf("a Boot! event stored as a report %d times", seen[-1])
	}
}

// TestPushIngestSlowFlood: an Agent sends a flood of Push! event
// Notifications (with Boot! ones among them) to a real Controller faster
// than the ingest stores them, so that the Controller's subscription
// drops some; every Push! report is still stored, exactly once, and the
// other events are not.
func TestPushIngestSlowFlood(t *testing.T) {
	const n = 1200
	svc := newTelemetry(t)
	r := newPushRig(t, nil)
	var notifies atomic.Int64
	stop := slowIngest(r, svc, "", &notifies)
	pushes := r.flood(0, n)
	waitReports(svc, pushes)
	ing := stop()
	if ing.caughtUp == 0 {
		t.Errorf("the ingest never fell behind: the test does not test the catch-up")
	}
	if got := notifies.Load(); got != n {
		t.Errorf("%d notify events passed to the ingest, want %d each once", got, n)
	}
	checkOnce(t, svc, n, pushes)
	t.Logf("%d Notifications, %d Push! reports stored, %d events from the catch-up", n, svc.Stats().Reports, ing.caughtUp)
}

// TestPushIngestResumesAfterRestart: the Controller stops while the
// ingest is behind; started again on the same store and data directory,
// it ingests the Push! reports it had not (from the events kept), and
// none twice. A resume point past the Controller's events (its store
// is new) starts from now.
func TestPushIngestResumesAfterRestart(t *testing.T) {
	const n = 400
	svc := newTelemetry(t)
	st := store.NewMemory()
	point := pushPoint(t.TempDir())
	r := newPushRig(t, st)
	var notifies atomic.Int64
	stop := slowIngest(r, svc, point, &notifies)
	pushes := r.flood(0, n)
	for deadline := time.Now().Add(10 * time.Second); notifies.Load() < 50 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	stop()
	r.stop()
	behind := int64(pushes) - svc.Stats().Reports
	if behind <= 0 {
		t.Fatalf("the ingest was not behind when the Controller stopped (%d reports stored)", svc.Stats().Reports)
	}
	b, err := os.ReadFile(point)
	if err != nil {
		t.Fatal(err)
	}

	r = newPushRig(t, st)
	stop = slowIngest(r, svc, point, &notifies)
	pushes += r.flood(n, n+100)
	waitReports(svc, pushes)
	stop()
	checkOnce(t, svc, n+100, pushes)
	t.Logf("%d reports behind at the stop (resume point %s), %d stored in all", behind, strings.TrimSpace(string(b)), svc.Stats().Reports)

	// A new store: its events start again from 1, below the saved point.
	os.WriteFile(point, []byte("1000000\n"), 0o600)
	r = newPushRig(t, store.NewMemory())
	ing := newPushIngest(r.c, func(context.Context, controller.Event) {}, point, slog.New(slog.DiscardHandler))
	defer ing.stop()
	if _, _, newest := r.c.EventsAfter("", ^uint64(0)); ing.resume || ing.last != newest {
		t.Errorf("resume point past the Controller's events: resume %v from %d, want from now (%d)", ing.resume, ing.last, newest)
	}
}

func countKind(events []controller.Event, kind string) int {
	n := 0
	for _, e := range events {
		if e.Kind == kind {
			n++
		}
	}
	return n
}
