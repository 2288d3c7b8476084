package ws

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/uspkit/uspkit/mtp"
)

// rawPeer is a WebSocket client written by hand, so that a test decides
// how its frames are cut into writes.
type rawPeer struct {
	c net.Conn
	r *bufio.Reader
}

func dialRaw(t *testing.T, addr string) *rawPeer {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(c, "GET /usp?eid=doc::raw HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: %s\r\n\r\n", addr, Subprotocol)
	p := &rawPeer{c: c, r: bufio.NewReader(c)}
	status, err := p.r.ReadString('\n')
	if err != nil || !strings.Contains(status, " 101 ") {
		t.Fatalf("handshake: %q, %v", status, err)
	}
	for {
		line, err := p.r.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if line == "\r\n" {
			return p
		}
	}
}

// frame is one masked binary message of fewer than 126 bytes.
func frame(payload string) []byte {
	mask := [4]byte{1, 2, 3, 4}
	b := []byte{0x82, 0x80 | byte(len(payload)), mask[0], mask[1], mask[2], mask[3]}
	for i := range len(payload) {
		b = append(b, payload[i]^mask[i%4])
	}
	return b
}

// read reads one unmasked binary message of fewer than 126 bytes.
func (p *rawPeer) read(t *testing.T) string {
	t.Helper()
	var h [2]byte
	if _, err := io.ReadFull(p.r, h[:]); err != nil {
		t.Fatal(err)
	}
	if h[0] != 0x82 || h[1]&0x80 != 0 || h[1] >= 126 {
		t.Fatalf("frame header % x", h)
	}
	b := make([]byte, h[1])
	if _, err := io.ReadFull(p.r, b); err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// onlyLink returns the Server's one connection.
func onlyLink(t *testing.T, s *Server) *link {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.live) != 1 {
		t.Fatalf("%d connections", len(s.live))
	}
	for l := range s.live {
		return l
	}
	return nil
}

// corkServer is a Server on loopback whose Handler echoes each Record where
// it gets it, after HandOff when handOff is set, then waits for hold.
func corkServer(t *testing.T, handOff bool, hold time.Duration) *Server {
	t.Helper()
	s, err := Listen(context.Background(), "127.0.0.1:0", &Options{EndpointID: "doc::server", PingInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	h := mtp.HandlerFunc(func(ctx context.Context, in mtp.Inbound) {
		if handOff {
			s.HandOff()
		}
		if err := s.Send(ctx, in.From.Address, in.Record); err != nil {
			t.Error(err)
		}
		time.Sleep(hold)
	})
	done := make(chan struct{})
	go func() { defer close(done); _ = s.Serve(context.Background(), h) }()
	t.Cleanup(func() { s.Close(); <-done })
	return s
}

// TestCorkOneWritePerRead: the answers to Records that came in one read,
// each sent by its Handler after HandOff, leave in one write, in order.
func TestCorkOneWritePerRead(t *testing.T) {
	s := corkServer(t, true, 0)
	p := dialRaw(t, s.Addr().String())
	// A first Record, so that the connection is registered and idle.
	if _, err := p.c.Write(frame("r0")); err != nil {
		t.Fatal(err)
	}
	if got := p.read(t); got != "r0" {
		t.Fatalf("got %q", got)
	}
	l := onlyLink(t, s)
	if l.cork == nil {
		t.Fatal("the Server's connection has no corkConn")
	}
	before := l.cork.writes.Load()
	var batch []byte
	for i := 1; i <= 8; i++ {
		batch = append(batch, frame(fmt.Sprintf("r%d", i))...)
	}
	if _, err := p.c.Write(batch); err != nil { // eight Records, one write
		t.Fatal(err)
	}
	for i := 1; i <= 8; i++ {
		if got, want := p.read(t), fmt.Sprintf("r%d", i); got != want {
			t.Fatalf("got %q, want %q", got, want)
		}
	}
	// The eight answers may take two writes when the reader meets the
	// end of its buffer in the middle of the batch; never eight.
	if n := l.cork.writes.Load() - before; n > 2 {
		t.Errorf("%d writes for the answers to one read of 8 Records, want 1 or 2", n)
	}
}

// TestCorkNotHeld: writes are not held for long. A Handler that did not
// call HandOff may run for long, so what it sends goes out at once; one
// that called HandOff and runs on has what it sent go out when the
// reading is handed over (a millisecond).
func TestCorkNotHeld(t *testing.T) {
	for _, handOff := range []bool{false, true} {
		t.Run(fmt.Sprintf("handoff=%v", handOff), func(t *testing.T) {
			s := corkServer(t, handOff, 500*time.Millisecond)
			p := dialRaw(t, s.Addr().String())
			start := time.Now()
			if _, err := p.c.Write(frame("slow")); err != nil {
				t.Fatal(err)
			}
			if got := p.read(t); got != "slow" {
				t.Fatalf("got %q", got)
			}
			if d := time.Since(start); d > 250*time.Millisecond {
				t.Errorf("the answer came after %v, while its Handler ran on", d)
			}
		})
	}
}

// BenchmarkCorkBatch: a peer sends 8 Records in one write and reads the 8
// answers, which the Server's Handler sends after HandOff; writes/op is
// the Server's system-call writes per batch.
func BenchmarkCorkBatch(b *testing.B) {
	s, err := Listen(context.Background(), "127.0.0.1:0", &Options{EndpointID: "doc::server", PingInterval: -1})
	if err != nil {
		b.Fatal(err)
	}
	h := mtp.HandlerFunc(func(ctx context.Context, in mtp.Inbound) {
		s.HandOff()
		_ = s.Send(ctx, in.From.Address, in.Record)
	})
	go s.Serve(context.Background(), h)
	defer s.Close()
	c, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "GET /usp?eid=doc::raw HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: %s\r\n\r\n", Subprotocol)
	r := bufio.NewReader(c)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			b.Fatal(err)
		}
		if line == "\r\n" {
			break
		}
	}
	var batch []byte
	for range 8 {
		batch = append(batch, frame(strings.Repeat("x", 100))...)
	}
	reply := make([]byte, 8*(2+100))
	do := func() {
		if _, err := c.Write(batch); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(r, reply); err != nil {
			b.Fatal(err)
		}
	}
	do()
	s.mu.Lock()
	var l *link
	for x := range s.live {
		l = x
	}
	s.mu.Unlock()
	w0 := l.cork.writes.Load()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		do()
	}
	b.ReportMetric(float64(l.cork.writes.Load()-w0)/float64(b.N), "writes/op")
}

// TestCorkCloseAnswered: a Close frame from the peer is answered with a
// Close frame [R-WS.8] by both roles, though the answer is written while
// the reader is busy (held) and the connection closed right after.
func TestCorkCloseAnswered(t *testing.T) {
	t.Run("server", func(t *testing.T) {
		s := corkServer(t, true, 0)
		p := dialRaw(t, s.Addr().String())
		// Close frame, status 1000, masked.
		mask := [4]byte{9, 8, 7, 6}
		payload := []byte{0x03, 0xe8}
		f := []byte{0x88, 0x80 | byte(len(payload)), mask[0], mask[1], mask[2], mask[3]}
		for i, b := range payload {
			f = append(f, b^mask[i%4])
		}
		if _, err := p.c.Write(f); err != nil {
			t.Fatal(err)
		}
		var h [2]byte
		if _, err := io.ReadFull(p.r, h[:]); err != nil {
			t.Fatalf("no Close frame in answer: %v", err)
		}
		if h[0] != 0x88 {
			t.Errorf("answer frame % x, want a Close frame", h)
		}
	})
	t.Run("client", func(t *testing.T) {
		// A plain WebSocket server closes the session first; its Close
		// returns nil only once the client's Close frame came back.
		got := make(chan error, 1)
		hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{Subprotocol}})
			if err != nil {
				got <- err
				return
			}
			time.Sleep(50 * time.Millisecond) // the client's reader is idle
			got <- c.Close(websocket.StatusNormalClosure, "bye")
		}))
		defer hs.Close()
		cli := NewClient(&Options{URL: "ws" + strings.TrimPrefix(hs.URL, "http") + "/usp", EndpointID: "doc::agent", PingInterval: -1,
			MinWait: time.Hour})
		done := make(chan struct{})
		go func() {
			defer close(done)
			_ = cli.Serve(context.Background(), mtp.HandlerFunc(func(context.Context, mtp.Inbound) {}))
		}()
		defer func() { cli.Close(); <-done }()
		select {
		case err := <-got:
			if err != nil {
				t.Errorf("the server's Close: %v (no Close frame in answer)", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("timed out")
		}
	})
}
