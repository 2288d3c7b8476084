package mtpbench_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/uspkit/uspkit/internal/testenv"
	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/mtp/stomp"
	"github.com/uspkit/uspkit/mtp/uds"
	"github.com/uspkit/uspkit/mtp/ws"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// pair is a client transport and an echoing server transport.
type pair struct {
	name    string
	a, b    mtp.Transport
	addrOfB string
}

// roundTrips measures n sequential round trips of a size-byte Record.
func roundTrips(t *testing.T, p pair, n, size int) (perSec float64, p50, p99 time.Duration) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	back := make(chan struct{}, 1)
	done := make(chan struct{}, 2)
	go func() {
		p.b.Serve(ctx, mtp.HandlerFunc(func(ctx context.Context, in mtp.Inbound) { p.b.Send(ctx, in.From.Address, in.Record) }))
		done <- struct{}{}
	}()
	go func() {
		p.a.Serve(ctx, mtp.HandlerFunc(func(context.Context, mtp.Inbound) { back <- struct{}{} }))
		done <- struct{}{}
	}()
	defer func() { cancel(); p.a.Close(); p.b.Close(); <-done; <-done }()
	rec := make([]byte, size)
	// Warm up until the path works.
	for deadline := time.Now().Add(30 * time.Second); ; {
		p.a.Send(ctx, p.addrOfB, rec)
		select {
		case <-back:
		case <-time.After(200 * time.Millisecond):
			if time.Now().After(deadline) {
				t.Fatalf("%s: no echo", p.name)
			}
			continue
		}
		break
	}
	lat := make([]time.Duration, n)
	start := time.Now()
	for i := range n {
		s := time.Now()
		if err := p.a.Send(ctx, p.addrOfB, rec); err != nil {
			t.Fatalf("%s: %v", p.name, err)
		}
		select {
		case <-back:
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: round trip %d lost", p.name, i)
		}
		lat[i] = time.Since(s)
	}
	total := time.Since(start)
	slices.Sort(lat)
	return float64(n) / total.Seconds(), lat[n/2], lat[n*99/100]
}

// TestMTPRoundTrips prints one table for every MTP: 300 round trips
// each, or 5,000 with USP_MTP_BENCH=1.
func TestMTPRoundTrips(t *testing.T) {
	n := 300
	if os.Getenv("USP_MTP_BENCH") == "1" {
		n = 5000
	}
	var rows []string
	measure := func(p pair) {
		rps, p50, p99 := roundTrips(t, p, n, 512)
		rows = append(rows, fmt.Sprintf("| %s | %d | %.0f | %v | %v |", p.name, n, rps, p50.Round(time.Microsecond), p99.Round(time.Microsecond)))
	}
	ctx := context.Background()

	srv, err := ws.Listen(ctx, "127.0.0.1:0", &ws.Options{EndpointID: "proto::b"})
	if err != nil {
		t.Fatal(err)
	}
	measure(pair{name: "WebSocket", a: ws.NewClient(&ws.Options{URL: "ws://" + srv.Addr().String() + "/", EndpointID: "proto::a", MinWait: 50 * time.Millisecond}),
		b: srv, addrOfB: ""})

	sock := filepath.Join(t.TempDir(), "usp.sock")
	us := uds.NewServer(&uds.Options{Path: sock, EndpointID: "proto::b"})
	measure(pair{name: "Unix domain socket", a: uds.NewClient(&uds.Options{Path: sock, EndpointID: "proto::a", MinWait: 50 * time.Millisecond}), b: us, addrOfB: "proto::b"})

	if r := rabbit(t); r != nil {
		opt := func(id, dest string) *stomp.Options {
			return &stomp.Options{Addr: r.Stomp, Username: "guest", Password: "guest", EndpointID: id, Destination: dest, MinWait: 50 * time.Millisecond}
		}
		measure(pair{name: "STOMP via RabbitMQ", a: stomp.NewClient(opt("proto::a", "/queue/bench.a")), b: stomp.NewClient(opt("proto::b", "/queue/bench.b")), addrOfB: "/queue/bench.b"})
	}
	for _, m := range extraMTPs(t) {
		measure(m)
	}
	t.Logf("\n| MTP | round trips | per second | p50 | p99 |\n|---|---:|---:|---:|---:|\n%s", joinLines(rows))
}

func rabbit(t *testing.T) *testenv.Rabbit { return testenv.RabbitMQ(t) }

func joinLines(rows []string) string {
	out := ""
	for _, r := range rows {
		out += r + "\n"
	}
	return out
}
