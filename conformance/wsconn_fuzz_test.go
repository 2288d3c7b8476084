package conformance

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"testing"
	"time"
)

// byteConn is a net.Conn that reads from a fixed input and discards what
// is written.
type byteConn struct {
	net.Conn
	r io.Reader
}

func (c byteConn) Read(p []byte) (int, error)       { return c.r.Read(p) }
func (c byteConn) Write(p []byte) (int, error)      { return len(p), nil }
func (c byteConn) SetReadDeadline(time.Time) error  { return nil }
func (c byteConn) SetWriteDeadline(time.Time) error { return nil }
func (c byteConn) Close() error                     { return nil }
func (c byteConn) SetDeadline(t time.Time) error    { return nil }
func (c byteConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (c byteConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }

// FuzzWSNext: whatever an Agent under test sends on a WebSocket
// connection, the runner's frame reader returns events or an error and
// never panics.
func FuzzWSNext(f *testing.F) {
	f.Add([]byte{0x82, 0x03, 1, 2, 3})                      // binary message
	f.Add([]byte{0x02, 0x01, 1, 0x89, 0x00, 0x80, 0x01, 2}) // fragment, ping, continuation
	f.Add([]byte{0x88, 0x02, 0x03, 0xeb})                   // close 1003
	f.Add([]byte{0x88, 0x01, 0x03})                         // close with one byte
	f.Add([]byte{0x82, 0x7e, 0x00, 0x02, 9, 9})             // 16-bit length
	f.Add([]byte{0x82, 0x7f, 0xff, 0, 0, 0, 0, 0, 0, 0})    // huge length
	f.Add([]byte{0x82, 0x83, 1, 2, 3, 4, 5, 6, 7})          // masked
	f.Fuzz(func(t *testing.T, in []byte) {
		for _, client := range []bool{true, false} {
			c := &wsConn{nc: byteConn{r: bytes.NewReader(in)}, br: bufio.NewReader(bytes.NewReader(in)), client: client}
			for range 64 {
				ev, err := c.next(time.Now().Add(time.Second))
				if err != nil {
					break
				}
				_ = ev.String()
				_ = ev.closeCode()
			}
		}
	})
}
