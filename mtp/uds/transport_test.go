package uds_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/mtp/mtptest"
	"github.com/uspkit/uspkit/mtp/uds"
)

const (
	serverID = "os::012345-broker"
	clientID = "os::012345-service"
	wait     = 5 * time.Second
)

// sockPath returns a socket path in a fresh directory, short enough for
// sun_path (t.TempDir's names grow with the test's name).
func sockPath(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "uds")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return filepath.Join(dir, "s")
}

// opts returns fast test options: reconnects after 10-20 ms.
func opts(path, eid string) *uds.Options {
	return &uds.Options{Path: path, EndpointID: eid, MinWait: 10 * time.Millisecond, Multiplier: 2000}
}

// serve runs tr.Serve until the test ends, then closes tr and checks that
// Serve returned nil.
func serve(t testing.TB, tr mtp.Transport, h mtp.Handler) {
	t.Helper()
	if h == nil {
		h = mtp.HandlerFunc(func(context.Context, mtp.Inbound) {})
	}
	done := make(chan error, 1)
	go func() { done <- tr.Serve(context.Background(), h) }()
	t.Cleanup(func() {
		tr.Close()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve = %v", err)
			}
		case <-time.After(wait):
			t.Error("Serve did not return after Close")
		}
	})
}

// inbox is a Handler that collects copies of what arrives.
type inbox chan mtp.Inbound

func (ib inbox) HandleRecord(_ context.Context, in mtp.Inbound) {
	in.Record = bytes.Clone(in.Record)
	ib <- in
}

func (ib inbox) next(t testing.TB) mtp.Inbound {
	t.Helper()
	select {
	case in := <-ib:
		return in
	case <-time.After(wait):
		t.Fatal("no record arrived")
		return mtp.Inbound{}
	}
}

func (ib inbox) none(t testing.TB, d time.Duration) {
	t.Helper()
	select {
	case in := <-ib:
		t.Fatalf("unexpected record %q from %q", in.Record, in.From.EndpointID)
	case <-time.After(d):
	}
}

// event is one OnState call.
type event struct {
	eid   string
	state mtp.State
	err   error
}

type events chan event

func (ev events) onState(_ context.Context, p mtp.Peer, s mtp.State, err error) {
	if p.Address != p.EndpointID {
		panic("Peer.Address differs from Peer.EndpointID")
	}
	ev <- event{p.EndpointID, s, err}
}

func (ev events) next(t testing.TB) event {
	t.Helper()
	select {
	case e := <-ev:
		return e
	case <-time.After(wait):
		t.Fatal("no state change")
		return event{}
	}
}

// dial connects a raw client, whose frames the test writes by hand.
func dial(t testing.TB, path string) (net.Conn, *uds.Reader) {
	t.Helper()
	var c net.Conn
	var err error
	for deadline := time.Now().Add(wait); ; time.Sleep(5 * time.Millisecond) {
		if c, err = net.Dial("unix", path); err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(wait))
	return c, uds.NewReader(c, 1<<20)
}

func write(t testing.TB, c net.Conn, b []byte) {
	t.Helper()
	if _, err := c.Write(b); err != nil {
		t.Fatal(err)
	}
}

func send(t testing.TB, c net.Conn, typ uds.Type, v string) {
	t.Helper()
	b, err := uds.AppendFrame(nil, typ, []byte(v))
	if err != nil {
		t.Fatal(err)
	}
	write(t, c, b)
}

// expect reads the next frame and checks it is one field of Type typ,
// returning its value.
func expect(t testing.TB, rd *uds.Reader, typ uds.Type) string {
	t.Helper()
	f, err := rd.ReadFrame()
	if err != nil {
		t.Fatalf("reading a %s frame: %v", typ, err)
	}
	v, ok := f.Value(typ)
	if !ok {
		t.Fatalf("got frame %v, want a %s field", fields(f), typ)
	}
	return string(v)
}

// expectClosed checks that the connection ends (EOF or reset, not a
// timeout) without any further frame.
func expectClosed(t testing.TB, rd *uds.Reader) {
	t.Helper()
	f, err := rd.ReadFrame()
	if err == nil {
		t.Fatalf("got frame %v, want the connection closed", fields(f))
	}
	if !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("read %v, want EOF", err)
	}
}

// handshake performs a raw client's Handshake.
func handshake(t testing.TB, c net.Conn, rd *uds.Reader, eid string) {
	t.Helper()
	send(t, c, uds.TypeHandshake, eid)
	if got := expect(t, rd, uds.TypeHandshake); got != serverID {
		t.Fatalf("server's handshake carries %q, want %q", got, serverID)
	}
}

// TestSuite runs the mtptest suite in both directions: client to server,
// with the server restarted on the same path, and server to client.
func TestSuite(t *testing.T) {
	t.Run("ClientToServer", func(t *testing.T) {
		mtptest.Run(t, func(t *testing.T) *mtptest.Pair {
			path := sockPath(t)
			srv := uds.NewServer(opts(path, serverID))
			return &mtptest.Pair{
				A: uds.NewClient(opts(path, clientID)), B: srv, AddrOfB: serverID,
				Limit: uds.DefaultMaxRecord,
				RestartB: func(t *testing.T) mtp.Transport {
					srv.Close()
					srv = uds.NewServer(opts(path, serverID))
					return srv
				},
			}
		})
	})
	t.Run("ServerToClient", func(t *testing.T) {
		mtptest.Run(t, func(t *testing.T) *mtptest.Pair {
			path := sockPath(t)
			cli := uds.NewClient(opts(path, clientID))
			return &mtptest.Pair{
				A: uds.NewServer(opts(path, serverID)), B: cli, AddrOfB: clientID,
				Limit: uds.DefaultMaxRecord,
				RestartB: func(t *testing.T) mtp.Transport {
					cli.Close()
					cli = uds.NewClient(opts(path, clientID))
					return cli
				},
			}
		})
	})
}

// TestHandshake checks the exchange between a Client and a Server, and
// the client's empty address.
func TestHandshake(t *testing.T) {
	path := sockPath(t)
	srvEv, cliEv := make(events, 8), make(events, 8)
	atSrv, atCli := make(inbox, 8), make(inbox, 8)
	so := opts(path, serverID)
	so.OnState = srvEv.onState
	co := opts(path, clientID)
	co.OnState = cliEv.onState
	srv, cli := uds.NewServer(so), uds.NewClient(co)
	ctx := context.Background()

	// Queued before any connection, for whichever server answers.
	if err := cli.Send(ctx, "", []byte("queued")); err != nil {
		t.Fatal(err)
	}
	serve(t, cli, atCli)
	serve(t, srv, atSrv)

	if e := srvEv.next(t); e.eid != clientID || e.state != mtp.StateUp {
		t.Errorf("server state %+v, want %s up", e, clientID)
	}
	if e := cliEv.next(t); e.eid != serverID || e.state != mtp.StateUp {
		t.Errorf("client state %+v, want %s up", e, serverID)
	}
	in := atSrv.next(t)
	if string(in.Record) != "queued" || in.From.EndpointID != clientID || in.From.Address != clientID {
		t.Errorf("server got %q from %+v", in.Record, in.From)
	}
	if err := srv.Send(ctx, in.From.Address, []byte("reply")); err != nil {
		t.Fatal(err)
	}
	if in := atCli.next(t); string(in.Record) != "reply" || in.From.EndpointID != serverID {
		t.Errorf("client got %q from %+v", in.Record, in.From)
	}
	if err := cli.Send(ctx, "os::someone-else", []byte("x")); !errors.Is(err, mtp.ErrNoPeer) {
		t.Errorf("client Send to another endpoint = %v, want ErrNoPeer", err)
	}
	if err := srv.Send(ctx, "os::someone-else", []byte("x")); !errors.Is(err, mtp.ErrNoPeer) {
		t.Errorf("server Send to unknown peer = %v, want ErrNoPeer", err)
	}
	srv.Close()
	if e := cliEv.next(t); e.state != mtp.StateDown {
		t.Errorf("client state %+v after server Close, want down", e)
	}
}

// TestHandshakeWire checks both Handshakes on the wire: a client speaks
// first [R-UDS.16]; a server answers [R-UDS.17]; Records before the
// Handshake are ignored [R-UDS.20]; a second Handshake is ignored
// [R-UDS.19].
func TestHandshakeWire(t *testing.T) {
	t.Run("server", func(t *testing.T) {
		path := sockPath(t)
		ib := make(inbox, 8)
		serve(t, uds.NewServer(opts(path, serverID)), ib)
		c, rd := dial(t, path)
		send(t, c, uds.TypeRecord, "too early") // [R-UDS.20]
		handshake(t, c, rd, clientID)
		send(t, c, uds.TypeHandshake, "os::impostor") // [R-UDS.19]
		send(t, c, uds.TypeRecord, "after")
		if in := ib.next(t); string(in.Record) != "after" || in.From.EndpointID != clientID {
			t.Errorf("got %q from %q, want %q from %q", in.Record, in.From.EndpointID, "after", clientID)
		}
		ib.none(t, 50*time.Millisecond)
	})
	t.Run("client", func(t *testing.T) {
		path := sockPath(t)
		ln, err := net.Listen("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		ib, ev := make(inbox, 8), make(events, 8)
		o := opts(path, clientID)
		o.OnState = ev.onState
		cli := uds.NewClient(o)
		serve(t, cli, ib)
		if err := cli.Send(context.Background(), serverID, []byte("queued")); err != nil {
			t.Fatal(err)
		}
		c, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(wait))
		rd := uds.NewReader(c, 1<<20)
		if got := expect(t, rd, uds.TypeHandshake); got != clientID { // [R-UDS.16]
			t.Fatalf("client's handshake carries %q", got)
		}
		send(t, c, uds.TypeRecord, "too early") // [R-UDS.20]
		send(t, c, uds.TypeHandshake, serverID)
		if got := expect(t, rd, uds.TypeRecord); got != "queued" {
			t.Errorf("first record %q, want the queued one", got)
		}
		if e := ev.next(t); e.state != mtp.StateUp || e.eid != serverID {
			t.Errorf("state %+v", e)
		}
		send(t, c, uds.TypeRecord, "after")
		if in := ib.next(t); string(in.Record) != "after" {
			t.Errorf("got %q", in.Record)
		}
	})
}

// TestHandshakeTimeout: a client with no answer to its Handshake closes the
// connection and tries again [R-UDS.18], [R-UDS.5]; a server does the same
// to a client that never sends one.
func TestHandshakeTimeout(t *testing.T) {
	t.Run("client", func(t *testing.T) {
		path := sockPath(t)
		ln, err := net.Listen("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		o := opts(path, clientID)
		o.HandshakeTimeout = 100 * time.Millisecond
		serve(t, uds.NewClient(o), nil)
		for range 2 {
			c, err := ln.Accept()
			if err != nil {
				t.Fatal(err)
			}
			c.SetDeadline(time.Now().Add(wait))
			rd := uds.NewReader(c, 1<<20)
			expect(t, rd, uds.TypeHandshake)
			expect(t, rd, uds.TypeError)
			expectClosed(t, rd)
			c.Close()
		}
	})
	t.Run("server", func(t *testing.T) {
		path := sockPath(t)
		o := opts(path, serverID)
		o.HandshakeTimeout = 100 * time.Millisecond
		serve(t, uds.NewServer(o), nil)
		_, rd := dial(t, path)
		expect(t, rd, uds.TypeError)
		expectClosed(t, rd)
	})
}

// TestMalformed sends bad input on one connection and checks the spec's
// answer, while another client of the same server goes on working.
func TestMalformed(t *testing.T) {
	const limit = 1024
	big := string(bytes.Repeat([]byte{'r'}, limit+1))
	tests := []struct {
		name      string
		handshake bool   // complete the Handshake first
		in        []byte // what the bad client sends
		errFrame  bool   // an Error frame comes back before the close
		closed    bool   // the connection is closed; else it keeps working
	}{
		// [R-UDS.24] a frame that cannot be parsed.
		{"garbage before handshake", false, []byte("GET / HTTP/1.1\r\n\r\n"), true, true},
		{"bad sync after handshake", true, append([]byte("_UDS"), frame(-1, tlv(uds.TypeRecord, -1, []byte("r")))[4:]...), true, true},
		{"oversize length", true, frame(limit+1024+1, tlv(uds.TypeRecord, -1, []byte("r"))), true, true},
		{"oversize length before handshake", false, frame(0xffffffff), true, true},
		{"field overruns frame", true, frame(-1, tlv(uds.TypeRecord, 100, []byte("short"))), true, true},
		{"no fields", true, frame(0), true, true},
		{"stray bytes", true, frame(-1, tlv(uds.TypeRecord, -1, []byte("r")), []byte{3}), true, true},
		// [R-UDS.23] a Record that cannot be extracted.
		{"record over MaxRecord", true, frame(-1, tlv(uds.TypeRecord, -1, []byte(big))), true, true},
		// [R-UDS.21] a Handshake that cannot be processed.
		{"empty handshake", false, frame(-1, tlv(uds.TypeHandshake, -1, nil)), true, true},
		{"handshake not UTF-8", false, frame(-1, tlv(uds.TypeHandshake, -1, []byte{0xff, 0xfe})), true, true},
		// [R-UDS.25] an Error frame closes the connection.
		{"error frame", true, frame(-1, tlv(uds.TypeError, -1, []byte("peer gives up"))), false, true},
		{"error frame before handshake", false, frame(-1, tlv(uds.TypeError, -1, []byte("peer gives up"))), false, true},
		// [R-UDS.15] unknown Types are ignored.
		{"unknown type", true, frame(-1, tlv(7, -1, []byte("?"))), false, false},
		{"type 0 and 255", true, frame(-1, tlv(0, -1, nil), tlv(255, -1, []byte("?"))), false, false},
		{"unknown type before handshake", false, frame(-1, tlv(9, -1, []byte("?"))), false, false},
	}
	path := sockPath(t)
	so := opts(path, serverID)
	so.MaxRecord = limit
	ev := make(events, 64)
	so.OnState = ev.onState
	atSrv := make(inbox, 64)
	srv := uds.NewServer(so)
	serve(t, srv, atSrv)
	good := uds.NewClient(opts(path, clientID))
	atGood := make(inbox, 64)
	serve(t, good, atGood)
	if e := ev.next(t); e.eid != clientID || e.state != mtp.StateUp {
		t.Fatalf("good client: %+v", e)
	}
	ctx := context.Background()

	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bad := "os::bad-" + string(rune('a'+i))
			c, rd := dial(t, path)
			if tt.handshake {
				handshake(t, c, rd, bad)
				if e := ev.next(t); e.eid != bad || e.state != mtp.StateUp {
					t.Fatalf("state %+v", e)
				}
			}
			write(t, c, tt.in)
			switch {
			case tt.closed:
				if tt.errFrame {
					t.Logf("error frame: %q", expect(t, rd, uds.TypeError))
				}
				expectClosed(t, rd)
				if tt.handshake {
					if e := ev.next(t); e.eid != bad || e.state != mtp.StateDown || e.err == nil {
						t.Errorf("state %+v, want %s down with a reason", e, bad)
					}
				}
			case tt.handshake:
				send(t, c, uds.TypeRecord, "still here")
				if in := atSrv.next(t); string(in.Record) != "still here" || in.From.EndpointID != bad {
					t.Errorf("got %q from %q", in.Record, in.From.EndpointID)
				}
				c.Close()
				if e := ev.next(t); e.eid != bad || e.state != mtp.StateDown {
					t.Errorf("state %+v", e)
				}
			default:
				// Still waiting for the Handshake: it completes.
				handshake(t, c, rd, bad)
				if e := ev.next(t); e.eid != bad || e.state != mtp.StateUp {
					t.Fatalf("state %+v", e)
				}
				c.Close()
				if e := ev.next(t); e.eid != bad || e.state != mtp.StateDown {
					t.Errorf("state %+v", e)
				}
			}
			// The server goes on serving the good client.
			if err := good.Send(ctx, serverID, []byte("ping")); err != nil {
				t.Fatal(err)
			}
			in := atSrv.next(t)
			if string(in.Record) != "ping" || in.From.EndpointID != clientID {
				t.Fatalf("got %q from %q", in.Record, in.From.EndpointID)
			}
			if err := srv.Send(ctx, clientID, []byte("pong")); err != nil {
				t.Fatal(err)
			}
			if in := atGood.next(t); string(in.Record) != "pong" {
				t.Fatalf("good client got %q", in.Record)
			}
		})
	}
	select {
	case e := <-ev:
		t.Errorf("unexpected state change %+v", e)
	default:
	}
}

// TestClientMalformed: the client side applies the same rules to what a
// server sends.
func TestClientMalformed(t *testing.T) {
	tests := []struct {
		name     string
		in       []byte
		errFrame bool
	}{
		{"garbage", []byte("HTTP/1.1 400 Bad Request\r\n\r\n"), true},                           // [R-UDS.24]
		{"oversize length", frame(1 << 30), true},                                               // [R-UDS.24]
		{"record over MaxRecord", frame(-1, tlv(uds.TypeRecord, -1, make([]byte, 2000))), true}, // [R-UDS.23]
		{"error frame", frame(-1, tlv(uds.TypeError, -1, []byte("go away"))), false},            // [R-UDS.25]
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := sockPath(t)
			ln, err := net.Listen("unix", path)
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			o := opts(path, clientID)
			o.MaxRecord = 1024
			ev := make(events, 8)
			o.OnState = ev.onState
			serve(t, uds.NewClient(o), nil)
			for attempt := range 2 {
				c, err := ln.Accept()
				if err != nil {
					t.Fatal(err)
				}
				c.SetDeadline(time.Now().Add(wait))
				rd := uds.NewReader(c, 1<<20)
				expect(t, rd, uds.TypeHandshake)
				send(t, c, uds.TypeHandshake, serverID)
				if e := ev.next(t); e.state != mtp.StateUp {
					t.Fatalf("attempt %d: state %+v", attempt, e)
				}
				write(t, c, tt.in)
				if tt.errFrame {
					expect(t, rd, uds.TypeError)
				}
				expectClosed(t, rd)
				e := ev.next(t)
				if e.state != mtp.StateDown || e.err == nil {
					t.Errorf("attempt %d: state %+v, want down with a reason", attempt, e)
				}
				var pe *uds.PeerError
				if !tt.errFrame && (!errors.As(e.err, &pe) || pe.Msg != "go away") {
					t.Errorf("attempt %d: down because %v, want the server's error", attempt, e.err)
				}
				c.Close()
				// And the client reconnects [R-UDS.5].
			}
		})
	}
}

// TestReplace: a second connection with the same Endpoint ID replaces the
// first, whose Records then stop counting.
func TestReplace(t *testing.T) {
	path := sockPath(t)
	ib := make(inbox, 8)
	ev := make(events, 8)
	o := opts(path, serverID)
	o.OnState = ev.onState
	srv := uds.NewServer(o)
	serve(t, srv, ib)
	c1, rd1 := dial(t, path)
	handshake(t, c1, rd1, clientID)
	ev.next(t)
	c2, rd2 := dial(t, path)
	handshake(t, c2, rd2, clientID)
	var got []event
	got = append(got, ev.next(t), ev.next(t))
	ups, downs := 0, 0
	for _, e := range got {
		if e.state == mtp.StateUp {
			ups++
		} else {
			downs++
		}
	}
	if ups != 1 || downs != 1 {
		t.Errorf("events %+v, want one up and one down", got)
	}
	expectClosed(t, rd1)
	if err := srv.Send(context.Background(), clientID, []byte("to the new one")); err != nil {
		t.Fatal(err)
	}
	if got := expect(t, rd2, uds.TypeRecord); got != "to the new one" {
		t.Errorf("got %q", got)
	}
}

// TestStaleSocket: a socket file nobody listens on is replaced; a live
// server's is not.
func TestStaleSocket(t *testing.T) {
	path := sockPath(t)
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("stale socket file: %v", err)
	}
	srv := uds.NewServer(opts(path, serverID))
	ib := make(inbox, 1)
	serve(t, srv, ib)
	c, rd := dial(t, path)
	handshake(t, c, rd, clientID)

	// A second server on the live path fails to start.
	err = uds.NewServer(opts(path, "os::other")).Serve(context.Background(), ib)
	if err == nil {
		t.Fatal("second server on a live socket started")
	}
}

func TestOptionsRequired(t *testing.T) {
	ctx := context.Background()
	h := mtp.HandlerFunc(func(context.Context, mtp.Inbound) {})
	for name, o := range map[string]*uds.Options{
		"nil":          nil,
		"no path":      {EndpointID: clientID},
		"no endpoint":  {Path: "/nonexistent/s"},
		"bad endpoint": {Path: "/nonexistent/s", EndpointID: "a\x00b"},
	} {
		if err := uds.NewServer(o).Serve(ctx, h); err == nil {
			t.Errorf("%s: server Serve succeeded", name)
		}
		if err := uds.NewClient(o).Serve(ctx, h); err == nil {
			t.Errorf("%s: client Serve succeeded", name)
		}
	}
}

// TestClientQueue: a bounded queue while the server is away, Records
// kept in order, and ErrQueueFull beyond.
func TestClientQueue(t *testing.T) {
	path := sockPath(t)
	o := opts(path, clientID)
	o.Queue = 3
	cli := uds.NewClient(o)
	ctx := context.Background()
	for i := range 3 {
		if err := cli.Send(ctx, serverID, []byte{byte('0' + i)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := cli.Send(ctx, serverID, []byte("x")); !errors.Is(err, mtp.ErrQueueFull) {
		t.Errorf("fourth Send = %v, want ErrQueueFull", err)
	}
	if err := cli.Send(ctx, serverID, make([]byte, uds.DefaultMaxRecord+1)); !errors.Is(err, mtp.ErrTooLarge) {
		t.Errorf("big Send = %v, want ErrTooLarge", err)
	}
	ib := make(inbox, 8)
	serve(t, cli, nil)
	serve(t, uds.NewServer(opts(path, serverID)), ib)
	for i := range 3 {
		if in := ib.next(t); string(in.Record) != string(rune('0'+i)) {
			t.Errorf("record %d: %q", i, in.Record)
		}
	}
}

// TestConcurrentClients: many clients, each answered on its own address.
func TestConcurrentClients(t *testing.T) {
	path := sockPath(t)
	srv := uds.NewServer(opts(path, serverID))
	serve(t, srv, mtp.HandlerFunc(func(ctx context.Context, in mtp.Inbound) {
		if err := srv.Send(ctx, in.From.Address, in.Record); err != nil {
			t.Errorf("echo to %s: %v", in.From.Address, err)
		}
	}))
	var wg sync.WaitGroup
	for i := range 10 {
		eid := "os::client-" + string(rune('a'+i))
		ib := make(inbox, 16)
		cli := uds.NewClient(opts(path, eid))
		serve(t, cli, ib)
		wg.Go(func() {
			for j := range 10 {
				msg := eid + "/" + string(rune('0'+j))
				if err := cli.Send(context.Background(), serverID, []byte(msg)); err != nil {
					t.Error(err)
					return
				}
				select {
				case in := <-ib:
					if string(in.Record) != msg {
						t.Errorf("%s got %q, want %q", eid, in.Record, msg)
					}
				case <-time.After(wait):
					t.Errorf("%s: no echo of %q", eid, msg)
					return
				}
			}
		})
	}
	wg.Wait()
}

// TestClientBadHandshake: a server Handshake the client cannot process
// gets an Error frame and the connection is closed [R-UDS.21]; the client
// then tries again [R-UDS.5].
func TestClientBadHandshake(t *testing.T) {
	path := sockPath(t)
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ev := make(events, 8)
	o := opts(path, clientID)
	o.OnState = ev.onState
	serve(t, uds.NewClient(o), nil)
	for _, bad := range []string{"", "os::\x01ctl", string(bytes.Repeat([]byte{'a'}, 2000))} {
		c, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(wait))
		rd := uds.NewReader(c, 1<<20)
		expect(t, rd, uds.TypeHandshake)
		send(t, c, uds.TypeHandshake, bad)
		if msg := expect(t, rd, uds.TypeError); msg == "" {
			t.Error("empty error message")
		}
		expectClosed(t, rd)
		c.Close()
	}
	select {
	case e := <-ev:
		t.Errorf("state change %+v for a failed handshake", e)
	default:
	}
}
