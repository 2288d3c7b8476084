package ws

import (
	"crypto/tls"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// The answers to the Records of one read leave in one write. The
// WebSocket library writes every message with a system call of its own;
// when a read brings several Records and the Agent answers them where it
// gets them (HandOff), that is a write per answer where one would do. A
// corkConn under the library (and under TLS) therefore holds the bytes
// written while the connection's reader is busy with what it has read — it
// is between messages, or in a Handler that called HandOff — and writes
// them all at once when the reader next needs the network (before its read
// system call), when the reading is handed over, when they reach
// maxHeld, or when the connection ends or is closed. Writes while the reader waits for
// the network, or is in a Handler that did not call HandOff (one that may
// run for long), go out at once, after what is held.

// maxHeld bounds the bytes a corkConn holds.
const maxHeld = 64 << 10

// corkConn is a connection that may hold writes for its link (see above).
type corkConn struct {
	net.Conn

	inRead atomic.Bool          // the reader is in, or about to enter, Conn.Read
	l      atomic.Pointer[link] // the link whose reader decides; nil: never hold
	writes atomic.Int64         // system-call writes made, for tests

	mu   sync.Mutex
	held []byte
	err  error // the first failed write; what was held is lost with it
}

// Read writes what is held, then reads. inRead is set first, so that a
// write from then on goes out at once instead of waiting for the next
// read.
func (c *corkConn) Read(p []byte) (int, error) {
	c.inRead.Store(true)
	c.flush()
	n, err := c.Conn.Read(p)
	c.inRead.Store(false)
	return n, err
}

// Write holds b while the link's reader is busy, else writes what is held
// and b.
func (c *corkConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return 0, c.err
	}
	if !c.inRead.Load() && len(c.held)+len(b) <= maxHeld {
		if l := c.l.Load(); l != nil && l.holding() {
			c.held = append(c.held, b...)
			return len(b), nil
		}
	}
	if len(c.held) == 0 {
		c.writes.Add(1)
		n, err := c.Conn.Write(b)
		if err != nil {
			c.err = err
		}
		return n, err
	}
	if len(c.held)+len(b) <= maxHeld {
		c.held = append(c.held, b...)
		if err := c.flushLocked(); err != nil {
			return 0, err
		}
		return len(b), nil
	}
	if err := c.flushLocked(); err != nil {
		return 0, err
	}
	c.writes.Add(1)
	n, err := c.Conn.Write(b)
	if err != nil {
		c.err = err
	}
	return n, err
}

// flush writes what is held.
func (c *corkConn) flush() {
	c.mu.Lock()
	defer c.mu.Unlock()
	_ = c.flushLocked()
}

func (c *corkConn) flushLocked() error {
	if len(c.held) == 0 || c.err != nil {
		return c.err
	}
	c.writes.Add(1)
	_, err := c.Conn.Write(c.held)
	if err != nil {
		c.err = err
	}
	if cap(c.held) > 2*maxHeld {
		c.held = nil
	} else {
		c.held = c.held[:0]
	}
	return err
}

// closeFlushWait bounds the write of what is held when the connection is
// closed (a Close frame in answer to the peer's, say [R-WS.8]).
const closeFlushWait = 250 * time.Millisecond

// Close writes what is held, unless a write is under way or the peer does
// not take it within closeFlushWait, then closes the connection.
func (c *corkConn) Close() error {
	if c.mu.TryLock() {
		if len(c.held) > 0 && c.err == nil {
			_ = c.Conn.SetWriteDeadline(time.Now().Add(closeFlushWait))
			_ = c.flushLocked()
		}
		c.mu.Unlock()
	}
	return c.Conn.Close()
}

// attach lets l's reader decide when writes are held.
func (c *corkConn) attach(l *link) {
	if c != nil {
		c.l.Store(l)
	}
}

// detach ends holding, when l's reading has ended, and writes what is held.
func (c *corkConn) detach() {
	if c != nil {
		c.l.Store(nil)
		c.flush()
	}
}

// corkOf finds the corkConn under c, through TLS.
func corkOf(c net.Conn) *corkConn {
	for range 4 {
		switch x := c.(type) {
		case *corkConn:
			return x
		case *tls.Conn:
			c = x.NetConn()
		default:
			return nil
		}
	}
	return nil
}

// corkListener wraps every accepted connection in a corkConn.
type corkListener struct{ net.Listener }

func (l corkListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &corkConn{Conn: c}, nil
}

// corkKey marks a context's net.Conn (the server's ConnContext) or
// *atomic.Pointer[corkConn] (a Client's dial) slot.
type corkKey struct{}

// holding reports whether writes may wait for the link's reader: it is
// between messages, or in a Handler that called HandOff (which the
// hand-off timer bounds).
func (l *link) holding() bool {
	st := l.turn.Load().state.Load()
	return st == turnReading || st == turnMayHandOver
}
