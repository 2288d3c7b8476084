package uds

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"

	"github.com/uspkit/uspkit/mtp"
)

// Client is the Unix domain socket client side of the MTP: it connects to
// the server at Options.Path [R-UDS.4], sends its Handshake [R-UDS.16],
// waits for the server's [R-UDS.18], and reconnects whenever the
// connection fails or ends [R-UDS.5]. Send's addr is the server's Endpoint
// ID or "". While disconnected, Send queues up to Options.Queue Records;
// they are written, in order, as soon as the next Handshake completes,
// before StateUp is reported.
//
// A Client is safe for concurrent use.
type Client struct {
	cfg *config
	hs  []byte // our Handshake value

	mu      sync.Mutex
	closed  bool
	serving bool
	cancel  context.CancelFunc // ends Serve
	conn    *conn              // the connection after its Handshake, or nil
	peerEID string             // the server's Endpoint ID, once known
	queue   []queued
}

// queued is a Record waiting for a connection.
type queued struct {
	addr string
	rec  []byte
}

// NewClient returns a Client; Serve starts it. opts must set Path and
// EndpointID.
func NewClient(opts *Options) *Client {
	cfg := newConfig(opts)
	return &Client{cfg: cfg, hs: []byte(cfg.EndpointID)}
}

// Serve connects to the server, hands every Record it sends to h, and
// reconnects after a random wait (see Options.MinWait) each time the
// connection fails or ends, until ctx is done or Close is called; then it
// returns nil.
func (cl *Client) Serve(ctx context.Context, h mtp.Handler) error {
	if err := cl.cfg.check(); err != nil {
		return err
	}
	cl.mu.Lock()
	if cl.closed {
		cl.mu.Unlock()
		return nil
	}
	if cl.serving {
		cl.mu.Unlock()
		return errors.New("uds: client is already serving")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cl.serving, cl.cancel = true, cancel
	cl.mu.Unlock()
	defer func() {
		cl.mu.Lock()
		cl.serving, cl.cancel = false, nil
		cl.mu.Unlock()
	}()

	// [R-UDS.5] wait a random time, then connect again; without Grow
	// every wait is drawn from the first interval, as after a connection.
	retry := mtp.Retry{MinWait: cl.cfg.MinWait, Multiplier: cl.cfg.Multiplier}
	return mtp.Redial(ctx, &retry, func(ctx context.Context) (bool, error) {
		up, err := cl.session(ctx, h)
		return up || !cl.cfg.Grow, err
	}, &mtp.RedialOptions{Logger: cl.cfg.log.With("path", cl.cfg.Path), Msg: "uds: reconnecting"})
}

// session runs one connection to its end; up reports whether its
// Handshake completed.
func (cl *Client) session(ctx context.Context, h mtp.Handler) (up bool, err error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "unix", cl.cfg.Path)
	if err != nil {
		return false, err
	}
	c := newConn(cl.cfg, nc)
	stop := context.AfterFunc(ctx, c.close)
	defer stop()
	defer c.close()
	// [R-UDS.16] the client speaks first.
	if err := c.writeFrame(ctx, TypeHandshake, cl.hs); err != nil {
		return false, err
	}
	err = c.run(ctx, h, func(eid string) error { return cl.up(ctx, c, eid) })
	c.close()
	cl.mu.Lock()
	if cl.conn == c {
		cl.conn = nil
	}
	cl.mu.Unlock()
	if c.up {
		cl.cfg.log.Info("uds: disconnected", "peer", c.peer.EndpointID, "err", err)
		cl.state(ctx, c.peer, mtp.StateDown, err)
	}
	return c.up, err
}

// up makes the connection current once the server's Handshake arrived,
// and writes the queued Records first.
func (cl *Client) up(ctx context.Context, c *conn, eid string) error {
	c.wmu.Lock()
	cl.mu.Lock()
	if cl.closed {
		cl.mu.Unlock()
		c.wmu.Unlock()
		return mtp.ErrClosed
	}
	q := cl.queue
	cl.queue, cl.conn, cl.peerEID = nil, c, eid
	cl.mu.Unlock()
	for i, it := range q {
		if it.addr != "" && it.addr != eid {
			cl.cfg.log.Warn("uds: dropping queued record for another endpoint", "addr", it.addr, "peer", eid)
			continue
		}
		if err := c.writeLocked(ctx, TypeRecord, it.rec); err != nil {
			c.wmu.Unlock()
			cl.requeue(q[i:])
			return err
		}
	}
	c.wmu.Unlock()
	cl.cfg.log.Info("uds: connected", "path", cl.cfg.Path, "peer", eid)
	cl.state(ctx, c.peer, mtp.StateUp, nil)
	return nil
}

// requeue puts Records that could not be written back at the head of the
// queue, keeping it within its bound.
func (cl *Client) requeue(q []queued) {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if cl.closed {
		return
	}
	q = append(q[:len(q):len(q)], cl.queue...)
	cl.queue = q[:min(len(q), cl.cfg.Queue)]
}

func (cl *Client) state(ctx context.Context, p mtp.Peer, st mtp.State, err error) {
	if cl.cfg.OnState != nil {
		cl.cfg.OnState(ctx, p, st, err)
	}
}

// Send writes rec to the server, or queues it while there is no
// connection. addr is the server's Endpoint ID or ""; another Endpoint ID
// fails with mtp.ErrNoPeer once the server's is known (a queued Record
// for another is dropped at the Handshake). It fails with mtp.ErrTooLarge
// for a Record over Options.MaxRecord, mtp.ErrQueueFull when the queue is
// full and mtp.ErrClosed after Close.
func (cl *Client) Send(ctx context.Context, addr string, rec []byte) error {
	cl.mu.Lock()
	closed, c, peer := cl.closed, cl.conn, cl.peerEID
	switch {
	case closed:
		cl.mu.Unlock()
		return fmt.Errorf("uds: send: %w", mtp.ErrClosed)
	case len(rec) > cl.cfg.MaxRecord:
		cl.mu.Unlock()
		return fmt.Errorf("uds: send %d bytes, limit %d: %w", len(rec), cl.cfg.MaxRecord, mtp.ErrTooLarge)
	case addr != "" && peer != "" && addr != peer:
		cl.mu.Unlock()
		return fmt.Errorf("uds: send to %q, server is %q: %w", addr, peer, mtp.ErrNoPeer)
	case c == nil:
		err := cl.enqueueLocked(addr, rec)
		cl.mu.Unlock()
		return err
	}
	cl.mu.Unlock()
	// [R-UDS.22] a Record goes in a Type 3 field.
	err := c.writeFrame(ctx, TypeRecord, rec)
	if err == nil || !c.dead.Load() {
		return err
	}
	// The connection broke under this write: queue the Record for the
	// next one.
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if cl.conn == c {
		cl.conn = nil
	}
	if cl.closed {
		return fmt.Errorf("uds: send: %w", mtp.ErrClosed)
	}
	return cl.enqueueLocked(addr, rec)
}

// enqueueLocked queues a copy of rec; cl.mu is held.
func (cl *Client) enqueueLocked(addr string, rec []byte) error {
	if len(cl.queue) >= cl.cfg.Queue {
		return fmt.Errorf("uds: send: %d records queued: %w", len(cl.queue), mtp.ErrQueueFull)
	}
	cl.queue = append(cl.queue, queued{addr: addr, rec: append([]byte(nil), rec...)})
	return nil
}

// Close stops Serve, closes the connection and discards queued Records.
// It is safe to call more than once.
func (cl *Client) Close() error {
	cl.mu.Lock()
	if cl.closed {
		cl.mu.Unlock()
		return nil
	}
	cl.closed = true
	cancel, c := cl.cancel, cl.conn
	cl.conn, cl.queue = nil, nil
	cl.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	if c != nil {
		c.close()
	}
	return nil
}

var _ mtp.Transport = (*Client)(nil)
