package conformance

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// WebSocketSetup gives the cases of section 7 (WebSocket) connections of
// their own with the Agent. The Transport reaches the Agent through a Gate
// the runner controls; a case cuts the Transport's connection, holds new
// ones at the Gate, talks to the Agent frame by frame, and lets the
// Transport connect again when it ends. Both are needed because an Agent
// keeps at most one session per Controller [R-WS.4].
type WebSocketSetup struct {
	// Gate relays the Transport's connections: from the Agent to the
	// Transport's listener when the Agent is the WebSocket client, from
	// the Transport to the Agent's server when it is the server. Run
	// closes it.
	Gate *Gate
	// URL is the Agent's WebSocket server (ws:// or wss://, with its
	// path) when the Agent is the server; empty when the Agent is the
	// client and connects to the Gate.
	URL string
	// TLS is the runner's TLS configuration for its own connections: a
	// client configuration for URL, or, when the Agent is the client, the
	// server configuration (certificate, client CAs) that the Transport
	// listens with. nil means plaintext.
	TLS *tls.Config
}

// agentServes reports whether the Agent is the WebSocket server.
func (w *WebSocketSetup) agentServes() bool { return w.URL != "" }

// Gate is a TCP relay between the runner's Transport and the Agent: it
// listens, and relays each connection it accepts to a target address,
// byte for byte (TLS included), unless a case holds it; then connections
// wait until the case takes them or lets them through.
//
// A Gate is safe for concurrent use.
type Gate struct {
	ln     net.Listener
	target string

	mu       sync.Mutex
	closed   bool
	held     bool
	pending  []net.Conn
	arrived  chan struct{} // signalled when a connection joins pending
	relays   map[*relay]struct{}
	accepted int // connections accepted
	ended    int // relays ended
	wg       sync.WaitGroup
}

// relay is one relayed pair of connections.
type relay struct{ in, out net.Conn }

// ListenGate listens on addr ("127.0.0.1:0") and relays every connection
// to target (host:port) until Close.
func ListenGate(ctx context.Context, addr, target string) (*Gate, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("conformance: gate: %w", err)
	}
	g := &Gate{ln: ln, target: target, arrived: make(chan struct{}, 1), relays: map[*relay]struct{}{}}
	g.wg.Go(g.accept)
	return g, nil
}

// Addr is where the Gate listens.
func (g *Gate) Addr() net.Addr { return g.ln.Addr() }

// Close stops listening and closes every connection, relayed or waiting.
// It is safe to call more than once.
func (g *Gate) Close() error {
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return nil
	}
	g.closed = true
	pending := g.pending
	g.pending = nil
	g.mu.Unlock()
	err := g.ln.Close()
	for _, c := range pending {
		c.Close()
	}
	g.cut()
	g.wg.Wait()
	return err
}

func (g *Gate) accept() {
	for {
		c, err := g.ln.Accept()
		if err != nil {
			return
		}
		g.mu.Lock()
		g.accepted++
		switch {
		case g.closed:
			c.Close()
		case g.held:
			g.pending = append(g.pending, c)
			select {
			case g.arrived <- struct{}{}:
			default:
			}
		default:
			g.startLocked(c, nil)
		}
		g.mu.Unlock()
	}
}

// startLocked relays c, whose first bytes, already read, are prefix; g.mu
// is held.
func (g *Gate) startLocked(c net.Conn, prefix []byte) {
	if g.closed {
		c.Close()
		return
	}
	g.wg.Go(func() { g.relay(c, prefix) })
}

func (g *Gate) relay(in net.Conn, prefix []byte) {
	d := net.Dialer{Timeout: 10 * time.Second}
	out, err := d.Dial("tcp", g.target)
	if err != nil {
		in.Close()
		return
	}
	r := &relay{in: in, out: out}
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		in.Close()
		out.Close()
		return
	}
	g.relays[r] = struct{}{}
	g.mu.Unlock()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = io.Copy(out, io.MultiReader(bytes.NewReader(prefix), in))
		if tc, ok := out.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
	}()
	_, _ = io.Copy(in, out)
	if tc, ok := in.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
	}
	<-done
	in.Close()
	out.Close()
	g.mu.Lock()
	delete(g.relays, r)
	g.ended++
	g.mu.Unlock()
}

// cut closes every relayed connection, both sides, as a broken TCP
// connection would end.
func (g *Gate) cut() {
	g.mu.Lock()
	var rs []*relay
	for r := range g.relays {
		rs = append(rs, r)
	}
	g.mu.Unlock()
	for _, r := range rs {
		r.in.Close()
		r.out.Close()
	}
}

// hold makes new connections wait instead of being relayed.
func (g *Gate) hold() {
	g.mu.Lock()
	g.held = true
	g.mu.Unlock()
}

// release relays the waiting connections and the new ones again.
func (g *Gate) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.held = false
	for _, c := range g.pending {
		g.startLocked(c, nil)
	}
	g.pending = nil
}

// errGateClosed is returned by take after Close.
var errGateClosed = errors.New("gate closed")

// take returns the oldest waiting connection, waiting for one until ctx
// is done; the caller owns it. The Gate must be held.
func (g *Gate) take(ctx context.Context) (net.Conn, error) {
	for {
		g.mu.Lock()
		if g.closed {
			g.mu.Unlock()
			return nil, errGateClosed
		}
		if len(g.pending) > 0 {
			c := g.pending[0]
			g.pending = g.pending[1:]
			g.mu.Unlock()
			return c, nil
		}
		g.mu.Unlock()
		select {
		case <-g.arrived:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// pass relays a connection taken from the Gate, whose first bytes, already
// read, are prefix.
func (g *Gate) pass(c net.Conn, prefix []byte) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.startLocked(c, prefix)
}

// counts returns how many connections the Gate has accepted, and how
// many relays have ended.
func (g *Gate) counts() (accepted, ended int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.accepted, g.ended
}
