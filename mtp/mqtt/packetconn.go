package mqtt

import (
	"bufio"
	"net"
	"sync"
)

// packetConn is the connection the MQTT 5.0 protocol client reads and
// writes. The library reads a packet a byte or a few at a time and writes
// it in three to five pieces, each a system call (a TLS record, a
// WebSocket message) of its own on a bare connection. packetConn reads
// through a buffer and sends each packet in one write: the library holds
// the connection's lock (packetConn is a sync.Locker, as the library's
// own thread-safe connection is) while it writes one packet, so the
// pieces are gathered and go out at Unlock.
//
// Only the library's receiving goroutine reads. A failed write is passed
// to fail and closes the connection, which ends every call waiting on
// it; later writes fail at once.
type packetConn struct {
	net.Conn
	r    *bufio.Reader
	fail func(error)

	mu  sync.Mutex // held by the writer of one packet, Lock to Unlock
	out []byte     // the packet being written
	err error      // the first write error
}

// packetReadBuf is the size of a packetConn's read buffer.
const packetReadBuf = 4 << 10

// packetKeepBuf is the largest write buffer kept between packets; a
// larger one (a large Record) is let go once written.
const packetKeepBuf = 16 << 10

func newPacketConn(nc net.Conn, fail func(error)) *packetConn {
	return &packetConn{Conn: nc, r: bufio.NewReaderSize(nc, packetReadBuf), fail: fail}
}

func (c *packetConn) Read(b []byte) (int, error) { return c.r.Read(b) }

// Lock starts a packet.
func (c *packetConn) Lock() { c.mu.Lock() }

// Write adds a piece of the packet; c.mu is held.
func (c *packetConn) Write(b []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	c.out = append(c.out, b...)
	return len(b), nil
}

// Unlock sends the packet and ends it.
func (c *packetConn) Unlock() {
	defer c.mu.Unlock()
	if len(c.out) == 0 || c.err != nil {
		c.out = c.out[:0]
		return
	}
	if _, err := c.Conn.Write(c.out); err != nil {
		c.err = err
		c.fail(err)
		c.Conn.Close()
	}
	if cap(c.out) > packetKeepBuf {
		c.out = nil
	} else {
		c.out = c.out[:0]
	}
}
