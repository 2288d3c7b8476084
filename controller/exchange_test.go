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
	// The newest two are the GetResp received and the Get sent.
	var resp, req struct {
		ToID      string `json:"to_id"`
		NoSession struct {
			Payload json.RawMessage `json:"payload"`
		} `json:"no_session_context"`
	}
	if x[0].Direction != "received" || x[1].Direction != "sent" {
		t.Fatalf("directions %s, %s", x[0].Direction, x[1].Direction)
	}
	if err := json.Unmarshal(x[0].Record, &resp); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(x[1].Record, &req); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(resp.NoSession.Payload), "get_resp") || !strings.Contains(string(resp.NoSession.Payload), "SerialNumber") {
		t.Errorf("received %s", x[0].Record)
	}
	if req.ToID != agentID || !strings.Contains(string(req.NoSession.Payload), `"get"`) {
		t.Errorf("sent %s", x[1].Record)
	}
	if x[0].MTP != "WebSocket" || x[0].Size == 0 {
		t.Errorf("entry %+v", x[0])
	}
	if got := r.c.Exchange(agentID, 1); len(got) != 1 || got[0].Direction != "received" {
		t.Errorf("n=1: %+v", got)
	}
	if got := r.c.Exchange("os::012345-NOBODY", 0); len(got) != 0 {
		t.Errorf("unknown agent: %d records", len(got))
	}
}
