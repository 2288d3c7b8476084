package mqtt_test

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/mtp/mqtt"
)

// BenchmarkRoundTrip sends a Record from A to B through mosquitto and
// waits for B's echo, published to the "reply to" Topic of the Record, at
// QoS 1 both ways: two PUBLISH/PUBACK exchanges with the broker per
// round trip.
func BenchmarkRoundTrip(b *testing.B) {
	m := sharedMosquitto(b)
	for _, v := range []mqtt.Version{mqtt.V5, mqtt.V311} {
		for _, lis := range []listener{plain, mutualTLS} {
			for _, size := range []int{256, 4 << 10, 64 << 10} {
				name := map[mqtt.Version]string{mqtt.V5: "v5", mqtt.V311: "v311"}[v] + "/" +
					map[listener]string{plain: "tcp", mutualTLS: "tls"}[lis] + "/" + strconv.Itoa(size)
				b.Run(name, func(b *testing.B) { benchRoundTrip(b, m, v, lis, size) })
			}
		}
	}
}

func benchRoundTrip(b *testing.B, m *mosquitto, v mqtt.Version, lis listener, size int) {
	id := randID()
	ta, tb := "usp/bench/"+id+"/a", "usp/bench/"+id+"/b"
	oa, ob := m.options(b, v, lis, ta), m.options(b, v, lis, tb)
	sa, sb := newStates(), newStates()
	oa.OnState, ob.OnState = sa.onState, sb.onState
	a, echo := mqtt.NewClient(oa), mqtt.NewClient(ob)
	back := make(chan int, 1)
	var done atomic.Bool
	defer done.Store(true)
	serve(b, a, mtp.HandlerFunc(func(_ context.Context, in mtp.Inbound) { back <- len(in.Record) }))
	serve(b, echo, mtp.HandlerFunc(func(ctx context.Context, in mtp.Inbound) {
		// The last echo may reach A before its PUBACK reaches B, which is
		// then closed while it waits for it.
		if err := echo.Send(ctx, in.From.Address, in.Record); err != nil && !done.Load() {
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
		if err := a.Send(ctx, tb, rec); err != nil {
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
