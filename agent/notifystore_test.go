package agent_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/uspkit/uspkit/agent"
	"github.com/uspkit/uspkit/store"
)

// countingStore counts the pending notifications written to a store.
type countingStore struct {
	agent.Store
	mu      sync.Mutex
	notifys int
}

func (c *countingStore) Apply(ctx context.Context, b *store.Batch) error {
	c.mu.Lock()
	for _, it := range b.PutItems {
		if it.Kind == "notify" {
			c.notifys++
		}
	}
	c.mu.Unlock()
	return c.Store.Apply(ctx, b)
}

func (c *countingStore) written() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.notifys
}

const onBoard = "Device.LocalAgent.Controller.1.SendOnBoardRequest()"

// TestNotifyAnsweredNotStored: a Notify with send_resp that its Controller
// answers at once is never written to the store [R-NOT.1].
func TestNotifyAnsweredNotStored(t *testing.T) {
	cs := &countingStore{}
	e := start(t, nil, func(o *agent.Options) { cs.Store = o.Store; o.Store = cs })
	const n = 20
	for range n {
		r := e.ctl.do(operateReq(onBoard, "", true, nil))
		if r.GetBody().GetResponse().GetOperateResp() == nil {
			t.Fatalf("operate: %v", r)
		}
		if m := e.ctl.notification(2 * time.Second); m.GetBody().GetRequest().GetNotify().GetOnBoardReq() == nil {
			t.Fatalf("notify: %v", m)
		}
	}
	time.Sleep(2 * time.Second) // past the store delay, several timer ticks
	if got := cs.written(); got != 0 {
		t.Errorf("%d answered notifications written to the store, want 0", got)
	}
	if got := len(items(t, e.store, "notify")); got != 0 {
		t.Errorf("%d notifications in the store", got)
	}
}

// TestNotifyUnansweredStored: a Notify still unanswered after the store
// delay is written to the store, removed on its NotifyResp, and one
// unanswered when the Agent stops is written then and resent after the
// restart [R-NOT.6a].
func TestNotifyUnansweredStored(t *testing.T) {
	st := store.NewMemory()
	e := start(t, st)
	e.ctl.mu.Lock()
	e.ctl.autoAck = false
	e.ctl.mu.Unlock()

	e.ctl.do(operateReq(onBoard, "", true, nil))
	first := e.ctl.notification(2 * time.Second)
	id := first.GetHeader().GetMsgId()
	deadline := time.Now().Add(5 * time.Second)
	for len(items(t, st, "notify")) == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if got := items(t, st, "notify"); len(got) != 1 || got[0].ID != id {
		t.Fatalf("stored %v, want %s", got, id)
	}
	e.ctl.send(respNotify(id, ""))
	deadline = time.Now().Add(5 * time.Second)
	for len(items(t, st, "notify")) != 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if got := items(t, st, "notify"); len(got) != 0 {
		t.Fatalf("still stored after the response: %v", got)
	}

	// Unanswered at the stop, well within the store delay.
	e.ctl.do(operateReq(onBoard, "", true, nil))
	second := e.ctl.notification(2 * time.Second)
	e.stop()
	if got := items(t, st, "notify"); len(got) != 1 || got[0].ID != second.GetHeader().GetMsgId() {
		t.Fatalf("stored at stop %v, want %s", got, second.GetHeader().GetMsgId())
	}
	e = start(t, st)
	again := e.ctl.notification(3 * time.Second)
	if again.GetHeader().GetMsgId() != second.GetHeader().GetMsgId() {
		t.Fatalf("after restart: %v, want %s resent", again, second.GetHeader().GetMsgId())
	}
	// Answered (the Controller acknowledges on its own): gone from the store.
	deadline = time.Now().Add(5 * time.Second)
	for len(items(t, st, "notify")) != 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if got := items(t, st, "notify"); len(got) != 0 {
		t.Fatalf("still stored after the response: %v", got)
	}
}
