package stomp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime/debug"
	"strings"
	"sync"

	"github.com/uspkit/uspkit/mtp"
)

// Client is a USP endpoint's STOMP connection: an mtp.Transport that
// connects to one STOMP server, subscribes to its destination and sends
// Records to other endpoints' destinations. It reconnects by itself with
// the retry algorithm of TR-369 and queues Records while disconnected.
//
// A Client is safe for concurrent use. Lock order: c.mu is never held
// while a connection's write lock is taken or while doing I/O.
type Client struct {
	o   Options
	log *slog.Logger

	mu        sync.Mutex // guards the fields below
	closed    bool
	serving   bool
	cur       *conn     // where Send writes; nil while disconnected
	queue     []pending // Records waiting for a connection, in order
	dest      string    // the destination of the current or last connection
	cancel    context.CancelFunc
	closeDone chan struct{} // closed when Close has finished
}

// pending is a queued Record.
type pending struct {
	dest string
	rec  []byte
}

// upKey marks the ctx of a StateUp call; its value is the new *conn.
type upKey struct{}

// NewClient returns a Client for o; nil o means zero Options, which
// Serve rejects. The Client connects when Serve is called.
func NewClient(o *Options) *Client {
	c := &Client{o: o.withDefaults(), closeDone: make(chan struct{})}
	c.log = c.o.Logger
	return c
}

// Serve connects, subscribes and calls h for each Record that arrives,
// reconnecting after failures with the back-off of Options.MinWait and
// Multiplier [R-STOMP.7], until ctx is done or Close is called; either
// closes the Client. It returns nil then, or an error at once for bad
// Options or a second call.
func (c *Client) Serve(ctx context.Context, h mtp.Handler) error {
	if err := c.o.check(); err != nil {
		return err
	}
	c.mu.Lock()
	if c.serving {
		c.mu.Unlock()
		return errors.New("stomp: Serve called twice")
	}
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.serving = true
	// Cancellation of ctx goes through Close, which says goodbye first.
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	c.cancel = cancel
	c.mu.Unlock()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()

	retry := mtp.Retry{MinWait: c.o.MinWait, Multiplier: c.o.Multiplier, MaxWait: c.o.MaxWait}
	_ = mtp.Redial(sctx, &retry, func(ctx context.Context) (bool, error) { return c.session(ctx, h) },
		&mtp.RedialOptions{Logger: c.log.With("addr", c.o.Addr), Level: slog.LevelWarn, Msg: "stomp: not connected; retrying"})
	<-c.closeDone
	return nil
}

// Destination returns the destination the Client subscribes to: the
// server's subscribe-dest or Options.Destination [R-STOMP.12], of the
// current or last connection; Options.Destination before the first.
func (c *Client) Destination() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dest == "" {
		return c.o.Destination
	}
	return c.dest
}

// session runs one connection from dial to its end: the StateUp call,
// the flush of the queue, then the read loop. up reports whether the
// connection was made.
func (c *Client) session(ctx context.Context, h mtp.Handler) (up bool, err error) {
	cn, early, err := open(ctx, &c.o)
	if err != nil {
		return false, err
	}
	stop := context.AfterFunc(ctx, func() { cn.nc.Close() })
	defer stop()
	c.log.Info("stomp: connected", "addr", c.o.Addr, "destination", cn.dest,
		"heartbeat_out", cn.out, "heartbeat_in", cn.in)
	c.mu.Lock()
	c.dest = cn.dest
	c.mu.Unlock()
	var beats sync.WaitGroup
	stopBeats := make(chan struct{})
	if cn.out > 0 {
		beats.Go(func() { cn.heartbeat(stopBeats) })
	}
	c.state(context.WithValue(ctx, upKey{}, cn), cn.peer, mtp.StateUp, nil)
	err = c.flush(cn)
	if err == nil {
		err = c.readLoop(ctx, cn, h, early)
	}
	close(cn.done)
	c.mu.Lock()
	if c.cur == cn {
		c.cur = nil
	}
	closed := c.closed
	c.mu.Unlock()
	cn.nc.Close()
	close(stopBeats)
	beats.Wait()
	if closed {
		err = nil
	}
	c.state(ctx, cn.peer, mtp.StateDown, err)
	return true, err
}

// flush sends the queued Records on cn, then makes cn the connection
// Send writes to. Records queued meanwhile are sent first, in order.
func (c *Client) flush(cn *conn) error {
	for {
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return mtp.ErrClosed
		}
		q := c.queue
		c.queue = nil
		if len(q) == 0 {
			c.cur = cn
			c.mu.Unlock()
			return nil
		}
		c.mu.Unlock()
		for i, p := range q {
			if err := cn.send(p.dest, p.rec); err != nil {
				c.mu.Lock()
				c.queue = append(q[i:], c.queue...)
				c.mu.Unlock()
				return fmt.Errorf("stomp: send queued record: %w", err)
			}
		}
	}
}

// readLoop delivers MESSAGE frames to h until the connection fails.
func (c *Client) readLoop(ctx context.Context, cn *conn, h mtp.Handler, early []Frame) error {
	for i := range early {
		c.deliver(ctx, cn, &early[i], h)
	}
	var f Frame
	for {
		if err := cn.rd.ReadFrame(&f); err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) && cn.dr.d > 0 {
				return fmt.Errorf("stomp: no heart-beat from the server for %v: %w", cn.dr.d, err)
			}
			return fmt.Errorf("stomp: read: %w", err)
		}
		switch f.Command {
		case "MESSAGE":
			c.deliver(ctx, cn, &f, h)
		case "RECEIPT":
			cn.receipt(&f)
		case "ERROR":
			return serverError(&f) // [R-STOMP.25]
		default:
			c.log.Debug("stomp: ignoring frame", "command", f.Command)
		}
	}
}

// deliver hands one MESSAGE frame's Record to h; the reply goes to the
// frame's reply-to-dest [R-STOMP.23]. A body that is not a USP Record is
// dropped silently, as "Handling Errors" says.
func (c *Client) deliver(ctx context.Context, cn *conn, f *Frame, h mtp.Handler) {
	if ct, ok := f.Get("content-type"); ok && !isUSP(ct) {
		c.log.Debug("stomp: dropping message", "content_type", ct)
		return
	}
	replyTo, _ := f.Get("reply-to-dest")
	in := mtp.Inbound{Record: f.Body, From: mtp.Peer{Address: replyTo, Certs: cn.peer.Certs}}
	if in.Record == nil {
		in.Record = []byte{}
	}
	defer func() {
		if v := recover(); v != nil {
			c.log.Error("stomp: handler panic", "panic", v, "stack", string(debug.Stack()))
		}
	}()
	h.HandleRecord(ctx, in)
}

// isUSP reports whether a content-type names a USP Record, whatever its
// parameters.
func isUSP(ct string) bool {
	mt, _, _ := strings.Cut(ct, ";")
	return strings.EqualFold(strings.TrimSpace(mt), ContentType)
}

// Send sends rec to the destination addr [R-STOMP.18], with our own
// destination as reply-to-dest [R-STOMP.21]. While disconnected it queues
// a copy of rec and returns nil; mtp.ErrQueueFull when the queue is full.
func (c *Client) Send(ctx context.Context, addr string, rec []byte) error {
	if len(rec) > c.o.MaxRecord {
		return fmt.Errorf("stomp: record of %d bytes over %d: %w", len(rec), c.o.MaxRecord, mtp.ErrTooLarge)
	}
	if addr == "" {
		return fmt.Errorf("stomp: empty destination: %w", mtp.ErrNoPeer)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return fmt.Errorf("stomp: send: %w", mtp.ErrClosed)
	}
	cn := c.cur
	if up, ok := ctx.Value(upKey{}).(*conn); ok {
		cn = up // from within StateUp: ahead of the queue
	}
	if cn == nil {
		defer c.mu.Unlock()
		return c.enqueueLocked(addr, rec)
	}
	c.mu.Unlock()
	err := cn.send(addr, rec)
	if err == nil {
		return nil
	}
	// The connection broke under us: keep the Record for the next one.
	c.log.Debug("stomp: write failed; queueing", "err", err)
	cn.nc.Close()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return fmt.Errorf("stomp: send: %w", mtp.ErrClosed)
	}
	if c.cur == cn {
		c.cur = nil
	}
	return c.enqueueLocked(addr, rec)
}

// enqueueLocked queues a copy of rec; c.mu is held.
func (c *Client) enqueueLocked(addr string, rec []byte) error {
	if len(c.queue) >= c.o.QueueLen {
		return fmt.Errorf("stomp: %d records queued: %w", len(c.queue), mtp.ErrQueueFull)
	}
	c.queue = append(c.queue, pending{dest: addr, rec: append([]byte(nil), rec...)})
	return nil
}

// Close sends DISCONNECT and waits briefly for its receipt, then closes
// the connection, stops Serve and discards queued Records. It is safe to
// call more than once.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	cn, cancel := c.cur, c.cancel
	c.cur, c.queue = nil, nil
	c.mu.Unlock()
	if cn != nil {
		cn.disconnect(byeTimeout)
	}
	if cancel != nil {
		cancel()
	}
	close(c.closeDone)
	return nil
}

// state calls OnState, if set.
func (c *Client) state(ctx context.Context, p mtp.Peer, s mtp.State, err error) {
	c.log.Debug("stomp: state", "addr", p.Address, "state", s, "err", err)
	if c.o.OnState != nil {
		c.o.OnState(ctx, p, s, err)
	}
}
