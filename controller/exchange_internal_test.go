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
			if len(x.agents) > exchangeAgents || x.lru.Len() != len(x.agents) {
				t.Errorf("%d agents kept, %d in the LRU list", len(x.agents), x.lru.Len())
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

// BenchmarkExchangeAdd is the cost the exchange log adds to each Record
// sent or received (a 300-byte Record): with 100 Agents in turn, all
// kept, and with 1000, more than are kept, so that each Record makes room
// for its Agent.
func BenchmarkExchangeAdd(b *testing.B) {
	for _, n := range []int{100, 1000} {
		b.Run(fmt.Sprint(n, "agents"), func(b *testing.B) {
			var x exchanges
			rec := make([]byte, 300)
			ids := make([]string, n)
			for i := range ids {
				ids[i] = fmt.Sprint("os::012345-BENCH", i)
			}
			now := time.Now()
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				x.add(ids[i%len(ids)], "sent", "MQTT", rec, now)
			}
		})
	}
}

// TestExchangeOrder checks that the Records come back newest first after
// the ring has wrapped round, and that an evicted Agent's ring starts
// empty when it is reused.
func TestExchangeOrder(t *testing.T) {
	var x exchanges
	now := time.Unix(1000, 0)
	for i := range 3*ExchangeRecords + 7 {
		x.add("a", "sent", "m", []byte(fmt.Sprint(i)), now)
	}
	got := x.list("a", ExchangeRecords)
	for i, e := range got {
		if want := fmt.Sprint(3*ExchangeRecords + 6 - i); string(e.raw) != want {
			t.Fatalf("entry %d is %q, want %q", i, e.raw, want)
		}
	}
	for i := range exchangeAgents {
		x.add(fmt.Sprint("b", i), "sent", "m", []byte{1}, now.Add(time.Second))
	}
	if got := x.list("a", ExchangeRecords); len(got) != 0 {
		t.Errorf("evicted agent has %d entries", len(got))
	}
	if got := x.list("b0", ExchangeRecords); len(got) != 1 {
		t.Errorf("agent on a reused ring has %d entries, want 1", len(got))
	}
	x.forget("b0")
	if got := x.list("b0", 1); len(got) != 0 || x.lru.Len() != exchangeAgents-1 {
		t.Errorf("forgotten agent: %d entries, %d in the LRU list", len(got), x.lru.Len())
	}
}
