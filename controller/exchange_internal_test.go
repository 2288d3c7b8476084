package controller

import (
	"fmt"
	"testing"
	"time"
)

// TestExchangeBounds checks the exchange log's bounds: Records per Agent,
// bytes per Agent, Agents kept, and the largest Record kept whole.
func TestExchangeBounds(t *testing.T) {
	now := time.Unix(1000, 0)
	tests := []struct {
		name          string
		fill          func(x *exchanges)
		agent         string
		wantN         int
		wantNewestLen int // size of the newest entry's kept bytes; -1: not kept
	}{
		{"records per agent", func(x *exchanges) {
			for i := range ExchangeRecords + 10 {
				x.add("a", "sent", "m", make([]byte, 10+i), now)
			}
		}, "a", ExchangeRecords, 10 + ExchangeRecords + 9},
		{"bytes per agent", func(x *exchanges) {
			for range 10 {
				x.add("a", "sent", "m", make([]byte, exchangeMaxRecord), now)
			}
		}, "a", exchangeBytes / exchangeMaxRecord, exchangeMaxRecord},
		{"record over the size kept", func(x *exchanges) {
			x.add("a", "received", "m", make([]byte, exchangeMaxRecord+1), now)
		}, "a", 1, -1},
		{"least recently active agent forgotten", func(x *exchanges) {
			for i := range exchangeAgents + 1 {
				x.add(fmt.Sprint("agent", i), "sent", "m", []byte{1}, now.Add(time.Duration(i)*time.Second))
			}
		}, "agent0", 0, 0},
		{"other agents kept", func(x *exchanges) {
			for i := range exchangeAgents + 1 {
				x.add(fmt.Sprint("agent", i), "sent", "m", []byte{1}, now.Add(time.Duration(i)*time.Second))
			}
		}, "agent1", 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var x exchanges
			tt.fill(&x)
			if len(x.agents) > exchangeAgents {
				t.Errorf("%d agents kept", len(x.agents))
			}
			got := x.list(tt.agent, ExchangeRecords+100)
			if len(got) != tt.wantN {
				t.Fatalf("%d entries, want %d", len(got), tt.wantN)
			}
			if len(got) == 0 {
				return
			}
			switch {
			case tt.wantNewestLen < 0 && got[0].raw != nil:
				t.Errorf("record over the size kept was kept")
			case tt.wantNewestLen >= 0 && len(got[0].raw) != tt.wantNewestLen:
				t.Errorf("newest entry %d bytes, want %d", len(got[0].raw), tt.wantNewestLen)
			}
		})
	}
}

// TestExchangeCopies checks that a kept Record does not change when the
// caller reuses its buffer, as an MTP does with its read buffer.
func TestExchangeCopies(t *testing.T) {
	var x exchanges
	b := []byte{1, 2, 3}
	x.add("a", "received", "m", b, time.Now())
	b[0] = 9
	if got := x.list("a", 1); got[0].raw[0] != 1 {
		t.Errorf("kept record changed with the caller's buffer")
	}
}
