package mtp_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/uspkit/uspkit/mtp"
)

// TestRedialWaits checks that the waits between sessions follow the Retry
// ranges [R-WS.19] and that a session whose connection came up starts the
// count again [R-WS.20].
func TestRedialWaits(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	r := mtp.Retry{MinWait: time.Millisecond, Multiplier: 2000, Rand: func() float64 { return 0.5 }}
	var calls []time.Time
	session := func(ctx context.Context) (bool, error) {
		calls = append(calls, time.Now())
		if len(calls) == 7 {
			cancel()
		}
		return len(calls) == 4, errors.New("refused")
	}
	var buf bytes.Buffer
	o := &mtp.RedialOptions{
		Logger: slog.New(slog.NewJSONHandler(&buf, nil)).With("addr", "a:1"),
		Level:  slog.LevelWarn,
		Msg:    "x: not connected; retrying",
	}
	if err := mtp.Redial(ctx, &r, session, o); err != nil {
		t.Fatalf("Redial = %v, want nil after cancel", err)
	}
	lines := logLines(t, &buf)
	wantAttempts := []int{1, 2, 3, 1, 2, 3}
	if len(lines) != len(wantAttempts) || len(calls) != 7 {
		t.Fatalf("%d sessions, %d log lines; want 7 and 6:\n%s", len(calls), len(lines), buf.String())
	}
	for i, l := range lines {
		n := wantAttempts[i]
		lo, hi := r.Range(n)
		wait := time.Duration(l["wait"].(float64))
		if l["msg"] != o.Msg || l["level"] != "WARN" || l["addr"] != "a:1" || l["err"] != "refused" {
			t.Errorf("line %d: %v", i, l)
		}
		if got := int(l["attempt"].(float64)); got != n {
			t.Errorf("line %d: attempt %d, want %d", i, got, n)
		}
		if wait != lo+(hi-lo)/2 {
			t.Errorf("line %d: wait %v, want the middle of %v-%v", i, wait, lo, hi)
		}
		if gap := calls[i+1].Sub(calls[i]); gap < wait {
			t.Errorf("session %d started %v after the one before, under the wait %v", i+2, gap, wait)
		}
	}
}

func TestRedialEnds(t *testing.T) {
	errFatal := errors.New("no topic")
	fatal := func(err error) bool { return errors.Is(err, errFatal) }
	tests := []struct {
		name string
		// session is called with the Redial ctx's cancel func and the
		// number of the call, from 1.
		session   func(ctx context.Context, cancel func(), n int) (bool, error)
		wantErr   error
		wantCalls int
	}{
		{"fatal error", func(_ context.Context, _ func(), n int) (bool, error) {
			if n == 2 {
				return true, errFatal
			}
			return false, errors.New("refused")
		}, errFatal, 2},
		{"fatal error as ctx ends", func(_ context.Context, cancel func(), _ int) (bool, error) {
			cancel()
			return false, errFatal
		}, errFatal, 1},
		{"ctx ends in a session", func(ctx context.Context, cancel func(), _ int) (bool, error) {
			time.AfterFunc(10*time.Millisecond, cancel)
			<-ctx.Done()
			return true, ctx.Err()
		}, nil, 1},
		{"ctx ends in a wait", func(_ context.Context, cancel func(), _ int) (bool, error) {
			time.AfterFunc(10*time.Millisecond, cancel)
			return false, errors.New("refused")
		}, nil, 1},
		{"ctx done before", func(_ context.Context, _ func(), _ int) (bool, error) {
			return false, nil
		}, nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			if tt.wantCalls == 0 {
				cancel()
			}
			calls := 0
			session := func(ctx context.Context) (bool, error) {
				calls++
				return tt.session(ctx, cancel, calls)
			}
			// Waits of an hour but for the case that retries: only the
			// end of ctx stops them in time.
			r := mtp.Retry{MinWait: time.Hour}
			if tt.wantCalls > 1 {
				r.MinWait = time.Millisecond
			}
			start := time.Now()
			err := mtp.Redial(ctx, &r, session, &mtp.RedialOptions{Fatal: fatal})
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Errorf("Redial = %v, want %v", err, tt.wantErr)
			}
			if calls != tt.wantCalls {
				t.Errorf("%d sessions, want %d", calls, tt.wantCalls)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("Redial took %v to end", d)
			}
		})
	}
}

// TestRedialDefaults runs with nil Retry and nil options.
func TestRedialDefaults(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	calls := 0
	err := mtp.Redial(ctx, nil, func(context.Context) (bool, error) {
		calls++
		time.AfterFunc(10*time.Millisecond, cancel)
		return false, errors.New("refused")
	}, nil)
	if err != nil || calls != 1 {
		t.Errorf("Redial = %v after %d sessions, want nil after 1", err, calls)
	}
}

// A client transport's Serve runs its connections through Redial.
func ExampleRedial() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	attempts := 0
	session := func(ctx context.Context) (up bool, err error) {
		// Dial, then serve the connection until it ends.
		if attempts++; attempts == 3 {
			cancel() // Close, in a real transport
		}
		return false, errors.New("dial: connection refused")
	}
	noTime := func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}
	log := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{ReplaceAttr: noTime}))
	retry := mtp.Retry{MinWait: time.Millisecond, Multiplier: 2000, Rand: func() float64 { return 0 }}
	err := mtp.Redial(ctx, &retry, session, &mtp.RedialOptions{
		Logger: log.With("addr", "broker.example:61613"),
		Level:  slog.LevelWarn,
		Msg:    "stomp: not connected; retrying",
	})
	fmt.Println(err)
	// Output:
	// level=WARN msg="stomp: not connected; retrying" addr=broker.example:61613 attempt=1 wait=1ms err="dial: connection refused"
	// level=WARN msg="stomp: not connected; retrying" addr=broker.example:61613 attempt=2 wait=2ms err="dial: connection refused"
	// <nil>
}

// logLines decodes the JSON lines in buf.
func logLines(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var lines []map[string]any
	dec := json.NewDecoder(buf)
	for dec.More() {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			t.Fatalf("log: %v", err)
		}
		lines = append(lines, m)
	}
	return lines
}
