package controller_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/uspkit/uspkit/controller"
	"github.com/uspkit/uspkit/store"
)

// TestExchange checks that the Records of a Get are kept, newest first,
// decoded as JSON with their Msg inline, and forgotten with the Agent.
func TestExchange(t *testing.T) {
	r := startController(t, store.NewMemory())
	startAgent(t, r.url, store.NewMemory())
	waitOnline(t, r.c, true)
	if _, err := r.c.Do(context.Background(), agentID, get("Device.DeviceInfo.SerialNumber")); err != nil {
		t.Fatal(err)
	}
	x := r.c.Exchange(agentID, 0)
	if len(x) < 2 || len(x) > controller.ExchangeRecords {
		t.Fatalf("%d records kept", len(x))
	}
	for i := 1; i < len(x); i++ {
		if x[i].Time.After(x[i-1].Time) {
			t.Errorf("record %d is newer than record %d", i, i-1)
		}
	}
	// The Get sent and its GetResp received, the answer newer than the
	// request; first-contact reads of the Controller may come between.
	sent, recv := -1, -1
	for i, e := range x {
		var rec struct {
			ToID      string `json:"to_id"`
			NoSession struct {
				Payload json.RawMessage `json:"payload"`
			} `json:"no_session_context"`
		}
		if err := json.Unmarshal(e.Record, &rec); err != nil {
			t.Fatalf("record %d: %v: %s", i, err, e.Record)
		}
		p := string(rec.NoSession.Payload)
		switch {
		case e.Direction == "sent" && rec.ToID == agentID && strings.Contains(p, `"get":{"param_paths":["Device.DeviceInfo.SerialNumber"]`):
			sent = i
		case e.Direction == "received" && strings.Contains(p, "get_resp") && strings.Contains(p, `"requested_path":"Device.DeviceInfo.SerialNumber"`):
			recv = i
		}
		if e.MTP != "WebSocket" || e.Size == 0 {
			t.Errorf("entry %d: %+v", i, e)
		}
	}
	if sent < 0 || recv < 0 || recv > sent {
		t.Errorf("Get at %d, GetResp at %d (newest first) in %d records", sent, recv, len(x))
	}
	if got := r.c.Exchange(agentID, 1); len(got) != 1 || !got[0].Time.Equal(x[0].Time) {
		t.Errorf("n=1: %+v", got)
	}
	if got := r.c.Exchange("os::012345-NOBODY", 0); len(got) != 0 {
		t.Errorf("unknown agent: %d records", len(got))
	}
}
