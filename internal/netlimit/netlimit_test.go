package netlimit_test

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/uspkit/uspkit/internal/netlimit"
)

// dialFrom connects to addr from the loopback address src.
func dialFrom(t *testing.T, src, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// alive reports whether the server kept c open: it echoes one byte.
func alive(c net.Conn) bool {
	c.SetDeadline(time.Now().Add(500 * time.Millisecond))
	if _, err := c.Write([]byte{1}); err != nil {
		return false
	}
	var b [1]byte
	_, err := io.ReadFull(c, b[:])
	return err == nil
}

// echo serves ln, echoing bytes, until it closes.
func echo(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() { io.Copy(c, c); c.Close() }()
	}
}

func TestLimits(t *testing.T) {
	tests := []struct {
		name      string
		o         netlimit.Options
		srcs      []string // one connection each, in order
		wantAlive []bool
	}{
		{"per source", netlimit.Options{MaxConns: 10, MaxPerSource: 2},
			[]string{"127.0.0.2", "127.0.0.2", "127.0.0.2", "127.0.0.3"}, []bool{true, true, false, true}},
		{"whole listener", netlimit.Options{MaxConns: 3, MaxPerSource: 5},
			[]string{"127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"}, []bool{true, true, true, false}},
		{"no caps", netlimit.Options{MaxConns: -1, MaxPerSource: -1},
			[]string{"127.0.0.2", "127.0.0.2", "127.0.0.2"}, []bool{true, true, true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inner, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			ln := netlimit.Wrap(inner, &tt.o)
			defer ln.Close()
			go echo(ln)
			for i, src := range tt.srcs {
				c := dialFrom(t, src, ln.Addr().String())
				if got := alive(c); got != tt.wantAlive[i] {
					t.Errorf("connection %d from %s: alive %v, want %v", i, src, got, tt.wantAlive[i])
				}
			}
		})
	}
}

func TestSlotReleasedOnClose(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := netlimit.Wrap(inner, &netlimit.Options{MaxPerSource: 1})
	defer ln.Close()
	go echo(ln)
	c := dialFrom(t, "127.0.0.2", ln.Addr().String())
	if !alive(c) {
		t.Fatal("first connection refused")
	}
	c.Close()
	for i := 0; ; i++ { // the server sees the close asynchronously
		if open, _ := ln.Stats(); open == 0 {
			break
		}
		if i == 100 {
			t.Fatal("slot not released")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !alive(dialFrom(t, "127.0.0.2", ln.Addr().String())) {
		t.Error("a connection after the first closed was refused")
	}
	if _, refused := ln.Stats(); refused != 0 {
		t.Errorf("refused %d, want 0", refused)
	}
}

// failing is a listener whose Accept fails like one out of descriptors.
type failing struct {
	net.Listener
	calls atomic.Int32
}

func (f *failing) Accept() (net.Conn, error) {
	f.calls.Add(1)
	return nil, errors.New("accept tcp: too many open files")
}

func TestAcceptBackOff(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &failing{Listener: inner}
	ln := netlimit.Wrap(f, nil)
	done := make(chan error, 1)
	go func() { _, err := ln.Accept(); done <- err }()
	time.Sleep(300 * time.Millisecond)
	ln.Close()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("Accept did not return after Close")
	}
	// 5+10+20+40+80+160 ms: at most 7 tries in 300 ms, where a spin
	// would make millions.
	if n := f.calls.Load(); n > 8 || n < 3 {
		t.Errorf("%d Accept calls in 300 ms, want 3..8 (backed off)", n)
	}
}

// TestFullListenerEvictsIdle: when the listener is full, a connection from
// a quieter source takes the place of the oldest connection, of the
// busiest source, that has not sent a byte; connections that talk are
// never closed for it.
func TestFullListenerEvictsIdle(t *testing.T) {
	for _, tc := range []struct {
		name       string
		talk       bool // the first four connections have sent a byte
		wantAdmit  bool
		wantClosed int // of the first four
	}{
		{"idle ones make room", false, true, 1},
		{"talking ones stay", true, false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inner, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			ln := netlimit.Wrap(inner, &netlimit.Options{MaxConns: 4, MaxPerSource: 10})
			defer ln.Close()
			go echo(ln)
			var first []net.Conn
			for range 4 {
				c := dialFrom(t, "127.0.0.2", ln.Addr().String())
				if tc.talk && !alive(c) {
					t.Fatal("a talking connection was refused")
				}
				first = append(first, c)
			}
			for i := 0; ; i++ { // the server accepts asynchronously
				if open, _ := ln.Stats(); open == 4 {
					break
				}
				if i == 100 {
					t.Fatal("the first four were not accepted")
				}
				time.Sleep(10 * time.Millisecond)
			}
			if got := alive(dialFrom(t, "127.0.0.3", ln.Addr().String())); got != tc.wantAdmit {
				t.Errorf("a connection from another address: admitted %v, want %v", got, tc.wantAdmit)
			}
			closed := 0
			for _, c := range first {
				c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
				var b [1]byte
				if _, err := c.Read(b[:]); err != nil {
					var ne net.Error
					if !errors.As(err, &ne) || !ne.Timeout() {
						closed++
					}
				}
			}
			if closed != tc.wantClosed {
				t.Errorf("%d of the first four closed, want %d", closed, tc.wantClosed)
			}
		})
	}
}

// TestRefusalsLogSparingly: a flood of refused connections makes one log
// line per second, not one per connection.
func TestRefusalsLogSparingly(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var buf syncBuffer
	ln := netlimit.Wrap(inner, &netlimit.Options{MaxPerSource: 1, Logger: slog.New(slog.NewTextHandler(&buf, nil))})
	defer ln.Close()
	go echo(ln)
	for range 50 {
		c := dialFrom(t, "127.0.0.2", ln.Addr().String())
		alive(c)
	}
	if _, refused := ln.Stats(); refused != 49 {
		t.Errorf("%d refused, want 49", refused)
	}
	if n := strings.Count(buf.String(), "limit reached"); n < 1 || n > 3 {
		t.Errorf("%d log lines for 49 refusals, want 1 to 3", n)
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
