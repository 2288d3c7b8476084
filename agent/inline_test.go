package agent_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/uspkit/uspkit/agent"
	"github.com/uspkit/uspkit/mtp"
)

// handOffPipe is a transport that hands its reading over, as mqtt.Client
// does: a Record's Handler runs on a goroutine of its own and the next
// Record is read once it returned, or once it called HandOff.
type handOffPipe struct {
	mtp.Transport
	handOffs atomic.Int32

	mu  sync.Mutex
	off chan struct{} // closed by HandOff for the Record being handled
}

func (p *handOffPipe) Serve(ctx context.Context, h mtp.Handler) error {
	return p.Transport.Serve(ctx, mtp.HandlerFunc(func(ctx context.Context, in mtp.Inbound) {
		off, done := make(chan struct{}), make(chan struct{})
		p.mu.Lock()
		p.off = off
		p.mu.Unlock()
		go func() {
			defer close(done)
			h.HandleRecord(ctx, in)
		}()
		select {
		case <-done:
		case <-off:
		}
	}))
}

func (p *handOffPipe) HandOff() {
	p.handOffs.Add(1)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.off != nil {
		close(p.off)
		p.off = nil
	}
}

func withHandOff(p *handOffPipe) envOption {
	return func(o *agent.Options) {
		p.Transport = o.MTPs[0].Transport
		o.MTPs[0].Transport = p
	}
}

// TestInlineGetsConcurrent: Gets of a parameter, answered on the
// transport's goroutine, still run at the same time when their handler is
// slow (the transport hands its reading over).
func TestInlineGetsConcurrent(t *testing.T) {
	s := &slowObject{gate: make(chan struct{})}
	p := &handOffPipe{}
	e := start(t, nil, withSlow(s), withHandOff(p))
	const n = 4
	slowGetsTogether(t, e, s, n)
	if got := p.handOffs.Load(); got < n {
		t.Errorf("%d hand-offs, want one per Get (%d): the Gets were not answered on the transport's goroutine", got, n)
	}
}

// TestInlineWritesKeepOrder: with Gets answered on the transport's
// goroutine, a Set still waits for the Gets sent before it, and a Get sent
// after the Set reads its value.
func TestInlineWritesKeepOrder(t *testing.T) {
	gate := make(chan struct{})
	s := &slowObject{gate: gate}
	p := &handOffPipe{}
	e := start(t, nil, withSlow(s), withHandOff(p))
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
	if v := value(t, before, "Device.X_TEST_Slow.Value"); v != "" {
		t.Errorf("Get sent before the Set read %q", v)
	}
	if v := value(t, after, "Device.X_TEST_Slow.Value"); v != "x" {
		t.Errorf("Get sent after the Set read %q", v)
	}
	if p.handOffs.Load() == 0 {
		t.Error("no Get was answered on the transport's goroutine")
	}
}
