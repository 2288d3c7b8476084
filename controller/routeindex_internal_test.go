package controller

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/store"
)

// newFleetOnline returns a Controller with n Agents online, Agent i over
// the WebSocket connection "conn-i", as after n Agents connected.
func newFleetOnline(tb testing.TB, n int) (*Controller, *MTP) {
	tb.Helper()
	c, err := New(context.Background(), Options{EndpointID: "proto::ctl", Store: store.NewMemory(), MaxEvents: 100,
		MTPs: []MTP{{Protocol: "WebSocket"}}})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.stopBG(); c.wg.Wait() })
	m := &c.opt.MTPs[0]
	now := time.Now()
	c.mu.Lock()
	for i := range n {
		a := &Agent{ID: fmt.Sprintf("proto::agent-%d", i), Online: true}
		c.agents[a.ID] = a
		c.heardLocked(a, m, fmt.Sprint("conn-", i), now)
	}
	c.mu.Unlock()
	return c, m
}

// reconnect brings every Agent of c back online on its connection.
func reconnect(c *Controller, m *MTP, n int) {
	now := time.Now()
	c.mu.Lock()
	for i := range n {
		a := c.agents[fmt.Sprintf("proto::agent-%d", i)]
		a.Online = true
		c.heardLocked(a, m, fmt.Sprint("conn-", i), now)
	}
	c.mu.Unlock()
}

// TestOnStateRoutes checks which Agents a connection's end takes offline:
// only those whose last route it was; an Agent with another route moves
// to it and stays online [R-MTP.7].
func TestOnStateRoutes(t *testing.T) {
	c, ws := newFleetOnline(t, 3)
	c.opt.MTPs = append(c.opt.MTPs, MTP{Name: "MQTT", Protocol: "MQTT"})
	mq := &c.opt.MTPs[1]
	ctx := context.Background()
	c.mu.Lock()
	a1 := c.agents["proto::agent-1"]
	c.heardLocked(a1, mq, "usp/agent-1", time.Now())
	c.heardLocked(a1, ws, "conn-1", time.Now()) // current again: WebSocket
	c.mu.Unlock()
	down := c.OnState("WebSocket")
	tests := []struct {
		addr          string
		offline       []string
		currentOf1    string
		indexedRoutes int
	}{
		// An offline Agent keeps its last route as its current one.
		{"conn-0", []string{"proto::agent-0"}, "conn-1", 4},
		{"conn-9", []string{"proto::agent-0"}, "conn-1", 4},
		{"conn-1", []string{"proto::agent-0"}, "usp/agent-1", 3},
		{"conn-2", []string{"proto::agent-0", "proto::agent-2"}, "usp/agent-1", 3},
	}
	for _, tt := range tests {
		down(ctx, mtp.Peer{Address: tt.addr}, mtp.StateDown, nil)
		for _, a := range c.Agents() {
			want := true
			for _, id := range tt.offline {
				want = want && a.ID != id
			}
			if a.Online != want {
				t.Errorf("after %s closed: %s online %v", tt.addr, a.ID, a.Online)
			}
		}
		if a, _ := c.Agent("proto::agent-1"); a.Address != tt.currentOf1 {
			t.Errorf("after %s closed: agent-1's route %s %s, want %s", tt.addr, a.MTP, a.Address, tt.currentOf1)
		}
		c.mu.Lock()
		n := len(c.byRoute)
		c.mu.Unlock()
		if n != tt.indexedRoutes {
			t.Errorf("after %s closed: %d routes indexed, want %d", tt.addr, n, tt.indexedRoutes)
		}
	}
	for i := range 3 {
		if err := c.DeleteAgent(ctx, fmt.Sprint("proto::agent-", i)); err != nil {
			t.Fatal(err)
		}
	}
	if len(c.byRoute) != 0 {
		t.Errorf("routes still indexed after the last Agent was deleted: %v", c.byRoute)
	}
}

// TestOnStateScales checks that the end of one connection costs the same
// whatever the number of Agents: 200 disconnects among 20,000 Agents take
// less than fifteen times as long as among 1000 (scanning every Agent made
// it about fifty times as long).
func TestOnStateScales(t *testing.T) {
	perDisconnect := func(n int) time.Duration {
		c, m := newFleetOnline(t, n)
		down := c.OnState(m.Name)
		ctx := context.Background()
		best := time.Duration(1 << 62)
		for range 5 { // the best of five, so that a busy machine does not decide
			reconnect(c, m, n)
			runtime.GC()
			start := time.Now()
			for i := range 200 {
				down(ctx, mtp.Peer{Address: fmt.Sprint("conn-", i)}, mtp.StateDown, nil)
			}
			best = min(best, time.Since(start)/200)
		}
		return best
	}
	small, large := perDisconnect(1000), perDisconnect(20000)
	t.Logf("one disconnect: %v among 1000 agents, %v among 20,000", small, large)
	if large > 15*small {
		t.Errorf("one disconnect costs %v among 20,000 agents, %v among 1000", large, small)
	}
}

// BenchmarkOnStateMassDisconnect is 10,000 Agents, each on its own
// connection, all disconnecting (one op: all 10,000 OnState calls, each
// taking its Agent offline and recording the event).
func BenchmarkOnStateMassDisconnect(b *testing.B) {
	const n = 10000
	c, m := newFleetOnline(b, n)
	down := c.OnState(m.Name)
	ctx := context.Background()
	peers := make([]mtp.Peer, n)
	for i := range peers {
		peers[i] = mtp.Peer{Address: fmt.Sprint("conn-", i)}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		reconnect(c, m, n)
		b.StartTimer()
		for _, p := range peers {
			down(ctx, p, mtp.StateDown, nil)
		}
	}
}
