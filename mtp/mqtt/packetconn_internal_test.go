package mqtt

import (
	"bytes"
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

// tcpPair returns both ends of a loopback TCP connection.
func tcpPair(t *testing.T) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server, err = ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

// TestPacketConn checks that the pieces written between Lock and Unlock
// leave in one write at Unlock, that a large packet's buffer is not kept,
// and that a failed write is reported once, closes the connection and
// fails every later write.
func TestPacketConn(t *testing.T) {
	nc, peer := tcpPair(t)
	var failed []error
	c := newPacketConn(nc, func(err error) { failed = append(failed, err) })

	c.Lock()
	for _, piece := range []string{"\x30\x05", "\x00\x01a", "xy"} {
		if n, err := c.Write([]byte(piece)); n != len(piece) || err != nil {
			t.Fatalf("Write(%q) = %d, %v", piece, n, err)
		}
	}
	_ = peer.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if n, _ := peer.Read(make([]byte, 16)); n != 0 {
		t.Fatalf("%d bytes sent before Unlock", n)
	}
	c.Unlock()
	got := make([]byte, 7)
	_ = peer.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(peer, got); err != nil || string(got) != "\x30\x05\x00\x01axy" {
		t.Fatalf("peer read %q, %v", got, err)
	}

	c.Lock()
	c.Write(bytes.Repeat([]byte{1}, 2*packetKeepBuf))
	c.Unlock()
	if c.out != nil {
		t.Errorf("kept a write buffer of %d bytes", cap(c.out))
	}
	if _, err := io.ReadFull(peer, make([]byte, 2*packetKeepBuf)); err != nil {
		t.Fatal(err)
	}

	nc.Close()
	c.Lock()
	c.Write([]byte("\xc0\x00"))
	c.Unlock()
	if len(failed) != 1 {
		t.Fatalf("fail called %d times after a failed write, want once", len(failed))
	}
	c.Lock()
	_, err := c.Write([]byte("\xc0\x00"))
	c.Unlock()
	if err == nil || !errors.Is(err, failed[0]) || len(failed) != 1 {
		t.Errorf("Write after a failed write = %v, want the first error %v; fail called %d times", err, failed[0], len(failed))
	}
}
