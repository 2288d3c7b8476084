package controller

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/mtp/mtptest"
	"github.com/uspkit/uspkit/record"
)

// TestExchangeKeepsRefusal checks that the Disconnect Record with 7106 the
// Controller sends to refuse a Session Context [R-E2E.6a] is in the
// Agent's exchange log, newer than the Record it answers.
func TestExchangeKeepsRefusal(t *testing.T) {
	ctlEnd, agentEnd := mtptest.NewPipe("proto::ctl", "proto::agent-a", nil)
	c := newBare(t, Options{Admission: AdmitAll, MTPs: []MTP{{Name: "UDS", Protocol: "UDS", Transport: ctlEnd}}})
	peer := mtp.Peer{Address: "proto::agent-a", EndpointID: "proto::agent-a"}
	got := make(chan []byte, 4)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go agentEnd.Serve(ctx, mtp.HandlerFunc(func(_ context.Context, in mtp.Inbound) { got <- in.Record }))

	sess := &record.Record{Version: record.Version, ToID: "proto::ctl", FromID: "proto::agent-a", Type: record.TypeSessionContext,
		Session: record.SessionContext{SessionID: 1, SequenceID: 1, ExpectedID: 1, Payload: [][]byte{{1}}}}
	b, err := sess.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	c.handle(ctx, &c.opt.MTPs[0], mtp.Inbound{Record: b, From: peer})
	select {
	case <-got:
	case <-time.After(2 * time.Second):
		t.Fatal("no Disconnect Record answered the session context record")
	}
	// First contact may also send the Agent a Get: look for the
	// Disconnect among the Records kept, newest first.
	x := c.Exchange("proto::agent-a", 0)
	disc, recv := -1, -1
	for i, e := range x {
		var rec struct {
			ToID       string `json:"to_id"`
			Disconnect struct {
				ReasonCode uint32 `json:"reason_code"`
			} `json:"disconnect"`
		}
		if e.Direction == "received" { // the only one: the session context
			recv = i
			continue
		}
		if err := json.Unmarshal(e.Record, &rec); err != nil {
			t.Fatalf("entry %d: %v: %s", i, err, e.Record)
		}
		if e.Direction == "sent" && e.MTP == "UDS" && rec.ToID == "proto::agent-a" && rec.Disconnect.ReasonCode == 7106 {
			disc = i
		}
	}
	if disc < 0 || recv < 0 || disc > recv {
		t.Errorf("Disconnect sent at %d, session context received at %d (newest first) in %d records", disc, recv, len(x))
	}
}
