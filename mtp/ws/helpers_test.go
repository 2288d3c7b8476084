package ws_test

import (
	"context"
	"crypto/tls"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/mtp/ws"
)

const (
	agentID = "doc::agent"
	ctrlID  = "doc::controller"
	wait    = 5 * time.Second
)

// listen starts a Server on addr, retrying while the port is still held by
// a Server being closed.
func listen(t testing.TB, addr string, o *ws.Options) *ws.Server {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		s, err := ws.Listen(context.Background(), addr, o)
		if err == nil {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("Listen(%s): %v", addr, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// serve runs tr.Serve(h) until the test ends, then closes tr and waits for
// Serve to return.
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
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(wait):
			t.Error("Serve did not return after Close")
		}
	})
}

// collect is a Handler that copies every Record into a channel.
func collect() (mtp.Handler, chan mtp.Inbound) {
	ch := make(chan mtp.Inbound, 1024)
	return mtp.HandlerFunc(func(_ context.Context, in mtp.Inbound) {
		in.Record = append([]byte(nil), in.Record...)
		ch <- in
	}), ch
}

// stateEvent is one OnState call.
type stateEvent struct {
	peer  mtp.Peer
	state mtp.State
	err   error
}

// states returns an OnState func recording into a channel.
func states() (mtp.StateFunc, chan stateEvent) {
	ch := make(chan stateEvent, 64)
	return func(_ context.Context, p mtp.Peer, s mtp.State, err error) {
		ch <- stateEvent{p, s, err}
	}, ch
}

func next[T any](t testing.TB, ch chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(wait):
		t.Fatalf("timed out waiting for %s", what)
		var zero T
		return zero
	}
}

// rawDial opens a plain WebSocket connection, as a non-uspkit client would.
func rawDial(t testing.TB, url string, hdr http.Header, tlsConf *tls.Config, protos ...string) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	tr := &http.Transport{TLSClientConfig: tlsConf}
	t.Cleanup(tr.CloseIdleConnections)
	c, resp, err := websocket.Dial(ctx, url, &websocket.DialOptions{
		HTTPClient: &http.Client{Transport: moveExt{tr}}, HTTPHeader: hdr, Subprotocols: protos})
	if c != nil {
		t.Cleanup(func() { c.CloseNow() })
	}
	return c, resp, err
}

// moveExt moves a response's Sec-WebSocket-Extensions to X-Test-Extensions,
// out of sight of the library, which refuses extensions it does not know.
type moveExt struct{ base http.RoundTripper }

func (m moveExt) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := m.base.RoundTrip(req)
	if resp != nil {
		if v := resp.Header.Values("Sec-WebSocket-Extensions"); v != nil {
			resp.Header["X-Test-Extensions"] = v
			resp.Header.Del("Sec-WebSocket-Extensions")
		}
	}
	return resp, err
}

// readClose reads from c until the server closes it and returns the status.
func readClose(t testing.TB, c *websocket.Conn) websocket.StatusCode {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	for {
		_, _, err := c.Read(ctx)
		if err != nil {
			if ctx.Err() != nil {
				t.Fatal("timed out waiting for the server to close")
			}
			return websocket.CloseStatus(err)
		}
	}
}

// statusOf returns the HTTP status of a failed handshake.
func statusOf(resp *http.Response) int {
	if resp == nil {
		return 0
	}
	return resp.StatusCode
}

// counter counts concurrently.
type counter struct {
	mu sync.Mutex
	n  int
}

func (c *counter) add() {
	c.mu.Lock()
	c.n++
	c.mu.Unlock()
}

func (c *counter) get() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}
