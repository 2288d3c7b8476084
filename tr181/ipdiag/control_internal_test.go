package ipdiag

import (
	"net"
	"testing"

	"golang.org/x/sys/unix"
)

// TestTransferSocketOptions: a transfer's connection carries the DSCP
// (TOS byte) and Ethernet priority (socket priority) its inputs ask for.
func TestTransferSocketOptions(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	sp := &transferSpec{dscp: 10, prio: 5}
	c, err := (&net.Dialer{Control: sp.control()}).Dial("tcp4", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rc, _ := c.(*net.TCPConn).SyscallConn()
	var tos, prio int
	rc.Control(func(fd uintptr) {
		tos, _ = unix.GetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_TOS)
		prio, _ = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_PRIORITY)
	})
	if tos != 10<<2 || prio != 5 {
		t.Errorf("TOS %#x priority %d, want %#x and 5", tos, prio, 10<<2)
	}
}
