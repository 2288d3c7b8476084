package broker

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"os"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// conn is every connection handed to mochi: it carries what the hooks
// need to know about the client, since mochi's Client has no place for
// it, and lets Close end the connection at once.
type conn struct {
	net.Conn
	certs        []*x509.Certificate     // verified client chain, leaf first
	sess         atomic.Pointer[session] // set by a successful CONNECT
	kill         func()                  // closes without ceremony
	writeTimeout time.Duration           // Options.WriteTimeout
	onWriteErr   func(error)             // called once a write failed, or nil
	writeFailed  atomic.Bool
	whole        bool // write each packet at once (a WebSocket message per Write)
}

// writeChunk is how much of a Write must go out within the write
// timeout: a large packet to a slow but reading client is not cut.
const writeChunk = 64 << 10

// Write writes p, each writeChunk of it within the write timeout, so that
// a client that stops reading cannot hold its connection's queue for
// ever. A failed or timed-out write leaves the packet stream broken, and
// mochi goes on writing after an error, so the connection is closed then.
func (c *conn) Write(p []byte) (int, error) {
	if c.writeTimeout <= 0 {
		return c.write(p)
	}
	chunk := writeChunk
	if c.whole {
		chunk = len(p)
	}
	n := 0
	for n < len(p) {
		_ = c.Conn.SetWriteDeadline(time.Now().Add(c.writeTimeout))
		m, err := c.write(p[n:min(len(p), n+chunk)])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

func (c *conn) write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	if err != nil && c.writeFailed.CompareAndSwap(false, true) {
		if c.onWriteErr != nil {
			c.onWriteErr(err)
		}
		c.kill()
	}
	return n, err
}

// SetDeadline sets the read deadline only (mochi's keep-alive and the
// connect timeout); each Write sets its own.
func (c *conn) SetDeadline(t time.Time) error {
	return c.Conn.SetReadDeadline(t)
}

// Listener IDs, as mochi and the logs see them.
const (
	listenerTCP = "tcp"
	listenerTLS = "tls" // Options.TLSAddr
	listenerWS  = "ws"
)

// acceptRetry is the pause after a failed Accept.
const acceptRetry = 50 * time.Millisecond

// acceptLoop accepts TCP connections until ln is closed; tc, if not nil,
// runs TLS on them.
func (b *Broker) acceptLoop(ln net.Listener, id string, tc *tls.Config) {
	defer b.wg.Done()
	for {
		nc, err := ln.Accept()
		if err != nil {
			if b.closing() || errors.Is(err, net.ErrClosed) {
				return
			}
			b.log.Warn("accept failed", "listener", id, "error", err)
			time.Sleep(acceptRetry) // e.g. out of file descriptors
			continue
		}
		if b.throttled(nc.RemoteAddr()) {
			nc.Close()
			continue
		}
		c := &conn{Conn: nc, kill: func() { nc.Close() }, writeTimeout: b.cfg.WriteTimeout}
		c.onWriteErr = b.writeFailed(c)
		if !b.track(c) {
			nc.Close()
			if b.closing() {
				return
			}
			if b.sum.limited.event(nc.RemoteAddr().String()) {
				b.log.Warn("connection closed: MaxClients+MaxPending connections open", "remote", nc.RemoteAddr().String())
			}
			continue
		}
		go func() {
			defer b.untrack(c)
			b.serveTCP(c, id, tc)
		}()
	}
}

// serveTCP runs the TLS handshake, if any, and then the MQTT session.
func (b *Broker) serveTCP(c *conn, id string, conf *tls.Config) {
	remote := c.RemoteAddr().String()
	_ = c.SetDeadline(time.Now().Add(b.cfg.ConnectTimeout)) // until CONNECT; mochi then sets keep-alive deadlines
	if conf != nil {
		tc := tls.Server(c.Conn, conf)
		ctx, cancel := context.WithTimeout(b.ctx, b.cfg.ConnectTimeout)
		err := tc.HandshakeContext(ctx)
		cancel()
		if err != nil {
			b.authFailed(b.log.With("remote", remote, "listener", id), remote, "TLS handshake failed", err)
			tc.Close()
			return
		}
		c.Conn = tc
		c.certs = verifiedChain(tc.ConnectionState())
	}
	b.establish(id, c)
}

// establish runs one MQTT session in mochi. A panic in mochi's packet
// decoding (mochi-mqtt/server#501: a truncated MQTT 5 SUBSCRIBE indexes
// past its buffer) would otherwise end the whole process; it ends only
// this connection.
func (b *Broker) establish(listener string, c *conn) {
	defer func() {
		if r := recover(); r != nil {
			b.log.Error("panic in MQTT session; connection dropped", "listener", listener,
				"remote", c.RemoteAddr().String(), "panic", r, "stack", string(debug.Stack()))
			c.kill()
			b.forget(c)
		}
	}()
	if err := b.srv.EstablishConnection(listener, c); err != nil && !b.closing() {
		b.log.Debug("connection ended", "listener", listener, "remote", c.RemoteAddr().String(), "error", err)
	}
}

// forget does the clean-up mochi skips when a session panics: it drops
// the client on c and its subscriptions.
func (b *Broker) forget(c *conn) {
	for id, cl := range b.srv.Clients.GetAll() {
		if cl.Net.Conn != net.Conn(c) {
			continue
		}
		b.srv.UnsubscribeClient(cl)
		cl.ClearInflights()
		if cur, ok := b.srv.Clients.Get(id); ok && cur == cl {
			b.srv.Clients.Delete(id)
		}
	}
}

func verifiedChain(st tls.ConnectionState) []*x509.Certificate {
	if len(st.VerifiedChains) == 0 {
		return nil
	}
	return st.VerifiedChains[0]
}

// serveWS upgrades a request to an MQTT-over-WebSocket connection
// (subprotocol "mqtt", binary messages) and runs the session on it.
func (b *Broker) serveWS(w http.ResponseWriter, r *http.Request) {
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil && b.throttled(net.TCPAddrFromAddrPort(ap)) {
		w.WriteHeader(http.StatusTooManyRequests)
		return
	}
	wc, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{"mqtt"}})
	if err != nil {
		if b.sum.refused.event(r.RemoteAddr) {
			b.log.Info("WebSocket upgrade failed", "remote", r.RemoteAddr, "error", err)
		}
		return
	}
	if wc.Subprotocol() != "mqtt" { // [MQTT-6.0.0-3]
		wc.Close(websocket.StatusPolicyViolation, `subprotocol "mqtt" required`)
		return
	}
	nc := websocket.NetConn(b.ctx, wc, websocket.MessageBinary)
	wc.SetReadLimit(int64(b.cfg.MaxPacketSize) + 1024) // NetConn lifts the limit; put one back
	c := &conn{Conn: nc, kill: func() { wc.CloseNow() }, writeTimeout: b.cfg.WriteTimeout, whole: true}
	c.onWriteErr = b.writeFailed(c)
	if r.TLS != nil {
		c.certs = verifiedChain(*r.TLS)
	}
	if !b.track(c) {
		wc.CloseNow()
		return
	}
	defer b.untrack(c)
	_ = c.SetDeadline(time.Now().Add(b.cfg.ConnectTimeout))
	b.establish(listenerWS, c)
}

// sessionOf returns the session of a mochi client's connection, or nil.
func sessionOf(nc net.Conn) *session {
	if c, ok := nc.(*conn); ok {
		return c.sess.Load()
	}
	return nil
}

// writeFailed returns the report of a failed write on c: a timeout
// (a client that stopped reading) is counted and logged, rate-limited.
func (b *Broker) writeFailed(c *conn) func(error) {
	return func(err error) {
		if b.closing() || !errors.Is(err, os.ErrDeadlineExceeded) {
			return
		}
		atomic.AddInt64(&b.stats.slow, 1)
		remote := c.RemoteAddr().String()
		if b.sum.limited.event(remote) {
			b.log.Warn("client disconnected: it stopped reading (WriteTimeout)", "remote", remote, "timeout", b.cfg.WriteTimeout)
		}
	}
}
