package controller

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/usperr"
	"github.com/uspkit/uspkit/wire"
)

// refusing is a transport that refuses Records over max bytes with
// mtp.ErrTooLarge and every Record with err while err is set.
type refusing struct {
	mu   sync.Mutex
	err  error
	max  int
	sent int
}

func (f *refusing) Serve(ctx context.Context, h mtp.Handler) error { <-ctx.Done(); return nil }
func (f *refusing) Close() error                                   { return nil }
func (f *refusing) Send(ctx context.Context, addr string, rec []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case f.max > 0 && len(rec) > f.max:
		return fmt.Errorf("refusing: %d bytes: %w", len(rec), mtp.ErrTooLarge)
	case f.err != nil:
		return f.err
	}
	f.sent++
	return nil
}

func getReq(paths ...string) *wire.Request {
	return &wire.Request{ReqType: &wire.Request_Get{Get: &wire.Get{ParamPaths: paths}}}
}

func newRefusing(t *testing.T, f *refusing, online bool) (*Controller, string) {
	t.Helper()
	c, err := New(context.Background(), Options{EndpointID: "proto::ctl", MTPs: []MTP{{Protocol: "MQTT", Transport: f}}})
	if err != nil {
		t.Fatal(err)
	}
	const id = "os::012345-SENDFAIL"
	ag := &Agent{ID: id, Online: online}
	c.agents[id] = ag
	c.heardLocked(ag, c.mtpNamed("MQTT"), "usp/agent/x", time.Now())
	return c, id
}

// TestSendFailure checks what Do makes of a transport's refusal: a
// Record too large is refused at once with ErrTooLarge; an Agent the
// transport cannot reach gets the request queued; any other refusal is
// ErrNotSent at once, the Agent still online and nothing queued.
func TestSendFailure(t *testing.T) {
	tests := []struct {
		name   string
		err    error
		want   error
		queued int
	}{
		{"too large", fmt.Errorf("x: %w", mtp.ErrTooLarge), ErrTooLarge, 0},
		{"peer away", fmt.Errorf("x: %w", mtp.ErrNoPeer), ErrQueued, 1},
		{"queue full", fmt.Errorf("x: %w", mtp.ErrQueueFull), ErrQueued, 1},
		{"refused by the broker", errors.New("mqtt: publish refused with reason code 0x97"), ErrNotSent, 0},
		{"caller's deadline", fmt.Errorf("mqtt: publish: %w", context.DeadlineExceeded), ErrTimeout, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, id := newRefusing(t, &refusing{err: tt.err}, true)
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			start := time.Now()
			_, err := c.Do(ctx, id, getReq("Device.LocalAgent."))
			if !errors.Is(err, tt.want) {
				t.Fatalf("Do = %v, want %v", err, tt.want)
			}
			if tt.queued == 0 && time.Since(start) > 100*time.Millisecond {
				t.Errorf("Do took %v, want at once", time.Since(start))
			}
			a, _ := c.Agent(id)
			if s := c.Stats(); s.Queued != tt.queued || !a.Online || s.InFlight != 0 {
				t.Errorf("after Do: %d queued, online %v, %d in flight; want %d queued, online", s.Queued, a.Online, s.InFlight, tt.queued)
			}
		})
	}
}

// TestQueuedTooLarge checks that a queued request that the transport
// refuses as too large when the Agent returns (its limit shrank
// meanwhile) is answered with an Error 7005, as a "response" event, and
// does not hold up the requests queued after it.
func TestQueuedTooLarge(t *testing.T) {
	f := &refusing{}
	c, id := newRefusing(t, f, false)
	events, stop := c.Subscribe()
	defer stop()
	var ids []string
	for _, req := range []*wire.Request{getReq(strings.Repeat("x", 2000)), getReq("Device.LocalAgent.")} {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		_, err := c.Do(ctx, id, req)
		cancel()
		if !errors.Is(err, ErrQueued) {
			t.Fatalf("Do for an offline agent = %v, want ErrQueued", err)
		}
		ids = append(ids, strings.TrimSuffix(err.Error()[strings.LastIndex(err.Error(), " ")+1:], ")"))
	}
	f.mu.Lock()
	f.max = 1000
	f.mu.Unlock()
	c.flush(context.Background(), id)
	if s := c.Stats(); s.Queued != 0 || f.sent != 1 {
		t.Fatalf("after the flush: %d queued, %d sent; want none queued, the small one sent", s.Queued, f.sent)
	}
	select {
	case e := <-events:
		if e.Kind != "response" || e.MsgID != ids[0] || !strings.Contains(string(e.Msg), fmt.Sprint(usperr.CodeResourcesExceeded)) {
			t.Fatalf("event %+v %s, want an Error 7005 response to %s", e, e.Msg, ids[0])
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no answer to the queued request that cannot be sent")
	}
}
