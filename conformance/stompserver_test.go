package conformance

import (
	"bufio"
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/mtp/stomp"
)

// TestReadStompFrame: the runner's frame reader takes STOMP 1.2 frames and
// heart-beats, undoes header escapes but in CONNECT and CONNECTED, and
// refuses malformed or oversized input.
func TestReadStompFrame(t *testing.T) {
	for _, c := range []struct {
		name    string
		in      string
		beat    bool
		cmd     string
		headers map[string]string
		body    string
		bad     bool
	}{
		{name: "heart-beat LF", in: "\n", beat: true},
		{name: "heart-beat CRLF", in: "\r\n", beat: true},
		{name: "STOMP with escapes", in: "STOMP\naccept-version:1.2\nendpoint-id:os\\c\\c012345-X\n\n\x00", cmd: "STOMP",
			headers: map[string]string{"accept-version": "1.2", "endpoint-id": "os::012345-X"}},
		{name: "CONNECT not unescaped", in: "CONNECT\nlogin:a\\cb\n\n\x00", cmd: "CONNECT", headers: map[string]string{"login": `a\cb`}},
		{name: "SEND with content-length and a NUL in the body", in: "SEND\ncontent-length:3\n\na\x00b\x00", cmd: "SEND", body: "a\x00b"},
		{name: "SEND to NUL", in: "SEND\r\ndestination:/q\r\n\r\nhello\x00", cmd: "SEND", headers: map[string]string{"destination": "/q"}, body: "hello"},
		{name: "repeated header, first wins", in: "SEND\nx:1\nx:2\n\n\x00", cmd: "SEND", headers: map[string]string{"x": "1"}},
		{name: "undefined escape", in: "SEND\nx:a\\tb\n\n\x00", bad: true},
		{name: "header without colon", in: "SEND\nnocolon\n\n\x00", bad: true},
		{name: "no NUL after content-length", in: "SEND\ncontent-length:1\n\nab\x00", bad: true},
		{name: "negative content-length", in: "SEND\ncontent-length:-1\n\n\x00", bad: true},
		{name: "content-length over the limit", in: "SEND\ncontent-length:99999\n\n\x00", bad: true},
		{name: "body over the limit", in: "SEND\n\n" + strings.Repeat("x", 2000) + "\x00", bad: true},
		{name: "truncated", in: "SEND\ndestination:/q", bad: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			f, err := readStompFrame(bufio.NewReader(strings.NewReader(c.in)), 1024)
			if c.bad {
				if err == nil {
					t.Fatalf("no error, frame %+v", f)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.beat {
				if f != nil {
					t.Fatalf("frame %+v, want a heart-beat", f)
				}
				return
			}
			if f == nil || f.cmd != c.cmd || string(f.body) != c.body {
				t.Fatalf("frame %+v, want %s with body %q", f, c.cmd, c.body)
			}
			for k, v := range c.headers {
				if got, _ := f.get(k); got != v {
					t.Errorf("header %s = %q, want %q", k, got, v)
				}
			}
		})
	}
}

// TestStompEscapeRoundTrip: what the server writes, its reader reads back.
func TestStompEscapeRoundTrip(t *testing.T) {
	f := &stompFrame{cmd: "MESSAGE", headers: [][2]string{{"reply-to-dest", "a:b\\c\nd\re"}, {"content-length", "2"}}, body: []byte{0, 1}}
	got, err := readStompFrame(bufio.NewReader(bytes.NewReader(appendStompFrame(nil, f))), 1024)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := got.get("reply-to-dest"); v != "a:b\\c\nd\re" || !bytes.Equal(got.body, f.body) {
		t.Errorf("read back %+v", got)
	}
}

func TestStompNegotiate(t *testing.T) {
	for _, c := range []struct {
		client, server string
		out, in        time.Duration
	}{
		{"0,0", "0,0", 0, 0},
		{"15000,10000", "10000,15000", 10 * time.Second, 15 * time.Second},
		{"1000,0", "5000,5000", 0, 5 * time.Second},
		{"0,1000", "500,0", time.Second, 0},
		{"bad", "", 0, 0},
	} {
		out, in := stompNegotiate(c.client, c.server)
		if out != c.out || in != c.in {
			t.Errorf("client %q server %q: send every %v, expect every %v; want %v, %v", c.client, c.server, out, in, c.out, c.in)
		}
	}
}

// TestSTOMPServerWithClient: the STOMP client of package mtp/stomp, the
// Agent's own, takes the subscribe-dest of the server's CONNECTED,
// exchanges heart-beats, and records flow both ways.
func TestSTOMPServerWithClient(t *testing.T) {
	ctx := context.Background()
	srv, err := listenSTOMP(ctx, "127.0.0.1:0", nil, "/queue/controller", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	srv.setShape(func(s *stompShape) { *s = stompShape{subscribeDest: "/queue/from-server", heartBeat: "300,300"} })
	got := make(chan mtp.Inbound, 4)
	c := stomp.NewClient(&stomp.Options{Addr: srv.Addr().String(), EndpointID: "os::012345-STOMPSRV", Destination: "/queue/configured",
		VirtualHost: "vh", Username: "u", Password: "p", OutgoingHeartbeat: 300 * time.Millisecond, IncomingHeartbeat: 300 * time.Millisecond, MinWait: time.Second})
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = c.Serve(cctx, mtp.HandlerFunc(func(_ context.Context, in mtp.Inbound) {
			got <- mtp.Inbound{Record: bytes.Clone(in.Record), From: in.From}
		}))
	}()
	defer func() { cancel(); c.Close(); <-done }()
	e, ok := srv.waitEvent(ctx, 0, 10*time.Second, isFrame("SUBSCRIBE", true))
	if !ok {
		t.Fatal("no SUBSCRIBE")
	}
	if d, _ := e.f.get("destination"); d != "/queue/from-server" {
		t.Errorf("SUBSCRIBE to %q, want the subscribe-dest", d)
	}
	st, _ := srv.waitEvent(ctx, 0, time.Second, isFrame("STOMP", true))
	if id, _ := st.f.get("endpoint-id"); id != "os::012345-STOMPSRV" {
		t.Errorf("endpoint-id %q", id)
	}
	// Heart-beats from the client, about every 300 ms.
	mark := srv.mark()
	if _, ok := srv.waitEvent(ctx, mark, 2*time.Second, func(e stompEvent) bool { return e.in && e.f == nil }); !ok {
		t.Error("no heart-beat from the client")
	}
	for range 20 {
		if err = srv.Send(ctx, "/queue/from-server", []byte("rec-1")); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	select {
	case in := <-got:
		if string(in.Record) != "rec-1" || in.From.Address != "/queue/controller" {
			t.Errorf("client got %q from %q", in.Record, in.From.Address)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the client got nothing")
	}
	toRunner := make(chan mtp.Inbound, 1)
	sctx, scancel := context.WithCancel(ctx)
	defer scancel()
	go srv.Serve(sctx, mtp.HandlerFunc(func(_ context.Context, in mtp.Inbound) { toRunner <- in }))
	time.Sleep(50 * time.Millisecond)
	if err := c.Send(ctx, "/queue/controller", []byte("rec-2")); err != nil {
		t.Fatal(err)
	}
	select {
	case in := <-toRunner:
		if string(in.Record) != "rec-2" || in.From.Address != "/queue/from-server" {
			t.Errorf("runner got %q from %q", in.Record, in.From.Address)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the runner got nothing")
	}
}

// FuzzSTOMPFrame: whatever an Agent under test sends, the runner's STOMP
// frame reader returns frames, heart-beats or an error and never panics.
func FuzzSTOMPFrame(f *testing.F) {
	f.Add([]byte("STOMP\naccept-version:1.2\nhost:vh\nheart-beat:0,0\nendpoint-id:os\\c\\c1\n\n\x00"))
	f.Add([]byte("SEND\ndestination:/q\ncontent-length:2\n\n\x01\x02\x00\n\n"))
	f.Add([]byte("SUBSCRIBE\r\nid:1\r\ndestination:/q\r\nreceipt:r\r\n\r\n\x00"))
	f.Add([]byte("\n\r\n\nDISCONNECT\n\n\x00"))
	f.Add([]byte("SEND\ncontent-length:99999999999\n\n\x00"))
	f.Add([]byte("SEND\nx:\\q\n\n\x00"))
	f.Fuzz(func(t *testing.T, in []byte) {
		r := bufio.NewReader(bytes.NewReader(in))
		for range 64 {
			fr, err := readStompFrame(r, 1<<16)
			if err != nil {
				return
			}
			if fr != nil && len(fr.body) > 1<<16 {
				t.Fatalf("body of %d bytes over the limit", len(fr.body))
			}
		}
	})
}
