package uds

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/uspkit/uspkit/mtp"
)

// ErrHandshake means a Handshake failed: the peer's could not be processed
// [R-UDS.21] or did not arrive in time [R-UDS.18].
var ErrHandshake = errors.New("uds: handshake failed")

// errConnDown is returned by writes on a connection that has been closed.
var errConnDown = errors.New("uds: connection closed")

// PeerError is the message of an Error frame the peer sent; the connection
// is closed on receiving one [R-UDS.25].
type PeerError struct {
	Msg string
}

func (e *PeerError) Error() string { return "uds: peer sent error: " + e.Msg }

// errorWait bounds the write of an Error frame before a connection closes.
const errorWait = time.Second

// conn is one socket connection, on either side. One goroutine reads it
// (run); any number write it (writeFrame), one frame at a time.
//
// Lock order: conn.wmu before Client.mu. close takes no lock, so Server.mu
// may be held while calling it.
type conn struct {
	cfg *config
	nc  net.Conn
	rd  *Reader

	closing sync.Once
	dead    atomic.Bool // set by close

	// Owned by the reading goroutine.
	up   bool
	peer mtp.Peer

	wmu  sync.Mutex // serializes writes; guards the buffers below
	hdr  [HeaderLen + FieldHeaderLen]byte
	iov  [2][]byte
	bufs net.Buffers
}

func newConn(cfg *config, nc net.Conn) *conn {
	return &conn{cfg: cfg, nc: nc, rd: NewReader(nc, cfg.frameLimit())}
}

// close closes the socket. It is safe to call more than once and from
// any goroutine; the socket is closed when any call returns.
func (c *conn) close() {
	c.closing.Do(func() {
		c.dead.Store(true)
		c.nc.Close()
	})
}

// writeFrame writes one frame with a single field.
func (c *conn) writeFrame(ctx context.Context, t Type, v []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.writeLocked(ctx, t, v)
}

// writeLocked writes one frame; c.wmu is held. A failed write leaves part
// of a frame on the stream, so it closes the connection. A context that
// is already done fails the write without closing it.
func (c *conn) writeLocked(ctx context.Context, t Type, v []byte) error {
	if c.dead.Load() {
		return errConnDown
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	d := time.Now().Add(c.cfg.WriteTimeout)
	if cd, ok := ctx.Deadline(); ok && cd.Before(d) {
		d = cd
	}
	if err := c.nc.SetWriteDeadline(d); err != nil {
		c.close()
		return fmt.Errorf("uds: write %s frame: %w", t, err)
	}
	// The headers and the value go out in one writev, without a copy.
	c.iov[0] = appendHeaders(c.hdr[:0], t, len(v))
	c.iov[1] = v
	c.bufs = c.iov[:]
	_, err := c.bufs.WriteTo(c.nc)
	c.iov[1] = nil
	if err != nil {
		c.close()
		return fmt.Errorf("uds: write %s frame: %w", t, err)
	}
	return nil
}

// fail sends an Error frame saying why and closes the connection
// [R-UDS.21], [R-UDS.23], [R-UDS.24].
func (c *conn) fail(why error) {
	ctx, cancel := context.WithTimeout(context.Background(), min(errorWait, c.cfg.WriteTimeout))
	defer cancel()
	msg := why.Error()
	if err := c.writeFrame(ctx, TypeError, []byte(msg)); err != nil {
		c.cfg.log.Debug("uds: could not send error frame", "err", err)
	}
	c.cfg.log.Warn("uds: closing connection", "peer", c.peer.EndpointID, "reason", msg)
	c.close()
}

// run reads frames until the connection ends and returns why. onUp is
// called when the peer's Handshake arrives, before any of its Records are
// handed to h; if it fails the connection fails.
func (c *conn) run(ctx context.Context, h mtp.Handler, onUp func(eid string) error) error {
	if err := c.nc.SetReadDeadline(time.Now().Add(c.cfg.HandshakeTimeout)); err != nil {
		return err
	}
	for {
		f, err := c.rd.ReadFrame()
		if err != nil {
			return c.readFailed(err)
		}
		for t, v := range f.Fields() {
			if err := c.field(ctx, h, onUp, t, v); err != nil {
				return err
			}
		}
	}
}

// readFailed turns a read error into the reason the connection ended,
// telling the peer first when the fault is its own.
func (c *conn) readFailed(err error) error {
	switch {
	case errors.Is(err, ErrSync), errors.Is(err, ErrFrameTooLarge), errors.Is(err, ErrMalformed):
		// [R-UDS.24] a frame that cannot be parsed.
		c.fail(err)
	case !c.up && errors.Is(err, os.ErrDeadlineExceeded):
		// [R-UDS.18] no Handshake in time.
		err = fmt.Errorf("%w: no handshake within %v", ErrHandshake, c.cfg.HandshakeTimeout)
		c.fail(err)
	}
	return err
}

// field acts on one received TLV field.
func (c *conn) field(ctx context.Context, h mtp.Handler, onUp func(string) error, t Type, v []byte) error {
	switch t {
	case TypeHandshake:
		if c.up {
			// [R-UDS.19] an unexpected Handshake is ignored (the
			// requirement's text says "Type 2 (Handshake)"; the
			// Handshake is Type 1, and an Error closes [R-UDS.25]).
			c.cfg.log.Debug("uds: ignoring repeated handshake", "peer", c.peer.EndpointID)
			return nil
		}
		return c.handshake(onUp, string(v))
	case TypeError:
		// [R-UDS.25] the caller closes the connection.
		return &PeerError{Msg: string(v)}
	case TypeRecord:
		if !c.up {
			// [R-UDS.20] no Records before the Handshake.
			c.cfg.log.Debug("uds: ignoring record before handshake", "bytes", len(v))
			return nil
		}
		if len(v) > c.cfg.MaxRecord {
			// [R-UDS.23] a Record that cannot be extracted.
			err := fmt.Errorf("uds: record of %d bytes over limit %d: %w", len(v), c.cfg.MaxRecord, mtp.ErrTooLarge)
			c.fail(err)
			return err
		}
		h.HandleRecord(ctx, mtp.Inbound{Record: v, From: c.peer})
	default:
		// [R-UDS.15] unexpected Types are ignored.
		c.cfg.log.Debug("uds: ignoring field", "type", t, "bytes", len(v))
	}
	return nil
}

// handshake takes the peer's Endpoint ID from its Handshake.
func (c *conn) handshake(onUp func(string) error, eid string) error {
	if err := checkEndpointID(eid); err != nil {
		// [R-UDS.21] a Handshake that cannot be processed.
		err = fmt.Errorf("%w: %v", ErrHandshake, err)
		c.fail(err)
		return err
	}
	c.peer = mtp.Peer{Address: eid, EndpointID: eid}
	if err := onUp(eid); err != nil {
		c.fail(err)
		return err
	}
	c.up = true
	return c.nc.SetReadDeadline(time.Time{})
}
