package agent_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/uspkit/uspkit/agent"
	"github.com/uspkit/uspkit/datamodel"
	"github.com/uspkit/uspkit/schema"
	"github.com/uspkit/uspkit/wire"
)

// slowObject is Device.X_TEST_Slow.: a Get of it waits at gate while it is
// not nil.
type slowObject struct {
	gate   chan struct{}
	inside atomic.Int32 // Gets waiting at gate
	most   atomic.Int32 // the most Gets waiting at once

	mu    sync.Mutex
	value string
}

func (s *slowObject) ServeUSP(ctx context.Context, w datamodel.ResponseWriter, r *datamodel.Request) error {
	switch r.Op {
	case datamodel.OpGet:
		s.mu.Lock()
		gate := s.gate
		s.mu.Unlock()
		if gate != nil {
			n := s.inside.Add(1)
			for m := s.most.Load(); n > m && !s.most.CompareAndSwap(m, n); m = s.most.Load() {
			}
			select {
			case <-gate:
			case <-time.After(5 * time.Second):
			}
			s.inside.Add(-1)
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		w.SetValue("Value", s.value)
	case datamodel.OpSet:
		if r.CheckOnly {
			return nil
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		s.value = r.Values["Value"]
	}
	return nil
}

// withSlow gives the Agent a model with Device.X_TEST_Slow. served by s.
func withSlow(s *slowObject) envOption {
	return func(o *agent.Options) {
		m := schema.New()
		agent.Define(m)
		m.Define("Device.X_TEST_Slow.").Param("Value", schema.String(), schema.ReadWrite)
		mux := datamodel.NewMux(m)
		mux.Handle("Device.X_TEST_Slow.", s)
		o.Mux = mux
	}
}

// sendAll sends the requests without waiting and returns the channels
// their replies arrive on.
func (c *ctl) sendAll(reqs ...*wire.Request) []chan *wire.Msg {
	var chs []chan *wire.Msg
	for _, r := range reqs {
		m, ch := c.prepare(r)
		c.send(m)
		chs = append(chs, ch)
	}
	return chs
}

func wait(t *testing.T, ch chan *wire.Msg) *wire.Msg {
	t.Helper()
	select {
	case m := <-ch:
		return m
	case <-time.After(10 * time.Second):
		t.Fatal("no reply")
		return nil
	}
}

// TestConcurrentGets: Gets from one Controller are processed at the same
// time (TR-369 lets responses come back in any order, section "Example
// Message Flows" of Messages); one at a time, only the first would be in
// the handler until its gate opened.
func TestConcurrentGets(t *testing.T) {
	s := &slowObject{gate: make(chan struct{})}
	e := start(t, nil, withSlow(s))
	slowGetsTogether(t, e, s, 4)
}

// slowGetsTogether sends n Gets of the slow object's parameter at once,
// opens its gate once all n are in the handler (or after 5 s), and checks
// that every Get is answered and that all n were in the handler together.
func slowGetsTogether(t *testing.T, e *env, s *slowObject, n int32) {
	t.Helper()
	var reqs []*wire.Request
	for range n {
		reqs = append(reqs, get("Device.X_TEST_Slow.Value"))
	}
	chs := e.ctl.sendAll(reqs...)
	deadline := time.Now().Add(5 * time.Second)
	for s.inside.Load() < n && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	close(s.gate)
	for _, ch := range chs {
		if r := wait(t, ch); r.GetBody().GetResponse().GetGetResp() == nil {
			t.Fatalf("reply %v", r)
		}
	}
	if got := s.most.Load(); got != n {
		t.Errorf("at most %d Gets in the handler at once, want %d", got, n)
	}
}

// TestWritesKeepOrder: a Set waits for the Gets the same Controller sent
// before it, and Gets sent after it see its value.
func TestWritesKeepOrder(t *testing.T) {
	for _, maxConcurrent := range []int{0, 1} {
		t.Run(fmt.Sprint("MaxConcurrent=", maxConcurrent), func(t *testing.T) {
			gate := make(chan struct{})
			s := &slowObject{gate: gate}
			e := start(t, nil, withSlow(s), func(o *agent.Options) { o.MaxConcurrent = maxConcurrent })
			chs := e.ctl.sendAll(get("Device.X_TEST_Slow.Value"),
				setReq(false, "Device.X_TEST_Slow.", "Value", "x"),
				get("Device.X_TEST_Slow.Value"))
			time.Sleep(200 * time.Millisecond) // a Set out of order would run now
			s.mu.Lock()
			s.gate = nil
			s.mu.Unlock()
			close(gate)
			before, set, after := wait(t, chs[0]), wait(t, chs[1]), wait(t, chs[2])
			if set.GetBody().GetResponse().GetSetResp() == nil {
				t.Fatalf("Set: %v", set)
			}
			// The Get sent before the Set reads the old value, the one sent
			// after it the new one.
			if v := value(t, before, "Device.X_TEST_Slow.Value"); v != "" {
				t.Errorf("Get sent before the Set read %q", v)
			}
			if v := value(t, after, "Device.X_TEST_Slow.Value"); v != "x" {
				t.Errorf("Get sent after the Set read %q", v)
			}
		})
	}
}
