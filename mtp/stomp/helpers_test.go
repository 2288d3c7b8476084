package stomp_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"github.com/uspkit/uspkit/internal/testenv"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/mtp/mtptest"
	"github.com/uspkit/uspkit/mtp/stomp"
)

// randID returns a fresh name part, so that tests sharing the broker never
// share a queue (RabbitMQ keeps /queue/ destinations between tests).
func randID() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// options returns Options for a client of r subscribed to dest.
func rabbitOptions(r *testenv.Rabbit, useTLS bool, dest string) *stomp.Options {
	o := &stomp.Options{
		Addr: r.Stomp, VirtualHost: "/", Username: "guest", Password: "guest",
		EndpointID: "proto::uspkit-" + randID(), Destination: dest,
		MinWait: 50 * time.Millisecond, Multiplier: 2000, ConnectTimeout: 10 * time.Second,
	}
	if useTLS {
		o.Addr, o.TLS = r.StompTLS, r.PKI.ClientConfig()
		o.OutgoingHeartbeat, o.IncomingHeartbeat = time.Second, time.Second
	}
	return o
}

// rabbitPair is an mtptest.Pair of two clients of r with their own
// destinations; RestartB restarts B's client.
func rabbitPair(t *testing.T, r *testenv.Rabbit, useTLS bool) *mtptest.Pair {
	id := randID()
	da, db := "/queue/usp."+id+".a", "/queue/usp."+id+".b"
	b := stomp.NewClient(rabbitOptions(r, useTLS, db))
	p := &mtptest.Pair{
		A: stomp.NewClient(rabbitOptions(r, useTLS, da)), B: b, AddrOfB: db,
		Limit: stomp.DefaultMaxRecord, Timeout: 20 * time.Second,
	}
	p.RestartB = func(t *testing.T) mtp.Transport {
		b.Close()
		b = stomp.NewClient(rabbitOptions(r, useTLS, db))
		return b
	}
	return p
}

// serve runs c.Serve(h) until the test ends.
func serve(t testing.TB, c *stomp.Client, h mtp.Handler) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- c.Serve(context.Background(), h) }()
	t.Cleanup(func() {
		c.Close()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("Serve did not return after Close")
		}
	})
}

// inbox is a Handler that keeps what arrives.
type inbox chan mtp.Inbound

func newInbox() inbox { return make(inbox, 10000) }

func (ib inbox) HandleRecord(_ context.Context, in mtp.Inbound) {
	in.Record = append([]byte(nil), in.Record...)
	select {
	case ib <- in:
	default:
	}
}

func (ib inbox) next(t testing.TB, timeout time.Duration) mtp.Inbound {
	t.Helper()
	select {
	case in := <-ib:
		return in
	case <-time.After(timeout):
		t.Fatalf("no record within %v", timeout)
		return mtp.Inbound{}
	}
}

// stateEvent is one OnState call.
type stateEvent struct {
	At    time.Time
	Peer  mtp.Peer
	State mtp.State
	Err   error
}

// states records OnState calls.
type states chan stateEvent

func newStates() states { return make(states, 1000) }

func (s states) onState(_ context.Context, p mtp.Peer, st mtp.State, err error) {
	select {
	case s <- stateEvent{time.Now(), p, st, err}:
	default:
	}
}

// wait returns the next event of state want, failing after timeout.
func (s states) wait(t testing.TB, want mtp.State, timeout time.Duration) stateEvent {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case e := <-s:
			if e.State == want {
				return e
			}
		case <-deadline:
			t.Fatalf("no %v state within %v", want, timeout)
			return stateEvent{}
		}
	}
}

// logs is a slog.Handler that keeps every record.
type logs struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (l *logs) Enabled(context.Context, slog.Level) bool { return true }
func (l *logs) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.recs = append(l.recs, r.Clone())
	return nil
}
func (l *logs) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logs) WithGroup(string) slog.Handler      { return l }

// find returns the attributes of the records with message msg.
func (l *logs) find(msg string) []map[string]slog.Value {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]slog.Value
	for _, r := range l.recs {
		if r.Message != msg {
			continue
		}
		m := map[string]slog.Value{"time": slog.TimeValue(r.Time)}
		r.Attrs(func(a slog.Attr) bool { m[a.Key] = a.Value; return true })
		out = append(out, m)
	}
	return out
}

func newLogger(h slog.Handler) *slog.Logger { return slog.New(h) }
