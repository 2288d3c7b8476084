package stomp_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/uspkit/uspkit/internal/testenv"
	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/mtp/stomp"
)

// BenchmarkRoundTrip sends a Record from A to B through RabbitMQ and waits
// for B's echo, sent to the reply-to-dest of the Record.
func BenchmarkRoundTrip(b *testing.B) {
	r := testenv.RabbitMQ(b)
	for _, useTLS := range []bool{false, true} {
		for _, size := range []int{256, 4 << 10, 64 << 10} {
			name := map[bool]string{false: "tcp", true: "tls"}[useTLS] + "/" + strconv.Itoa(size)
			b.Run(name, func(b *testing.B) { benchRoundTrip(b, r, useTLS, size) })
		}
	}
}

func benchRoundTrip(b *testing.B, r *testenv.Rabbit, useTLS bool, size int) {
	id := randID()
	da, db := "/queue/usp."+id+".a", "/queue/usp."+id+".b"
	oa, ob := rabbitOptions(r, useTLS, da), rabbitOptions(r, useTLS, db)
	sa, sb := newStates(), newStates()
	oa.OnState, ob.OnState = sa.onState, sb.onState
	a, echo := stomp.NewClient(oa), stomp.NewClient(ob)
	back := make(chan int, 1)
	serve(b, a, mtp.HandlerFunc(func(_ context.Context, in mtp.Inbound) { back <- len(in.Record) }))
	serve(b, echo, mtp.HandlerFunc(func(ctx context.Context, in mtp.Inbound) {
		if err := echo.Send(ctx, in.From.Address, in.Record); err != nil {
			b.Error(err)
		}
	}))
	sa.wait(b, mtp.StateUp, 20*time.Second)
	sb.wait(b, mtp.StateUp, 20*time.Second)
	rec := make([]byte, size)
	ctx := context.Background()
	lost := time.NewTimer(time.Hour)
	defer lost.Stop()
	b.SetBytes(int64(size))
	b.ReportAllocs()
	for b.Loop() {
		if err := a.Send(ctx, db, rec); err != nil {
			b.Fatal(err)
		}
		lost.Reset(10 * time.Second)
		select {
		case n := <-back:
			if n != size {
				b.Fatalf("echo of %d bytes, want %d", n, size)
			}
		case <-lost.C:
			b.Fatal("no echo within 10s")
		}
	}
}
