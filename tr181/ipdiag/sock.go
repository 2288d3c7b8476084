package ipdiag

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// bindControl returns a socket Control function that binds the socket to
// the interface ifname (when not "") and sets the DSCP (when not 0).
func bindControl(ifname string, dscp uint64) func(network, address string, c syscall.RawConn) error {
	return func(network, address string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) { serr = setSockOpts(int(fd), is6(network, address), ifname, dscp) })
		if err != nil {
			return err
		}
		return serr
	}
}

func is6(network, address string) bool {
	switch network[len(network)-1] {
	case '6':
		return true
	case '4':
		return false
	}
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		host = address
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.To4() == nil
}

func setSockOpts(fd int, v6 bool, ifname string, dscp uint64) error {
	if ifname != "" {
		if err := unix.SetsockoptString(fd, unix.SOL_SOCKET, unix.SO_BINDTODEVICE, ifname); err != nil {
			return fmt.Errorf("bind to %s: %w", ifname, err)
		}
	}
	if dscp != 0 {
		tos := int(dscp << 2)
		if v6 {
			return unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_TCLASS, tos)
		}
		return unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_TOS, tos)
	}
	return nil
}

// icmpConn is an ICMP socket: an unprivileged ping socket (the kernel
// sets the echo identifier and passes only our replies) or a raw socket
// (every ICMP message arrives; replies are matched by identifier).
type icmpConn struct {
	net.PacketConn
	raw bool
	v6  bool
}

// openICMP opens a ping socket when net.ipv4.ping_group_range allows it,
// else a raw socket (root or CAP_NET_RAW).
func openICMP(ctx context.Context, v6 bool, ifname string, dscp uint64) (*icmpConn, error) {
	c, err := openPingSocket(v6, ifname, dscp)
	if err == nil {
		return &icmpConn{PacketConn: c, v6: v6}, nil
	}
	if !errors.Is(err, syscall.EACCES) && !errors.Is(err, syscall.EPERM) && !errors.Is(err, syscall.EPROTONOSUPPORT) {
		return nil, err
	}
	netw := "ip4:icmp"
	if v6 {
		netw = "ip6:ipv6-icmp"
	}
	lc := net.ListenConfig{Control: bindControl(ifname, dscp)}
	rc, rerr := lc.ListenPacket(ctx, netw, "")
	if rerr != nil {
		return nil, fmt.Errorf("no ping socket (%v; see net.ipv4.ping_group_range) and no raw socket: %w", err, rerr)
	}
	return &icmpConn{PacketConn: rc, raw: true, v6: v6}, nil
}

func openPingSocket(v6 bool, ifname string, dscp uint64) (net.PacketConn, error) {
	fam, proto := unix.AF_INET, unix.IPPROTO_ICMP
	if v6 {
		fam, proto = unix.AF_INET6, unix.IPPROTO_ICMPV6
	}
	fd, err := unix.Socket(fam, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, proto)
	if err != nil {
		return nil, err
	}
	if err := setSockOpts(fd, v6, ifname, dscp); err != nil {
		unix.Close(fd)
		return nil, err
	}
	f := os.NewFile(uintptr(fd), "ping")
	defer f.Close()
	return net.FilePacketConn(f)
}

// udpAddr returns the address to send a ping-socket or raw datagram to.
func (c *icmpConn) addr(ip net.IP) net.Addr {
	if c.raw {
		return &net.IPAddr{IP: ip}
	}
	return &net.UDPAddr{IP: ip}
}
