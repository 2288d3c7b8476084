package ws

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/uspkit/uspkit/mtp"
)

// ErrNoSubprotocol: the server's handshake response did not select v1.usp,
// so the client does not establish the session [R-WS.12].
var ErrNoSubprotocol = errors.New("ws: server did not select the " + Subprotocol + " subprotocol")

// Client is the WebSocket client role of the MTP [R-WS.5]: it keeps one
// session to the server at Options.URL open, reconnecting with the back-off
// of [R-WS.19], and queues Records while disconnected.
//
// A Client has one peer, so Send ignores its addr. Records reach the
// Handler given to Serve one at a time. A Client is safe for concurrent
// use. Lock order: Client.mu is never held while doing I/O or calling out.
type Client struct {
	o      Options
	log    *slog.Logger
	target string      // Options.URL with the eid query parameter
	hdr    http.Header // handshake request headers
	rt     *http.Transport
	cfgErr error

	mu       sync.Mutex
	serving  bool
	closed   bool
	cancel   context.CancelFunc // Serve's
	cur      *link              // the established connection
	ready    *link              // where Send writes: cur once the queue is flushed
	upLink   *link              // the link whose StateUp call is running
	queue    [][]byte           // Records waiting for a connection, oldest first
	closeEnd chan struct{}      // closed when Close has finished
}

// upKey marks the ctx of a StateUp call; its value is the new *link.
type upKey struct{}

// NewClient returns a Client for o.URL. Configuration errors are reported
// by Serve.
func NewClient(o *Options) *Client {
	c := &Client{o: o.withDefaults(), hdr: http.Header{}, closeEnd: make(chan struct{})}
	c.log = c.o.Logger.With("url", c.o.URL)
	c.target, c.cfgErr = clientTarget(c.o.URL, c.o.EndpointID)
	if c.o.EndpointID != "" {
		c.hdr.Set(hdrExtensions, formatExtension(c.o.EndpointID)) // [R-WS.10a], for pre-1.3 servers
	}
	if c.o.Username != "" {
		r := http.Request{Header: http.Header{}}
		r.SetBasicAuth(c.o.Username, c.o.Password)
		c.hdr.Set("Authorization", r.Header.Get("Authorization"))
	}
	d := &net.Dialer{Timeout: c.o.HandshakeTimeout, KeepAlive: 30 * time.Second}
	c.rt = &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		// The connection is a corkConn under TLS (cork.go); dial finds it
		// through its ctx.
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			nc, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			cc := &corkConn{Conn: nc}
			if slot, ok := ctx.Value(corkKey{}).(*atomic.Pointer[corkConn]); ok {
				slot.Store(cc)
			}
			return cc, nil
		},
		TLSHandshakeTimeout: c.o.HandshakeTimeout,
	}
	if c.o.TLS != nil {
		c.rt.TLSClientConfig = c.o.TLS.Clone()
		c.rt.TLSClientConfig.NextProtos = []string{"http/1.1"} // an upgrade needs HTTP/1.1
	}
	return c
}

// clientTarget checks the server URL and adds the eid query pair [R-WS.10b].
func clientTarget(raw, eid string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("ws: URL: %w", err)
	}
	if u.Scheme != "ws" && u.Scheme != "wss" || u.Host == "" {
		return "", fmt.Errorf("ws: URL %q: want ws://host/path or wss://host/path", raw)
	}
	if eid != "" {
		if !validEID(eid) {
			return "", fmt.Errorf("ws: Endpoint ID %q holds a control character", eid)
		}
		u.RawQuery = withEIDQuery(u.RawQuery, eid)
	}
	return u.String(), nil
}

// Serve connects and hands inbound Records to h, reconnecting whenever the
// session drops, until ctx is done or Close is called; then it closes the
// Client and returns nil. It returns an error at once for a bad URL or
// Endpoint ID.
func (c *Client) Serve(ctx context.Context, h mtp.Handler) error {
	if c.cfgErr != nil {
		return c.cfgErr
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	if c.serving {
		c.mu.Unlock()
		return errors.New("ws: Serve called twice")
	}
	c.serving = true
	// Cancellation closes the Client, with a close handshake [R-WS.8]:
	// reads do not watch ctx, as a cancelled read drops the connection.
	stop := context.AfterFunc(ctx, func() { _ = c.Close() })
	ctx, c.cancel = context.WithCancel(ctx)
	c.mu.Unlock()
	defer stop()
	defer c.Close()

	retry := mtp.Retry{MinWait: c.o.MinWait, Multiplier: c.o.Multiplier} // [R-WS.19]
	return mtp.Redial(ctx, &retry, func(ctx context.Context) (bool, error) {
		l, err := c.dial(ctx)
		if err != nil {
			return false, err
		}
		// An established session resets the retry count [R-WS.20].
		return true, c.session(ctx, h, l)
	}, &mtp.RedialOptions{Logger: c.log, Msg: "ws: reconnecting"})
}

// dial performs the opening handshake [R-WS.7] and checks that the server
// selected v1.usp.
func (c *Client) dial(ctx context.Context) (*link, error) {
	capt := &extCapture{base: c.rt}
	var cork atomic.Pointer[corkConn]
	ctx = context.WithValue(ctx, corkKey{}, &cork)
	ctx, cancel := context.WithTimeout(ctx, c.o.HandshakeTimeout)
	defer cancel()
	conn, resp, err := websocket.Dial(ctx, c.target, &websocket.DialOptions{
		HTTPClient:   &http.Client{Transport: capt},
		HTTPHeader:   c.hdr,
		Subprotocols: []string{Subprotocol},
	})
	if err != nil {
		return nil, fmt.Errorf("ws: dial: %w", err)
	}
	if conn.Subprotocol() != Subprotocol {
		_ = conn.CloseNow()
		return nil, ErrNoSubprotocol
	}
	peer := mtp.Peer{Address: c.o.URL, EndpointID: capt.eid, Certs: verifiedChain(resp.TLS)}
	if peer.EndpointID == "" { // [R-WS.11b]: a response without the extension is fine
		peer.EndpointID = certEndpointID(peer.Certs)
	}
	if err := c.checkServer(&peer); err != nil {
		_ = conn.Close(websocket.StatusPolicyViolation, "server certificate names another Endpoint")
		return nil, err
	}
	return newLink(conn, peer, &c.o, cork.Load()), nil
}

// extCapture takes the bbf-usp-protocol extension out of a handshake
// response, which the WebSocket library would otherwise refuse.
type extCapture struct {
	base http.RoundTripper
	eid  string
}

func (x *extCapture) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := x.base.RoundTrip(req)
	if resp != nil {
		x.eid = takeExtension(resp.Header)
	}
	return resp, err
}

// session runs one established connection: the StateUp call, the flush of
// the queue alongside the receive loop, and the StateDown call.
func (c *Client) session(ctx context.Context, h mtp.Handler, l *link) error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		l.close(websocket.StatusGoingAway, "client closing")
		return mtp.ErrClosed
	}
	c.cur, c.upLink = l, l
	c.mu.Unlock()
	l.log.Info("ws: connected")
	c.state(context.WithValue(ctx, upKey{}, l), l.peer, mtp.StateUp, nil)
	c.mu.Lock()
	c.upLink = nil
	c.mu.Unlock()

	var wg sync.WaitGroup
	wg.Go(func() {
		if err := c.flush(ctx, l); err != nil {
			_ = l.ws.CloseNow()
		}
	})
	err := l.serve(ctx, h) // reads while the queue drains, so echoes cannot deadlock
	wg.Wait()
	c.mu.Lock()
	c.cur = nil
	if c.ready == l {
		c.ready = nil
	}
	c.mu.Unlock()
	l.log.Info("ws: disconnected", "err", err)
	c.state(ctx, l.peer, mtp.StateDown, err)
	return err
}

// flush sends the queued Records in order, then opens l to Send. Records
// it could not send go back to the head of the queue.
func (c *Client) flush(ctx context.Context, l *link) error {
	for {
		c.mu.Lock()
		if c.cur != l {
			c.mu.Unlock()
			return nil
		}
		q := c.queue
		c.queue = nil
		if len(q) == 0 {
			c.ready = l
			c.mu.Unlock()
			return nil
		}
		c.mu.Unlock()
		for i, rec := range q {
			if err := l.write(ctx, rec); err != nil {
				c.mu.Lock()
				if !c.closed {
					c.queue = append(q[i:len(q):len(q)], c.queue...)
				}
				c.mu.Unlock()
				return err
			}
		}
	}
}

// Send writes rec to the server, or queues a copy while disconnected (or
// while the queue is being flushed, to keep order). addr is ignored. A
// ctx deadline bounds the write; a ctx without one is checked before it
// (see Options.PingInterval for what ends a write the peer does not read).
func (c *Client) Send(ctx context.Context, addr string, rec []byte) error {
	if len(rec) > c.o.MaxRecord {
		return fmt.Errorf("ws: record of %d bytes, limit %d: %w", len(rec), c.o.MaxRecord, mtp.ErrTooLarge)
	}
	var failed *link
	for {
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return fmt.Errorf("ws: send: %w", mtp.ErrClosed)
		}
		l := c.ready
		if up, _ := ctx.Value(upKey{}).(*link); up != nil && up == c.upLink {
			l = up
		}
		if l == nil || l == failed {
			err := c.enqueueLocked(rec)
			c.mu.Unlock()
			return err
		}
		c.mu.Unlock()
		err := l.write(ctx, rec)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("ws: send: %w", err)
		}
		// The connection broke under us: queue for the next one.
		failed = l
		c.mu.Lock()
		if c.ready == l {
			c.ready = nil
		}
		c.mu.Unlock()
	}
}

// enqueueLocked queues a copy of rec; c.mu is held.
func (c *Client) enqueueLocked(rec []byte) error {
	if len(c.queue) >= c.o.QueueLen {
		return fmt.Errorf("ws: disconnected, %d records queued: %w", len(c.queue), mtp.ErrQueueFull)
	}
	c.queue = append(c.queue, bytes.Clone(rec))
	return nil
}

// Close stops Serve, closes the connection with status 1001 after its
// close handshake, and discards queued Records. It is safe to call more
// than once (a second Close waits for the first), and from a Handler.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		<-c.closeEnd
		return nil
	}
	defer close(c.closeEnd)
	c.closed = true
	c.queue = nil
	cancel, l := c.cancel, c.cur
	c.ready = nil
	c.mu.Unlock()
	if l != nil {
		l.close(websocket.StatusGoingAway, "client closing")
	}
	if cancel != nil {
		cancel()
	}
	c.rt.CloseIdleConnections()
	return nil
}

func (c *Client) state(ctx context.Context, p mtp.Peer, s mtp.State, err error) {
	if c.o.OnState != nil {
		c.o.OnState(ctx, p, s, err)
	}
}

// ErrServerIdentity: the server's certificate names USP Endpoints, none of
// them the one the Client expects (Options.PeerID) [R-SEC.5].
var ErrServerIdentity = errors.New("ws: server certificate names another Endpoint ID")

// checkServer compares the server's certificate with the Endpoint it is
// expected to be [R-SEC.5] and marks peer Authenticated when it matches.
func (c *Client) checkServer(peer *mtp.Peer) error {
	want := c.o.PeerID
	if want == "" {
		_, peer.Authenticated = certClaim(peer.Certs, peer.EndpointID)
		return nil
	}
	names, covers := certClaim(peer.Certs, want)
	if names && !covers {
		return fmt.Errorf("%w: want %s", ErrServerIdentity, want)
	}
	if covers {
		peer.EndpointID, peer.Authenticated = want, true
	}
	return nil
}
