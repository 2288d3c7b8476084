package ws_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/mtp/ws"
)

// agentLikePair is a Client and a Server on loopback whose Serve and Send
// contexts can be cancelled, as an Agent's are: the Server's Handler
// answers where it gets the Record, after HandOff when handOff is set,
// with the Handler's ctx.
type agentLikePair struct {
	ctx     context.Context
	cli     *ws.Client
	replies chan int
}

func newAgentLikePair(b testing.TB, handOff bool) *agentLikePair {
	b.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	srv := listen(b, "127.0.0.1:0", &ws.Options{EndpointID: ctrlID})
	h := mtp.HandlerFunc(func(ctx context.Context, in mtp.Inbound) {
		if handOff {
			srv.HandOff()
		}
		if err := srv.Send(ctx, in.From.Address, in.Record); err != nil {
			b.Error(err)
		}
	})
	go srv.Serve(ctx, h)
	b.Cleanup(func() { srv.Close() })
	p := &agentLikePair{ctx: ctx, replies: make(chan int, 1)}
	up := make(chan struct{}, 1)
	p.cli = ws.NewClient(&ws.Options{URL: "ws://" + srv.Addr().String(), EndpointID: agentID,
		OnState: func(_ context.Context, _ mtp.Peer, s mtp.State, _ error) {
			if s == mtp.StateUp {
				up <- struct{}{}
			}
		}})
	go p.cli.Serve(ctx, mtp.HandlerFunc(func(_ context.Context, in mtp.Inbound) { p.replies <- len(in.Record) }))
	b.Cleanup(func() { p.cli.Close() })
	select {
	case <-up:
	case <-time.After(wait):
		b.Fatal("client did not connect")
	}
	return p
}

func (p *agentLikePair) do(b testing.TB, rec []byte) {
	if err := p.cli.Send(p.ctx, "", rec); err != nil {
		b.Fatal(err)
	}
	if n := <-p.replies; n != len(rec) {
		b.Fatalf("reply of %d bytes, want %d", n, len(rec))
	}
}

// BenchmarkRoundTripAgentLike: BenchmarkRoundTrip with cancellable
// contexts on both sides (an Agent's), the Server answering in its
// Handler, with and without HandOff.
func BenchmarkRoundTripAgentLike(b *testing.B) {
	for _, handOff := range []bool{false, true} {
		for _, size := range []int{64, 1 << 10} {
			b.Run(fmt.Sprintf("handoff=%v/%d", handOff, size), func(b *testing.B) {
				p := newAgentLikePair(b, handOff)
				rec := make([]byte, size)
				b.SetBytes(int64(size))
				b.ReportAllocs()
				for b.Loop() {
					p.do(b, rec)
				}
			})
		}
	}
}

// TestSendCancellableCtxAllocs: a Send whose ctx can be cancelled but has
// no deadline does not allocate (no watch of the ctx per message), nor
// does a Handler's HandOff: a round trip with both, both ends included,
// allocates at most once, as one with context.Background does.
func TestSendCancellableCtxAllocs(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation guard")
	}
	p := newAgentLikePair(t, true)
	rec := make([]byte, 1<<10)
	p.do(t, rec) // warm the buffers
	if n := testing.AllocsPerRun(200, func() { p.do(t, rec) }); n > 1 {
		t.Errorf("%.1f allocations per round trip, want at most 1", n)
	}
}

// TestSendDeadlineStillBounds: a Send on an open connection whose ctx has
// a deadline that has passed, or is cancelled, fails rather than writing.
func TestSendDeadlineStillBounds(t *testing.T) {
	p := newAgentLikePair(t, false)
	p.do(t, []byte("up")) // the queue is flushed: Send writes
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	if err := p.cli.Send(ctx, "", []byte("late")); err == nil {
		t.Error("Send with an expired deadline succeeded")
	}
	cctx, ccancel := context.WithCancel(context.Background())
	ccancel()
	if err := p.cli.Send(cctx, "", []byte("cancelled")); err == nil {
		t.Error("Send with a cancelled ctx succeeded")
	}
}
