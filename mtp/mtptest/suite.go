package mtptest

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/uspkit/uspkit/mtp"
)

// Pair is two transports under test, wired so that A reaches B at AddrOfB.
// B answers A at the Peer.Address of each Record it receives.
type Pair struct {
	A, B    mtp.Transport
	AddrOfB string
	// MaxRecord is the largest Record the pair must carry; 0 means 64 KiB.
	MaxRecord int
	// Limit, if not 0, is the transport's hard Record size limit: the suite
	// checks that Send rejects Limit+1 bytes with mtp.ErrTooLarge.
	Limit int
	// RestartB, if not nil, stops and restarts B's side (the peer process
	// or the broker) and returns the new B, already built but not served.
	RestartB func(t *testing.T) mtp.Transport
	// Timeout bounds each step; 0 means 10 seconds.
	Timeout time.Duration
}

// MakePair builds a fresh Pair for one test; the suite closes A and B.
type MakePair func(t *testing.T) *Pair

// Run runs the suite: every case on a fresh Pair from mk.
func Run(t *testing.T, mk MakePair) {
	cases := []struct {
		name string
		f    func(*testing.T, *harness)
	}{
		{"Ordering", testOrdering},
		{"Reply", testReply},
		{"LargeRecords", testLarge},
		{"ConcurrentSenders", testConcurrent},
		{"TooLarge", testTooLarge},
		{"CloseWhileSending", testCloseWhileSending},
		{"SendAfterClose", testSendAfterClose},
		{"PeerRestart", testPeerRestart},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := start(t, mk(t))
			c.f(t, h)
		})
	}
}

// harness serves both ends of a Pair and collects what arrives.
type harness struct {
	p       *Pair
	ctx     context.Context
	timeout time.Duration
	atB     chan mtp.Inbound
	atA     chan mtp.Inbound
	reply   bool // B echoes every Record back to A
	mu      sync.Mutex
	serving sync.WaitGroup
	cancelB context.CancelFunc
}

func start(t *testing.T, p *Pair) *harness {
	t.Helper()
	if p.MaxRecord == 0 {
		p.MaxRecord = 64 << 10
	}
	h := &harness{p: p, timeout: p.Timeout, atB: make(chan mtp.Inbound, 4096), atA: make(chan mtp.Inbound, 4096)}
	if h.timeout == 0 {
		h.timeout = 10 * time.Second
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.ctx = ctx
	h.serve(ctx, p.A, h.atA, false)
	h.serveB(p.B)
	t.Cleanup(func() {
		cancel()
		p.A.Close()
		h.p.B.Close()
		done := make(chan struct{})
		go func() { h.serving.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(h.timeout):
			t.Error("Serve did not return after Close")
		}
	})
	return h
}

func (h *harness) serveB(b mtp.Transport) {
	ctx, cancel := context.WithCancel(h.ctx)
	h.cancelB = cancel
	h.serve(ctx, b, h.atB, true)
}

func (h *harness) serve(ctx context.Context, tr mtp.Transport, into chan mtp.Inbound, isB bool) {
	h.serving.Add(1)
	go func() {
		defer h.serving.Done()
		_ = tr.Serve(ctx, mtp.HandlerFunc(func(ctx context.Context, in mtp.Inbound) {
			in.Record = append([]byte(nil), in.Record...)
			h.mu.Lock()
			reply := isB && h.reply
			h.mu.Unlock()
			if reply {
				_ = tr.Send(ctx, in.From.Address, in.Record)
			}
			select {
			case into <- in:
			default: // the test is not reading; drop rather than block
			}
		}))
	}()
}

// record builds a test Record: a sender id, a sequence number and padding.
func record(sender, seq uint32, size int) []byte {
	if size < 8 {
		size = 8
	}
	b := make([]byte, size)
	binary.BigEndian.PutUint32(b, sender)
	binary.BigEndian.PutUint32(b[4:], seq)
	for i := 8; i < size; i++ {
		b[i] = byte(i*7 + int(seq))
	}
	return b
}

// sendRetry sends, retrying while the transport is still connecting.
func (h *harness) sendRetry(t *testing.T, tr mtp.Transport, addr string, rec []byte) {
	t.Helper()
	deadline := time.Now().Add(h.timeout)
	for {
		err := tr.Send(h.ctx, addr, rec)
		if err == nil {
			return
		}
		if time.Now().After(deadline) || errors.Is(err, mtp.ErrClosed) || errors.Is(err, mtp.ErrTooLarge) {
			t.Fatalf("Send: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (h *harness) expect(t *testing.T, ch chan mtp.Inbound, what string) mtp.Inbound {
	t.Helper()
	select {
	case in := <-ch:
		return in
	case <-time.After(h.timeout):
		t.Fatalf("timed out waiting for %s", what)
		return mtp.Inbound{}
	}
}

func testOrdering(t *testing.T, h *harness) {
	const n = 200
	for i := range uint32(n) {
		h.sendRetry(t, h.p.A, h.p.AddrOfB, record(1, i, 64))
	}
	for i := range uint32(n) {
		in := h.expect(t, h.atB, fmt.Sprintf("record %d", i))
		if want := record(1, i, 64); !bytes.Equal(in.Record, want) {
			t.Fatalf("record %d arrived as %x, want %x", i, in.Record[:8], want[:8])
		}
	}
}

func testReply(t *testing.T, h *harness) {
	h.mu.Lock()
	h.reply = true
	h.mu.Unlock()
	for i := range uint32(20) {
		want := record(2, i, 100)
		h.sendRetry(t, h.p.A, h.p.AddrOfB, want)
		in := h.expect(t, h.atA, "reply")
		if !bytes.Equal(in.Record, want) {
			t.Fatalf("reply %d differs", i)
		}
	}
}

func testLarge(t *testing.T, h *harness) {
	for i, size := range []int{h.p.MaxRecord, h.p.MaxRecord - 1, h.p.MaxRecord / 2, 1} {
		want := record(3, uint32(i), size)
		h.sendRetry(t, h.p.A, h.p.AddrOfB, want)
		in := h.expect(t, h.atB, fmt.Sprintf("record of %d bytes", size))
		if !bytes.Equal(in.Record, want[:max(size, 8)]) {
			t.Fatalf("record of %d bytes arrived with %d bytes or changed", size, len(in.Record))
		}
	}
}

func testConcurrent(t *testing.T, h *harness) {
	const senders, each = 8, 50
	// Make sure the path is up before the burst.
	h.sendRetry(t, h.p.A, h.p.AddrOfB, record(99, 0, 8))
	h.expect(t, h.atB, "warm-up record")
	var wg sync.WaitGroup
	for s := range uint32(senders) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range uint32(each) {
				if err := h.p.A.Send(h.ctx, h.p.AddrOfB, record(s, i, 32)); err != nil {
					t.Errorf("sender %d: %v", s, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	next := make([]uint32, senders)
	for range senders * each {
		in := h.expect(t, h.atB, "concurrent record")
		s, seq := binary.BigEndian.Uint32(in.Record), binary.BigEndian.Uint32(in.Record[4:])
		if s >= senders || seq != next[s] {
			t.Fatalf("sender %d record %d arrived out of order (want %d)", s, seq, next[s])
		}
		next[s]++
	}
}

func testTooLarge(t *testing.T, h *harness) {
	if h.p.Limit == 0 {
		t.Skip("transport declares no hard record size limit")
	}
	err := h.p.A.Send(h.ctx, h.p.AddrOfB, make([]byte, h.p.Limit+1))
	if !errors.Is(err, mtp.ErrTooLarge) {
		t.Fatalf("Send of %d bytes = %v, want ErrTooLarge", h.p.Limit+1, err)
	}
	if l, ok := h.p.A.(mtp.Limited); ok && l.MaxRecord() > h.p.Limit {
		t.Errorf("MaxRecord() = %d, over the %d bytes Send takes", l.MaxRecord(), h.p.Limit)
	}
	// The transport still works.
	h.sendRetry(t, h.p.A, h.p.AddrOfB, record(4, 0, 16))
	h.expect(t, h.atB, "record after rejection")
}

func testCloseWhileSending(t *testing.T, h *harness) {
	h.sendRetry(t, h.p.A, h.p.AddrOfB, record(5, 0, 8))
	h.expect(t, h.atB, "first record")
	var wg sync.WaitGroup
	stop := time.Now().Add(2 * time.Second)
	for s := range uint32(4) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := uint32(0); time.Now().Before(stop); i++ {
				err := h.p.A.Send(h.ctx, h.p.AddrOfB, record(s, i, 256))
				if errors.Is(err, mtp.ErrClosed) {
					return
				}
			}
		}()
	}
	time.Sleep(50 * time.Millisecond)
	if err := h.p.A.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	wg.Wait()
	if err := h.p.A.Send(h.ctx, h.p.AddrOfB, record(6, 0, 8)); !errors.Is(err, mtp.ErrClosed) {
		t.Errorf("Send after Close = %v, want ErrClosed", err)
	}
}

func testSendAfterClose(t *testing.T, h *harness) {
	h.p.A.Close()
	if err := h.p.A.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := h.p.A.Send(h.ctx, h.p.AddrOfB, record(7, 0, 8)); !errors.Is(err, mtp.ErrClosed) {
		t.Errorf("Send after Close = %v, want ErrClosed", err)
	}
}

func testPeerRestart(t *testing.T, h *harness) {
	if h.p.RestartB == nil {
		t.Skip("pair has no restart hook")
	}
	h.sendRetry(t, h.p.A, h.p.AddrOfB, record(8, 0, 16))
	h.expect(t, h.atB, "record before restart")
	h.cancelB()
	h.p.B = h.p.RestartB(t)
	h.serveB(h.p.B)
	// A reconnects by itself; a Record sent now arrives once it has.
	h.sendRetry(t, h.p.A, h.p.AddrOfB, record(8, 1, 16))
	for {
		in := h.expect(t, h.atB, "record after restart")
		if binary.BigEndian.Uint32(in.Record[4:]) == 1 {
			return
		}
	}
}
