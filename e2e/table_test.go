package e2e_test

import (
	"errors"
	"testing"
	"time"

	"github.com/uspkit/uspkit/e2e"
	"github.com/uspkit/uspkit/record"
)

func policy(mode e2e.Mode, cfg e2e.Config) e2e.Policy {
	return func(string) (e2e.Mode, e2e.Config) { return mode, cfg }
}

// TestTableNewSessionFromPeer: a Record with a session_id not known starts
// a session with that id [R-E2E.4], and another id replaces it (TP-469
// 3.9) [R-E2E.6]; answers go in the peer's session from sequence_id 1.
func TestTableNewSessionFromPeer(t *testing.T) {
	agt := e2e.NewTable("os::agent", policy(e2e.Allow, e2e.Config{}))
	if agt.Uses("proto::ctl") {
		t.Fatal("Allow uses a session before the peer starts one")
	}
	for _, id := range []uint64{7, 9, 11} {
		ctl := e2e.NewSession("proto::ctl", "os::agent", id, e2e.Config{})
		got, restart, err := agt.Receive(wireTrip(t, send(t, ctl, "get")[0], 0), t0)
		if err != nil || restart != nil || len(got.Msgs) != 1 {
			t.Fatalf("session %d: %v %v %d", id, err, restart, len(got.Msgs))
		}
		recs, err := agt.Send("proto::ctl", []byte("resp"), t0)
		if err != nil {
			t.Fatal(err)
		}
		if recs[0].Session.SessionID != id || recs[0].Session.SequenceID != 1 {
			t.Fatalf("answer in session %d seq %d, want %d seq 1", recs[0].Session.SessionID, recs[0].Session.SequenceID, id)
		}
	}
}

// TestTableRestartOnFailure: a failure restarts the session with a new id
// chosen here, announced by an empty Record with sequence_id 1
// [R-E2E.21, R-E2E.3].
func TestTableRestartOnFailure(t *testing.T) {
	agt := e2e.NewTable("os::agent", policy(e2e.Allow, e2e.Config{}))
	ctl := e2e.NewSession("proto::ctl", "os::agent", 5, e2e.Config{})
	r := send(t, ctl, "x")[0]
	r.Session.PayloadSAR = record.SARStateComplete
	_, restart, err := agt.Receive(r, t0)
	if !errors.Is(err, e2e.ErrBadSegment) || restart == nil {
		t.Fatalf("err %v restart %v", err, restart)
	}
	if restart.Session.SessionID <= 1 || restart.Session.SessionID == 5 || restart.Session.SequenceID != 1 || len(restart.Session.Payload) != 0 {
		t.Fatalf("restart record %+v", restart.Session)
	}
	if s := agt.Session("proto::ctl"); s == nil || s.ID() != restart.Session.SessionID {
		t.Fatal("the new session is not the current one")
	}
}

func TestTableForbid(t *testing.T) {
	agt := e2e.NewTable("os::agent", policy(e2e.Forbid, e2e.Config{}))
	ctl := e2e.NewSession("proto::ctl", "os::agent", 5, e2e.Config{})
	if _, _, err := agt.Receive(send(t, ctl, "x")[0], t0); !errors.Is(err, e2e.ErrNotAllowed) {
		t.Fatalf("err = %v, want ErrNotAllowed", err)
	}
	if _, err := agt.Send("proto::ctl", []byte("x"), t0); !errors.Is(err, e2e.ErrNotAllowed) {
		t.Fatalf("Send: %v", err)
	}
}

// TestTableExpiration follows TP-469 3.10: within SessionExpiration the
// Records share a session; after an idle time beyond it, the next Record
// starts a new one [R-E2E.7].
func TestTableExpiration(t *testing.T) {
	agt := e2e.NewTable("os::agent", policy(e2e.Require, e2e.Config{Expiration: 5 * time.Second}))
	if !agt.Uses("proto::ctl") {
		t.Fatal("Require does not use a session")
	}
	var ids []uint64
	for _, at := range []time.Duration{0, 4 * time.Second, 8 * time.Second, 20 * time.Second} {
		recs, err := agt.Send("proto::ctl", []byte("notify"), t0.Add(at))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, recs[0].Session.SessionID)
	}
	if ids[0] != ids[1] || ids[1] != ids[2] || ids[2] == ids[3] {
		t.Fatalf("session ids %v: want the first three equal (each within 5 s of the last) and the fourth new", ids)
	}
	if n := agt.Expire(t0.Add(time.Minute)); n != 1 {
		t.Fatalf("Expire forgot %d sessions, want 1", n)
	}
}

// TestTableSettingsApplyToSession: a SessionExpiration set while a
// session runs applies to it: the next Record after that idle time
// starts a new session [R-E2E.7].
func TestTableSettingsApplyToSession(t *testing.T) {
	cfg := e2e.Config{}
	tab := e2e.NewTable("os::agent", func(string) (e2e.Mode, e2e.Config) { return e2e.Allow, cfg })
	first, err := tab.Send("proto::ctl", []byte("notify-1"), t0)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Expiration = 5 * time.Second
	again, _ := tab.Send("proto::ctl", []byte("notify-2"), t0.Add(2*time.Second))
	if again[0].Session.SessionID != first[0].Session.SessionID {
		t.Fatal("a new session within the expiration")
	}
	later, _ := tab.Send("proto::ctl", []byte("notify-3"), t0.Add(10*time.Second))
	if later[0].Session.SessionID == first[0].Session.SessionID || later[0].Session.SequenceID != 1 {
		t.Fatalf("after the expiration set meanwhile: session %d, sequence_id %d", later[0].Session.SessionID, later[0].Session.SequenceID)
	}
}
