package mqtt_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/mtp/mqtt"
)

// randID returns a fresh name part, so that tests sharing the broker never
// share a topic or a ClientId.
func randID() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// listener names one of the broker's listeners.
type listener int

const (
	plain listener = iota
	mutualTLS
	serverTLS
	password
)

// options returns Options for a client of m on lis, speaking v, with its
// own topic.
func (m *mosquitto) options(t testing.TB, v mqtt.Version, lis listener, topic string) *mqtt.Options {
	t.Helper()
	o := &mqtt.Options{
		Version: v, EndpointID: "proto::uspkit-" + randID(), Topic: topic,
		MinWait: 50 * time.Millisecond, Multiplier: 2000,
		ConnectTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second,
	}
	if os.Getenv("USP_TEST_LOG") != "" {
		o.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("who", topic)
	}
	switch lis {
	case plain:
		o.URL = "tcp://" + m.Plain
	case mutualTLS:
		o.URL, o.TLS = "ssl://"+m.TLS, m.PKI.ClientConfig()
	case serverTLS:
		o.URL = "ssl://" + m.ServerTLS
		o.TLS = m.PKI.ClientConfig()
		o.TLS.Certificates = nil
	case password:
		if m.Auth == "" {
			t.Skip("SKIP: no password listener: mosquitto_passwd not found (Debian's mosquitto package has it)")
		}
		o.URL, o.Username, o.Password = "tcp://"+m.Auth, m.User, m.Password
	}
	return o
}

// serve runs c.Serve(h) until the test ends.
func serve(t testing.TB, c *mqtt.Client, h mtp.Handler) {
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

// connectOnce connects a client with o until it is subscribed, then
// closes it: with a kept session the server then holds the subscription
// (and queues Records) while the real client is not yet connected.
func connectOnce(t testing.TB, o *mqtt.Options) {
	t.Helper()
	st := newStates()
	oo := *o
	oo.OnState = st.onState
	c := mqtt.NewClient(&oo)
	done := make(chan error, 1)
	go func() { done <- c.Serve(context.Background(), newInbox()) }()
	st.wait(t, mtp.StateUp, 20*time.Second)
	c.Close()
	if err := <-done; err != nil {
		t.Fatalf("Serve: %v", err)
	}
}

// inbox is a Handler that keeps what arrives.
type inbox chan mtp.Inbound

func newInbox() inbox { return make(inbox, 100000) }

func (ib inbox) HandleRecord(_ context.Context, in mtp.Inbound) {
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

func slogOf(h slog.Handler) *slog.Logger { return slog.New(h) }

// String returns every record, one a line, for failure messages.
func (l *logs) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b strings.Builder
	for _, r := range l.recs {
		b.WriteString(r.Message)
		r.Attrs(func(a slog.Attr) bool { b.WriteString(" " + a.String()); return true })
		b.WriteString("\n")
	}
	return b.String()
}
