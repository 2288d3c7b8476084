package uds_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/mtp/uds"
)

// BenchmarkRoundTrip sends a Record from a Client to a Server, which
// echoes it, and waits for the echo.
func BenchmarkRoundTrip(b *testing.B) {
	for _, size := range []int{64, 1 << 10, 16 << 10, 64 << 10} {
		b.Run(fmt.Sprint(size), func(b *testing.B) {
			path := sockPath(b)
			srv := uds.NewServer(opts(path, serverID))
			serve(b, srv, mtp.HandlerFunc(func(ctx context.Context, in mtp.Inbound) {
				if err := srv.Send(ctx, in.From.Address, in.Record); err != nil {
					b.Error(err)
				}
			}))
			echo := make(chan struct{}, 1)
			cli := uds.NewClient(opts(path, clientID))
			serve(b, cli, mtp.HandlerFunc(func(context.Context, mtp.Inbound) { echo <- struct{}{} }))
			ctx := context.Background()
			rec := make([]byte, size)
			// Warm up: the first Record waits for the Handshake.
			if err := cli.Send(ctx, serverID, rec); err != nil {
				b.Fatal(err)
			}
			<-echo
			b.SetBytes(int64(size))
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if err := cli.Send(ctx, serverID, rec); err != nil {
					b.Fatal(err)
				}
				<-echo
			}
		})
	}
}

// TestRoundTripAllocs guards the Record path: writing a frame allocates
// nothing, and reading one allocates only the Record the Handler is
// given, so an echo costs two allocations in all.
func TestRoundTripAllocs(t *testing.T) {
	path := sockPath(t)
	srv := uds.NewServer(opts(path, serverID))
	serve(t, srv, mtp.HandlerFunc(func(ctx context.Context, in mtp.Inbound) {
		srv.Send(ctx, in.From.Address, in.Record)
	}))
	echo := make(chan struct{}, 1)
	cli := uds.NewClient(opts(path, clientID))
	serve(t, cli, mtp.HandlerFunc(func(context.Context, mtp.Inbound) { echo <- struct{}{} }))
	ctx := context.Background()
	rec := make([]byte, 512)
	roundTrip := func() {
		if err := cli.Send(ctx, serverID, rec); err != nil {
			t.Fatal(err)
		}
		<-echo
	}
	roundTrip()
	if n := testing.AllocsPerRun(200, roundTrip); n > 2 {
		t.Errorf("round trip: %v allocs, want at most 2", n)
	}
}
