package stomp_test

// Tests against an in-process fake STOMP server, for what RabbitMQ cannot
// show or produce: the bytes of our own frames, a server that names the
// destination, and malformed frames from the server.

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/mtp/stomp"
)

// fakeServer accepts connections on a loopback port.
type fakeServer struct {
	ln    net.Listener
	conns chan *fakeConn
}

func newFake(t *testing.T) *fakeServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &fakeServer{ln: ln, conns: make(chan *fakeConn, 64)}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			fc := &fakeConn{nc: nc}
			fc.rd = stomp.NewReader(io.TeeReader(nc, &fc.raw), 0, 0)
			s.conns <- fc
		}
	})
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
		close(s.conns)
		for fc := range s.conns {
			fc.nc.Close()
		}
	})
	return s
}

func (s *fakeServer) addr() string { return s.ln.Addr().String() }

// accept returns the next connection; the test's cleanup closes it.
func (s *fakeServer) accept(t *testing.T) *fakeConn {
	t.Helper()
	select {
	case fc := <-s.conns:
		t.Cleanup(func() { fc.nc.Close() })
		return fc
	case <-time.After(10 * time.Second):
		t.Fatal("no connection to the fake server")
		return nil
	}
}

// fakeConn is the server's end of one connection; raw keeps the bytes
// read so far.
type fakeConn struct {
	nc  net.Conn
	rd  *stomp.Reader
	raw bytes.Buffer
}

func (fc *fakeConn) read(t *testing.T) stomp.Frame {
	t.Helper()
	var f stomp.Frame
	fc.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	if err := fc.rd.ReadFrame(&f); err != nil {
		t.Fatalf("fake server read: %v", err)
	}
	return f
}

func (fc *fakeConn) write(t *testing.T, s string) {
	t.Helper()
	if _, err := fc.nc.Write([]byte(s)); err != nil {
		t.Fatalf("fake server write: %v", err)
	}
}

// handshake answers the STOMP frame with connected and the SUBSCRIBE
// frame with its receipt, and returns both frames.
func (fc *fakeConn) handshake(t *testing.T, connected string) (stompF, sub stomp.Frame) {
	t.Helper()
	stompF = fc.read(t)
	fc.write(t, connected)
	sub = fc.read(t)
	id, _ := sub.Get("receipt")
	fc.write(t, "RECEIPT\nreceipt-id:"+id+"\n\n\x00")
	return stompF, sub
}

const connected12 = "CONNECTED\nversion:1.2\nheart-beat:0,0\n\n\x00"

func fakeOptions(s *fakeServer, st states) *stomp.Options {
	return &stomp.Options{Addr: s.addr(), EndpointID: "proto::agent", Destination: "/queue/configured",
		MinWait: 10 * time.Millisecond, Multiplier: 2000, ConnectTimeout: 5 * time.Second, OnState: st.onState}
}

func wantHeaders(t *testing.T, f stomp.Frame, kv ...string) {
	t.Helper()
	for i := 0; i < len(kv); i += 2 {
		if v, ok := f.Get(kv[i]); !ok || v != kv[i+1] {
			t.Errorf("%s header %s = %q (present %v), want %q", f.Command, kv[i], v, ok, kv[i+1])
		}
	}
}

// TestSessionFrames checks the frames the client sends and how it reads
// the server's: the STOMP frame and its headers [R-STOMP.2]-[R-STOMP.5],
// [R-STOMP.8]-[R-STOMP.10], the subscription to the server's
// subscribe-dest [R-STOMP.6], [R-STOMP.12]-[R-STOMP.14], [R-STOMP.17], a
// SEND frame [R-STOMP.18]-[R-STOMP.22], the reply-to-dest of a MESSAGE
// [R-STOMP.23], a MESSAGE that is not a USP Record, and DISCONNECT
// [R-STOMP.28].
func TestSessionFrames(t *testing.T) {
	cases := []struct {
		name    string
		out, in time.Duration
		want    string
	}{
		{"no heart-beats", 0, 0, "0,0"},
		{"heart-beats", 1500 * time.Millisecond, 2500 * time.Millisecond, "1500,2500"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, st, got := newFake(t), newStates(), newInbox()
			o := fakeOptions(s, st)
			o.VirtualHost, o.Username, o.Password, o.EndpointID = "vh", "user", "p:w", "proto::agent:1"
			o.OutgoingHeartbeat, o.IncomingHeartbeat = tc.out, tc.in
			c := stomp.NewClient(o)
			serve(t, c, got)
			fc := s.accept(t)
			stompF, sub := fc.handshake(t, "CONNECTED\nversion:1.2\nheart-beat:0,0\nsubscribe-dest:/queue/from-server\n\n\x00")
			if stompF.Command != "STOMP" {
				t.Errorf("first frame %s, want STOMP", stompF.Command)
			}
			wantHeaders(t, stompF, "accept-version", "1.2", "host", "vh", "login", "user", "passcode", "p:w",
				"heart-beat", tc.want, "endpoint-id", "proto::agent:1")
			if !bytes.Contains(fc.raw.Bytes(), []byte("\nendpoint-id:proto\\c\\cagent\\c1\n")) {
				t.Errorf("endpoint-id not escaped on the wire:\n%q", fc.raw.Bytes())
			}
			wantHeaders(t, sub, "destination", "/queue/from-server", "ack", "auto")
			if id, _ := sub.Get("id"); sub.Command != "SUBSCRIBE" || id == "" {
				t.Errorf("%s frame with id %q, want SUBSCRIBE with an id", sub.Command, id)
			}
			st.wait(t, mtp.StateUp, 5*time.Second)
			if d := c.Destination(); d != "/queue/from-server" {
				t.Errorf("Destination() = %q, want the subscribe-dest", d)
			}

			rec := []byte{0x0a, 0x00, 0x3a, 0x5c, 0x0d}
			if err := c.Send(context.Background(), "/queue/ctrl:1", rec); err != nil {
				t.Fatal(err)
			}
			send := fc.read(t)
			wantHeaders(t, send, "destination", "/queue/ctrl:1", "content-type", "application/vnd.bbf.usp.msg",
				"content-length", strconv.Itoa(len(rec)), "reply-to-dest", "/queue/from-server")
			if send.Command != "SEND" || !bytes.Equal(send.Body, rec) {
				t.Errorf("%s frame with body %x, want SEND with %x", send.Command, send.Body, rec)
			}

			fc.write(t, "MESSAGE\nsubscription:usp\ncontent-type:text/plain\n\njunk\x00")
			fc.write(t, "MESSAGE\nsubscription:usp\ncontent-type:application/vnd.bbf.usp.msg\nreply-to-dest:/queue/ctrl\\c1\ncontent-length:3\n\n\x00\x01\x02\x00")
			in := got.next(t, 5*time.Second)
			if !bytes.Equal(in.Record, []byte{0, 1, 2}) || in.From.Address != "/queue/ctrl:1" {
				t.Errorf("got %x from %q, want 000102 from /queue/ctrl:1", in.Record, in.From.Address)
			}

			closed := make(chan struct{})
			go func() { c.Close(); close(closed) }()
			bye := fc.read(t)
			id, _ := bye.Get("receipt")
			if bye.Command != "DISCONNECT" || id == "" {
				t.Errorf("%s frame with receipt %q, want DISCONNECT with a receipt", bye.Command, id)
			}
			fc.write(t, "RECEIPT\nreceipt-id:"+id+"\n\n\x00")
			<-closed
		})
	}
}

// TestConfiguredDestination checks that without subscribe-dest the client
// subscribes to Options.Destination [R-STOMP.15], and that a MESSAGE that
// comes before the subscription's receipt is not lost.
func TestConfiguredDestination(t *testing.T) {
	s, st, got := newFake(t), newStates(), newInbox()
	c := stomp.NewClient(fakeOptions(s, st))
	serve(t, c, got)
	fc := s.accept(t)
	fc.read(t)
	fc.write(t, connected12)
	sub := fc.read(t)
	wantHeaders(t, sub, "destination", "/queue/configured")
	if d := c.Destination(); d != "/queue/configured" {
		t.Errorf("Destination() = %q, want the configured one", d)
	}
	id, _ := sub.Get("receipt")
	fc.write(t, "MESSAGE\nreply-to-dest:/queue/x\n\nearly\x00RECEIPT\nreceipt-id:"+id+"\n\n\x00")
	st.wait(t, mtp.StateUp, 5*time.Second)
	if in := got.next(t, 5*time.Second); string(in.Record) != "early" || in.From.Address != "/queue/x" {
		t.Errorf("got %q from %q", in.Record, in.From.Address)
	}
}

// TestNoDestination checks that with no subscribe-dest and no configured
// destination the client says DISCONNECT and retries [R-STOMP.16].
func TestNoDestination(t *testing.T) {
	s, st := newFake(t), newStates()
	o := fakeOptions(s, st)
	o.Destination = ""
	serve(t, stomp.NewClient(o), newInbox())
	for range 2 {
		fc := s.accept(t)
		fc.read(t)
		fc.write(t, connected12)
		if f := fc.read(t); f.Command != "DISCONNECT" {
			t.Fatalf("got %s, want DISCONNECT", f.Command)
		}
		var f stomp.Frame
		if err := fc.rd.ReadFrame(&f); err != io.EOF {
			t.Fatalf("after DISCONNECT: %v, want the client to close", err)
		}
	}
	select {
	case e := <-st:
		t.Errorf("unexpected state %v", e.State)
	default:
	}
}

// TestBadServerFrames checks that a session ends, and the client comes
// back, on an ERROR frame [R-STOMP.25] and on frames that break STOMP
// 1.2 or the size limit; the bad frame never reaches the handler.
func TestBadServerFrames(t *testing.T) {
	const maxRecord = 1024
	oversize := strconv.Itoa(maxRecord + 4<<10 + 1)
	cases := []struct {
		name  string
		frame string
		check func(error) bool
	}{
		{"ERROR frame", "ERROR\nmessage:go away\ncontent-length:3\n\nbye\x00", func(err error) bool {
			var se *stomp.ServerError
			return errors.As(err, &se) && se.Message == "go away" && se.Body == "bye"
		}},
		{"bad header escape", "MESSAGE\nreply-to-dest:/queue/a\\tb\n\nrec\x00", isErr(stomp.ErrMalformed)},
		{"oversize body", "MESSAGE\ncontent-length:" + oversize + "\n\n" + strings.Repeat("x", 100), isErr(stomp.ErrFrameTooLarge)},
		{"oversize body without content-length", "MESSAGE\n\n" + strings.Repeat("x", maxRecord+4<<10+10), isErr(stomp.ErrFrameTooLarge)},
		{"unknown command", "HELLO\n\n\x00", isErr(stomp.ErrMalformed)},
		{"no NUL after body", "MESSAGE\ncontent-length:1\n\nab\x00", isErr(stomp.ErrMalformed)},
		{"cut short", "MESSAGE\ncontent-length:10\n\nab", isErr(io.ErrUnexpectedEOF)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, st, got := newFake(t), newStates(), newInbox()
			o := fakeOptions(s, st)
			o.MaxRecord = maxRecord
			serve(t, stomp.NewClient(o), got)
			fc := s.accept(t)
			fc.handshake(t, connected12)
			st.wait(t, mtp.StateUp, 5*time.Second)
			fc.write(t, tc.frame)
			if strings.HasSuffix(tc.name, "cut short") {
				fc.nc.Close()
			}
			if down := st.wait(t, mtp.StateDown, 5*time.Second); !tc.check(down.Err) {
				t.Errorf("StateDown with %v", down.Err)
			}
			fc = s.accept(t)
			fc.handshake(t, connected12)
			st.wait(t, mtp.StateUp, 5*time.Second)
			fc.write(t, "MESSAGE\nreply-to-dest:/queue/x\n\ngood\x00")
			if in := got.next(t, 5*time.Second); string(in.Record) != "good" {
				t.Errorf("first record delivered %q, want the good one", in.Record)
			}
		})
	}
}

func isErr(target error) func(error) bool {
	return func(err error) bool { return errors.Is(err, target) }
}

// TestSendAllocs guards the send path of a connected client: encoding
// into the connection's buffer and writing it must not allocate.
func TestSendAllocs(t *testing.T) {
	s, st := newFake(t), newStates()
	c := stomp.NewClient(fakeOptions(s, st))
	serve(t, c, newInbox())
	fc := s.accept(t)
	fc.handshake(t, connected12)
	st.wait(t, mtp.StateUp, 5*time.Second)
	var wg sync.WaitGroup
	wg.Go(func() { io.Copy(io.Discard, fc.nc) })
	defer wg.Wait()
	defer fc.nc.Close()
	rec, ctx := make([]byte, 256), context.Background()
	allocs := testing.AllocsPerRun(1000, func() {
		if err := c.Send(ctx, "/queue/ctrl", rec); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("Send: %v allocations, want 0", allocs)
	}
}
