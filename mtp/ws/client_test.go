package ws_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/mtp/ws"
)

// rawServer is a plain WebSocket server that records handshake requests
// and hands over the connections it accepts.
type rawServer struct {
	url   string // ws://127.0.0.1:port
	reqs  chan *http.Request
	conns chan *websocket.Conn
}

// newRawServer accepts with opts; respond, if not nil, may write headers
// or refuse (returning false) before the upgrade.
func newRawServer(t *testing.T, opts *websocket.AcceptOptions, respond func(http.ResponseWriter, *http.Request) bool) *rawServer {
	t.Helper()
	rs := &rawServer{reqs: make(chan *http.Request, 64), conns: make(chan *websocket.Conn, 64)}
	var mu sync.Mutex
	var open []*websocket.Conn
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rs.reqs <- r
		if respond != nil && !respond(w, r) {
			return
		}
		c, err := websocket.Accept(w, r, opts)
		if err != nil {
			return
		}
		mu.Lock()
		open = append(open, c)
		mu.Unlock()
		rs.conns <- c
	}))
	t.Cleanup(func() {
		hs.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range open {
			c.CloseNow()
		}
	})
	rs.url = "ws" + strings.TrimPrefix(hs.URL, "http")
	return rs
}

var uspAccept = &websocket.AcceptOptions{Subprotocols: []string{ws.Subprotocol}}

// TestClientHandshake checks what the client sends: v1.usp [R-WS.10], its
// Endpoint ID as the eid query pair after the other query data
// [R-WS.10b] and in the extension; and that it takes the server's Endpoint
// ID from the response's extension [R-WS.11a].
func TestClientHandshake(t *testing.T) {
	rs := newRawServer(t, uspAccept, func(w http.ResponseWriter, _ *http.Request) bool {
		w.Header().Set("Sec-WebSocket-Extensions", `bbf-usp-protocol; eid="doc::raw"`)
		return true
	})
	onState, st := states()
	cli := ws.NewClient(&ws.Options{URL: rs.url + "/usp?x=1&eid=stale&y=2", EndpointID: agentID, OnState: onState})
	serve(t, cli, nil)
	r := next(t, rs.reqs, "handshake")
	if got, want := r.URL.RawQuery, "x=1&y=2&eid=doc::agent"; got != want {
		t.Errorf("query %q, want %q", got, want)
	}
	if r.URL.Path != "/usp" {
		t.Errorf("path %q", r.URL.Path)
	}
	if got := r.Header.Get("Sec-WebSocket-Protocol"); got != ws.Subprotocol {
		t.Errorf("Sec-WebSocket-Protocol %q", got)
	}
	if got, want := r.Header.Get("Sec-WebSocket-Extensions"), `bbf-usp-protocol; eid="doc::agent"`; got != want {
		t.Errorf("Sec-WebSocket-Extensions %q, want %q", got, want)
	}
	next(t, rs.conns, "connection").CloseRead(context.Background()) // answers the client's close
	ev := next(t, st, "StateUp")
	if ev.state != mtp.StateUp || ev.peer.EndpointID != "doc::raw" {
		t.Errorf("%v with peer %q, want up with doc::raw", ev.state, ev.peer.EndpointID)
	}
}

// TestClientNoServerExtension: a response without the extension is not an
// error [R-WS.11b]; the peer's Endpoint ID is then unknown.
func TestClientNoServerExtension(t *testing.T) {
	_, base := startServer(t, &ws.Options{}, nil) // no EndpointID: answers no extension
	onState, st := states()
	cli := ws.NewClient(&ws.Options{URL: base + "/", EndpointID: agentID, OnState: onState})
	serve(t, cli, nil)
	ev := next(t, st, "StateUp")
	if ev.state != mtp.StateUp || ev.peer.EndpointID != "" {
		t.Errorf("%v with peer %q, want up with no Endpoint ID", ev.state, ev.peer.EndpointID)
	}
	if err := cli.Send(context.Background(), "", []byte{1}); err != nil {
		t.Error(err)
	}
}

// TestClientRequiresSubprotocol: a client does not establish a session
// whose response lacks v1.usp [R-WS.12]; it keeps retrying.
func TestClientRequiresSubprotocol(t *testing.T) {
	rs := newRawServer(t, nil, nil) // accepts, selecting no subprotocol
	onState, st := states()
	cli := ws.NewClient(&ws.Options{URL: rs.url, EndpointID: agentID, OnState: onState, MinWait: 10 * time.Millisecond})
	serve(t, cli, nil)
	for i := range 3 {
		c := next(t, rs.conns, "connection attempt")
		if code := readClose(t, c); code != -1 {
			t.Errorf("attempt %d: close status %v, want the TCP connection dropped", i, code)
		}
	}
	select {
	case ev := <-st:
		t.Fatalf("client went %v", ev.state)
	default:
	}
}

// TestClientRetry checks the back-off of [R-WS.19] between failed
// handshakes, and that a session resets it [R-WS.20].
func TestClientRetry(t *testing.T) {
	const m = 20 * time.Millisecond
	var mu sync.Mutex
	var times []time.Time
	accept := 5 // the 6th attempt succeeds and the server drops it at once
	rs := newRawServer(t, uspAccept, func(w http.ResponseWriter, _ *http.Request) bool {
		mu.Lock()
		defer mu.Unlock()
		times = append(times, time.Now())
		if len(times) == accept+1 {
			return true
		}
		http.Error(w, "busy", http.StatusServiceUnavailable)
		return false
	})
	cli := ws.NewClient(&ws.Options{URL: rs.url, MinWait: m, Multiplier: 2000})
	serve(t, cli, nil)
	c := next(t, rs.conns, "the successful attempt")
	c.Close(websocket.StatusGoingAway, "")
	deadline := time.Now().Add(wait)
	for {
		mu.Lock()
		n := len(times)
		mu.Unlock()
		if n >= accept+2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d attempts", n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	r := mtp.Retry{MinWait: m, Multiplier: 2000}
	const slack = 300 * time.Millisecond // scheduling delay; timers never fire early
	for i := 1; i <= accept; i++ {
		lo, hi := r.Range(i)
		if gap := times[i].Sub(times[i-1]); gap < lo || gap > hi+slack {
			t.Errorf("retry #%d after %v, want %v-%v", i, gap, lo, hi)
		}
	}
	// After the session the count restarts: retry #1 again, not #6 (640 ms+).
	lo, hi := r.Range(1)
	if gap := times[accept+1].Sub(times[accept]); gap < lo || gap > hi+slack {
		t.Errorf("first retry after a session came after %v, want %v-%v", gap, lo, hi)
	}
}

// TestClientQueue: Records sent while disconnected wait, in order, in a
// bounded queue; a Record sent from the StateUp call goes out first.
func TestClientQueue(t *testing.T) {
	ctx := context.Background()
	var cli *ws.Client
	onState := func(ctx context.Context, _ mtp.Peer, s mtp.State, _ error) {
		if s == mtp.StateUp {
			if err := cli.Send(ctx, "", []byte("connect")); err != nil {
				t.Errorf("Send from StateUp: %v", err)
			}
		}
	}
	h, recs := collect()
	srv := listen(t, "127.0.0.1:0", &ws.Options{})
	cli = ws.NewClient(&ws.Options{URL: "ws://" + srv.Addr().String(), EndpointID: agentID,
		QueueLen: 3, OnState: onState})
	for _, r := range []string{"r1", "r2", "r3"} {
		if err := cli.Send(ctx, "", []byte(r)); err != nil {
			t.Fatalf("Send %s while disconnected: %v", r, err)
		}
	}
	if err := cli.Send(ctx, "", []byte("r4")); !errors.Is(err, mtp.ErrQueueFull) {
		t.Fatalf("Send beyond QueueLen: %v, want ErrQueueFull", err)
	}
	serve(t, srv, h)
	serve(t, cli, nil)
	for _, want := range []string{"connect", "r1", "r2", "r3"} {
		if in := next(t, recs, want); string(in.Record) != want {
			t.Fatalf("got %q, want %q", in.Record, want)
		}
	}
	if err := cli.Send(ctx, "", []byte("r5")); err != nil {
		t.Fatal(err)
	}
	if in := next(t, recs, "r5"); string(in.Record) != "r5" {
		t.Fatalf("got %q", in.Record)
	}
}

// TestClientKeepAlive: the client pings at PingInterval [R-WS.17],
// [R-WS.18] and drops a server that stops answering.
func TestClientKeepAlive(t *testing.T) {
	const interval = 20 * time.Millisecond
	var pings counter
	var deaf atomic.Bool
	rs := newRawServer(t, &websocket.AcceptOptions{Subprotocols: []string{ws.Subprotocol},
		OnPingReceived: func(context.Context, []byte) bool { pings.add(); return !deaf.Load() }}, nil)
	onState, st := states()
	cli := ws.NewClient(&ws.Options{URL: rs.url, PingInterval: interval, OnState: onState, MinWait: time.Hour})
	serve(t, cli, nil)
	next(t, rs.conns, "connection").CloseRead(context.Background()) // reads, so pings are answered
	next(t, st, "StateUp")
	deadline := time.Now().Add(wait)
	for pings.get() < 5 && time.Now().Before(deadline) {
		time.Sleep(interval)
	}
	if n := pings.get(); n < 5 {
		t.Fatalf("%d pings, want 5 or more", n)
	}
	select {
	case ev := <-st:
		t.Fatalf("client went %v while pings were answered: %v", ev.state, ev.err)
	default:
	}
	deaf.Store(true) // no more pongs
	if ev := next(t, st, "StateDown"); !errors.Is(ev.err, ws.ErrPingTimeout) {
		t.Errorf("StateDown error %v, want ErrPingTimeout", ev.err)
	}
}

// TestClientTextFrame: the client, too, closes with 1003 on a text
// message [R-WS.16].
func TestClientTextFrame(t *testing.T) {
	rs := newRawServer(t, uspAccept, nil)
	onState, st := states()
	cli := ws.NewClient(&ws.Options{URL: rs.url, OnState: onState, MinWait: time.Hour})
	serve(t, cli, nil)
	c := next(t, rs.conns, "connection")
	next(t, st, "StateUp")
	if err := c.Write(context.Background(), websocket.MessageText, []byte("{}")); err != nil {
		t.Fatal(err)
	}
	if code := readClose(t, c); code != websocket.StatusUnsupportedData {
		t.Errorf("close status %v, want 1003", code)
	}
	if ev := next(t, st, "StateDown"); !errors.Is(ev.err, ws.ErrTextFrame) {
		t.Errorf("StateDown error %v", ev.err)
	}
}

// TestClientOversize: a message over MaxRecord from the server closes the
// connection with 1009; Send refuses a Record over it.
func TestClientOversize(t *testing.T) {
	const max = 512
	rs := newRawServer(t, uspAccept, nil)
	onState, st := states()
	cli := ws.NewClient(&ws.Options{URL: rs.url, OnState: onState, MinWait: time.Hour, MaxRecord: max})
	serve(t, cli, nil)
	c := next(t, rs.conns, "connection")
	next(t, st, "StateUp")
	if err := cli.Send(context.Background(), "", make([]byte, max+1)); !errors.Is(err, mtp.ErrTooLarge) {
		t.Errorf("Send of %d bytes: %v, want ErrTooLarge", max+1, err)
	}
	if err := c.Write(context.Background(), websocket.MessageBinary, make([]byte, max+1)); err != nil {
		t.Fatal(err)
	}
	if code := readClose(t, c); code != websocket.StatusMessageTooBig {
		t.Errorf("close status %v, want 1009", code)
	}
	if ev := next(t, st, "StateDown"); !errors.Is(ev.err, mtp.ErrTooLarge) {
		t.Errorf("StateDown error %v", ev.err)
	}
}

// TestClientServeCancel: cancelling Serve's ctx ends the session with a
// close handshake and makes Serve return nil; the Client is closed.
func TestClientServeCancel(t *testing.T) {
	onState, st := states()
	_, base := startServer(t, &ws.Options{OnState: onState}, nil)
	cState, cst := states()
	cli := ws.NewClient(&ws.Options{URL: base, EndpointID: agentID, OnState: cState})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- cli.Serve(ctx, mtp.HandlerFunc(func(context.Context, mtp.Inbound) {})) }()
	next(t, st, "server StateUp")
	next(t, cst, "client StateUp")
	cancel()
	if err := next(t, done, "Serve to return"); err != nil {
		t.Errorf("Serve: %v", err)
	}
	if ev := next(t, st, "server StateDown"); websocket.CloseStatus(ev.err) != websocket.StatusGoingAway {
		t.Errorf("server saw %v, want close status 1001", ev.err)
	}
	if err := cli.Send(context.Background(), "", []byte{1}); !errors.Is(err, mtp.ErrClosed) {
		t.Errorf("Send after cancellation: %v, want ErrClosed", err)
	}
}

// TestClientConfig: Serve reports bad configuration at once.
func TestClientConfig(t *testing.T) {
	for _, o := range []ws.Options{
		{URL: "http://127.0.0.1:1/"},
		{URL: "ws:///path"},
		{URL: "ws://[::1"},
		{URL: "ws://127.0.0.1:1/", EndpointID: "doc::a\nb"},
	} {
		cli := ws.NewClient(&o)
		if err := cli.Serve(context.Background(), nil); err == nil {
			t.Errorf("%+v: Serve succeeded", o)
		}
		cli.Close()
	}
}
