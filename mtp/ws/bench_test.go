package ws_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/mtp/ws"
)

// roundTrip is a connected Client and echoing Server on loopback.
type roundTrip struct {
	cli     *ws.Client
	replies chan int
}

func newRoundTrip(b testing.TB) *roundTrip {
	b.Helper()
	srv := listen(b, "127.0.0.1:0", &ws.Options{EndpointID: ctrlID, PingInterval: -1})
	serve(b, srv, mtp.HandlerFunc(func(ctx context.Context, in mtp.Inbound) {
		if err := srv.Send(ctx, in.From.Address, in.Record); err != nil {
			b.Error(err)
		}
	}))
	rt := &roundTrip{replies: make(chan int, 1)}
	up := make(chan struct{}, 1)
	rt.cli = ws.NewClient(&ws.Options{URL: "ws://" + srv.Addr().String(), EndpointID: agentID, PingInterval: -1,
		OnState: func(_ context.Context, _ mtp.Peer, s mtp.State, _ error) {
			if s == mtp.StateUp {
				up <- struct{}{}
			}
		}})
	serve(b, rt.cli, mtp.HandlerFunc(func(_ context.Context, in mtp.Inbound) { rt.replies <- len(in.Record) }))
	select {
	case <-up:
	case <-time.After(wait):
		b.Fatal("client did not connect")
	}
	return rt
}

func (rt *roundTrip) do(b testing.TB, rec []byte) {
	if err := rt.cli.Send(context.Background(), "", rec); err != nil {
		b.Fatal(err)
	}
	if n := <-rt.replies; n != len(rec) {
		b.Fatalf("reply of %d bytes, want %d", n, len(rec))
	}
}

// BenchmarkRoundTrip: the Client sends a Record, the Server echoes it and
// the Client's Handler gets it, over loopback TCP.
func BenchmarkRoundTrip(b *testing.B) {
	for _, size := range []int{64, 1 << 10, 16 << 10, 64 << 10} {
		b.Run(fmt.Sprint(size), func(b *testing.B) {
			rt := newRoundTrip(b)
			rec := make([]byte, size)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				rt.do(b, rec)
			}
		})
	}
}

// TestRoundTripAllocs guards the hot path: a round trip of a Record, both
// ends included, does not allocate (the read buffers are reused).
func TestRoundTripAllocs(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation guard")
	}
	rt := newRoundTrip(t)
	rec := make([]byte, 1<<10)
	rt.do(t, rec) // warm the buffers
	if n := testing.AllocsPerRun(200, func() { rt.do(t, rec) }); n > 1 {
		t.Errorf("%.1f allocations per round trip, want at most 1", n)
	}
}
