//go:build !usp_device

package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/uspkit/uspkit/controller"
	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/mtp/mtptest"
	"github.com/uspkit/uspkit/record"
	"github.com/uspkit/uspkit/telemetry"
	"github.com/uspkit/uspkit/wire"
)

// TestPushIngestSlowFlood: an Agent sends a flood of Push! event
// Notifications [R-NOT.1] (with Boot! ones among them) to a real
// Controller faster than the ingest stores them, so that the
// Controller's subscription drops some; every Push! report is still
// stored, exactly once, and the other events are not.
func TestPushIngestSlowFlood(t *testing.T) {
	const ctrlID, agentID = "proto::ctl-ingest", "proto::agent-flood"
	const n = 1200 // Notifications; every tenth is a Boot!
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	db, err := telemetry.OpenSQLite(ctx, filepath.Join(t.TempDir(), "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	svc := telemetry.New(db, telemetry.NewCredentials([]byte("0123456789abcdef0123456789abcdef")), nil)

	ctrlEnd, agentEnd := mtptest.NewPipe(ctrlID, agentID, nil)
	c, err := controller.New(ctx, controller.Options{EndpointID: ctrlID, MTPs: []controller.MTP{{Protocol: "UDS", Transport: ctrlEnd}},
		Admission: controller.AdmitAll, RequestTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	runDone := make(chan error, 1)
	go func() { runDone <- c.Run(ctx) }()
	agentDone := make(chan error, 1)
	go func() {
		agentDone <- agentEnd.Serve(ctx, mtp.HandlerFunc(func(context.Context, mtp.Inbound) {})) // the Controller's requests go unanswered
	}()
	defer func() { cancel(); <-runDone; <-agentDone }()

	var passed, slowed atomic.Int64
	log := slog.New(slog.DiscardHandler)
	ing := newPushIngest(c, func(ctx context.Context, e controller.Event) {
		passed.Add(1)
		if e.Kind == "notify" {
			slowed.Add(1)
			time.Sleep(time.Millisecond) // slower than the Controller takes them in
		}
		ingestPush(ctx, svc, e, log)
	}, log)
	ingCtx, stopIngest := context.WithCancel(ctx)
	ingDone := make(chan struct{})
	go func() { ing.run(ingCtx); close(ingDone) }()

	send := func(rec *record.Record) {
		b, err := rec.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		for range 5000 { // the pipe's queue holds 1024
			err = agentEnd.Send(ctx, ctrlID, b)
			if !errors.Is(err, mtp.ErrQueueFull) {
				break
			}
			time.Sleep(time.Millisecond)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	send(record.NewWebSocketConnect(ctrlID, agentID))
	const t0 = 1_700_000_000
	pushes := 0
	for i := range n {
		ev := &wire.Notify_Event{ObjPath: "Device.BulkData.Profile.1.", EventName: "Push!",
			Params: map[string]string{"Data": fmt.Sprintf(`{"Report":[{"CollectionTime":%d,"N":%d}]}`, t0+i, i)}}
		if i%10 == 9 {
			ev = &wire.Notify_Event{ObjPath: "Device.", EventName: "Boot!", Params: map[string]string{"Data": `{"Report":[{"CollectionTime":1,"N":-1}]}`}}
		} else {
			pushes++
		}
		m := &wire.Msg{Header: &wire.Header{MsgId: fmt.Sprintf("push-%d", i), MsgType: wire.Header_NOTIFY}, Body: &wire.Body{MsgBody: &wire.Body_Request{Request: &wire.Request{
			ReqType: &wire.Request_Notify{Notify: &wire.Notify{SubscriptionId: "bulk", Notification: &wire.Notify_Event_{Event: ev}}}}}}}
		payload, err := proto.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		send(record.NewNoSession(ctrlID, agentID, payload))
	}
	// Every Notification becomes an event of the Controller.
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if got := countKind(c.Events(agentID, 0), "notify"); got == n {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("the Controller has %d notify events, want %d", got, n)
		}
	}
	for deadline := time.Now().Add(30 * time.Second); svc.Stats().Reports < int64(pushes) && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // a duplicate would come now
	stopIngest()
	<-ingDone
	if ing.caughtUp == 0 {
		t.Errorf("the ingest never fell behind (%d events passed on): the test does not test the catch-up", passed.Load())
	}
	if got := slowed.Load(); got != n {
		t.Errorf("%d notify events passed to the ingest, want %d each once", got, n)
	}
	if st := svc.Stats(); st.Reports != int64(pushes) {
		t.Errorf("%d reports stored, want %d", st.Reports, pushes)
	}
	ps, err := svc.Query(ctx, telemetry.Query{Agent: agentID, Param: "N", Limit: 2 * n})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]int{}
	for _, p := range ps {
		seen[int(p.Value)]++
	}
	for i := range n {
		want := 1
		if i%10 == 9 {
			want = 0
		}
		if seen[i] != want {
			t.Errorf("report %d stored %d times, want %d", i, seen[i], want)
		}
	}
	if seen[-1] != 0 {
		t.Errorf("a Boot! event stored as a report %d times", seen[-1])
	}
	t.Logf("%d Notifications, %d Push! reports stored, %d events from the catch-up", n, len(ps), ing.caughtUp)
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
