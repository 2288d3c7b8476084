package discovery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
)

// DefaultPort is the mDNS port (RFC 6762 section 3).
const DefaultPort = 5353

// maxPacket bounds the mDNS messages read and written (RFC 6762 section 17
// allows up to 9000 bytes).
const maxPacket = 9000

// The mDNS groups (RFC 6762 section 3).
var (
	mdnsGroup  = netip.MustParseAddr("224.0.0.251")
	mdnsGroup6 = netip.MustParseAddr("ff02::fb")
)

// Options say where mDNS runs. A nil *Options means every up, multicast
// interface, port 5353 and slog.Default().
type Options struct {
	// Interface is the name of the network interface to use ("eth0", "lo");
	// "" means every interface that is up and multicast-capable.
	Interface string
	// Port is the UDP port of the group; 0 means 5353. Tests choose another
	// one to keep their traffic apart.
	Port int
	// Logger receives one line per packet that cannot be decoded and per
	// send that fails; nil means slog.Default().
	Logger *slog.Logger
	// Passive makes Browse send no queries: it hears only what others
	// send, such as the unsolicited announcements of a responder that
	// starts (RFC 6762 section 8.3).
	Passive bool
	// Network is "udp4" for IPv4 only (224.0.0.251), "udp6" for IPv6 only
	// (ff02::fb), or "" for both where the interface allows.
	Network string
}

func (o *Options) networks() []string {
	if o != nil && o.Network != "" {
		return []string{o.Network}
	}
	return []string{"udp4", "udp6"}
}

func (o *Options) port() int {
	if o == nil || o.Port == 0 {
		return DefaultPort
	}
	return o.Port
}

func (o *Options) logger() *slog.Logger {
	if o == nil || o.Logger == nil {
		return slog.Default()
	}
	return o.Logger
}

// interfaces returns the interfaces named by the options.
func (o *Options) interfaces() ([]net.Interface, error) {
	if o != nil && o.Interface != "" {
		ifi, err := net.InterfaceByName(o.Interface)
		if err != nil {
			return nil, fmt.Errorf("discovery: %w", err)
		}
		return []net.Interface{*ifi}, nil
	}
	all, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("discovery: %w", err)
	}
	var out []net.Interface
	for _, ifi := range all {
		if ifi.Flags&net.FlagUp != 0 && ifi.Flags&net.FlagMulticast != 0 {
			out = append(out, ifi)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("discovery: no multicast interface is up")
	}
	return out, nil
}

// conn is one mDNS socket on one interface: it has joined the group there,
// sends there and keeps only what arrives there.
type conn struct {
	ifi  net.Interface
	pc   *ipv4.PacketConn // IPv4, or
	pc6  *ipv6.PacketConn // IPv6
	c    net.PacketConn
	port int
	log  *slog.Logger
}

// packet is one message received, with where it came from.
type packet struct {
	msg  *dns.Msg
	from netip.AddrPort
	on   *conn
}

func listen(ctx context.Context, network string, ifi net.Interface, port int, log *slog.Logger) (*conn, error) {
	lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			// Other responders on the host (and other Endpoints of
			// this process) share the port [RFC 6762 section 15].
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
			if serr == nil {
				serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
			}
		})
		if err != nil {
			return err
		}
		return serr
	}}
	if network == "udp6" {
		return listen6(ctx, lc, ifi, port, log)
	}
	c, err := lc.ListenPacket(ctx, "udp4", fmt.Sprintf("0.0.0.0:%d", port))
	if err != nil {
		return nil, fmt.Errorf("discovery: listening on port %d: %w", port, err)
	}
	pc := ipv4.NewPacketConn(c)
	group := &net.UDPAddr{IP: mdnsGroup.AsSlice()}
	steps := []func() error{
		func() error { return pc.JoinGroup(&ifi, group) },
		func() error { return pc.SetMulticastInterface(&ifi) },
		func() error { return pc.SetMulticastTTL(255) },
		func() error { return pc.SetMulticastLoopback(true) },
		func() error { return pc.SetControlMessage(ipv4.FlagInterface, true) },
	}
	for _, s := range steps {
		if err := s(); err != nil {
			c.Close()
			return nil, fmt.Errorf("discovery: multicast on %s: %w", ifi.Name, err)
		}
	}
	return &conn{ifi: ifi, pc: pc, c: c, port: port, log: log}, nil
}

func listen6(ctx context.Context, lc net.ListenConfig, ifi net.Interface, port int, log *slog.Logger) (*conn, error) {
	if ifi.Flags&net.FlagMulticast == 0 {
		// Linux routes IPv4 multicast over an interface without the flag
		// (loopback) but not IPv6.
		return nil, fmt.Errorf("discovery: %s has no IPv6 multicast", ifi.Name)
	}
	c, err := lc.ListenPacket(ctx, "udp6", fmt.Sprintf("[::]:%d", port))
	if err != nil {
		return nil, fmt.Errorf("discovery: listening on port %d: %w", port, err)
	}
	pc := ipv6.NewPacketConn(c)
	group := &net.UDPAddr{IP: mdnsGroup6.AsSlice()}
	steps := []func() error{
		func() error { return pc.JoinGroup(&ifi, group) },
		func() error { return pc.SetMulticastInterface(&ifi) },
		func() error { return pc.SetMulticastHopLimit(255) },
		func() error { return pc.SetMulticastLoopback(true) },
		func() error { return pc.SetControlMessage(ipv6.FlagInterface, true) },
	}
	for _, s := range steps {
		if err := s(); err != nil {
			c.Close()
			return nil, fmt.Errorf("discovery: IPv6 multicast on %s: %w", ifi.Name, err)
		}
	}
	return &conn{ifi: ifi, pc6: pc, c: c, port: port, log: log}, nil
}

// readFrom reads one packet with the interface it arrived on (0 if
// unknown).
func (c *conn) readFrom(buf []byte) (int, int, net.Addr, error) {
	if c.pc6 != nil {
		n, cm, src, err := c.pc6.ReadFrom(buf)
		if cm != nil {
			return n, cm.IfIndex, src, err
		}
		return n, 0, src, err
	}
	n, cm, src, err := c.pc.ReadFrom(buf)
	if cm != nil {
		return n, cm.IfIndex, src, err
	}
	return n, 0, src, err
}

// read delivers the messages that arrive on the conn's interface until the
// conn is closed. A packet that is not a DNS message is logged and dropped.
func (c *conn) read(out chan<- packet, done <-chan struct{}) {
	buf := make([]byte, maxPacket)
	for {
		n, ifIndex, src, err := c.readFrom(buf)
		if err != nil {
			return
		}
		if ifIndex != 0 && ifIndex != c.ifi.Index {
			continue
		}
		ua, ok := src.(*net.UDPAddr)
		if !ok {
			continue
		}
		m := new(dns.Msg)
		if err := m.Unpack(buf[:n]); err != nil {
			c.log.Debug("mdns: dropping a packet that is not a DNS message", "from", ua.String(), "iface", c.ifi.Name, "err", err)
			continue
		}
		select {
		case out <- packet{msg: m, from: ua.AddrPort(), on: c}:
		case <-done:
			return
		}
	}
}

// send multicasts m on the conn's interface, or sends it to "to" when valid.
func (c *conn) send(m *dns.Msg, to netip.AddrPort) error {
	b, err := m.Pack()
	if err != nil {
		return fmt.Errorf("discovery: packing: %w", err)
	}
	if len(b) > maxPacket {
		return fmt.Errorf("discovery: a %d-byte message is too long for mDNS", len(b))
	}
	_ = c.c.SetWriteDeadline(time.Now().Add(time.Second))
	if c.pc6 != nil {
		dst := &net.UDPAddr{IP: mdnsGroup6.AsSlice(), Port: c.port, Zone: c.ifi.Name}
		if to.IsValid() {
			dst = net.UDPAddrFromAddrPort(to)
		}
		_, err = c.pc6.WriteTo(b, &ipv6.ControlMessage{IfIndex: c.ifi.Index}, dst)
	} else {
		dst := &net.UDPAddr{IP: mdnsGroup.AsSlice(), Port: c.port}
		if to.IsValid() {
			dst = net.UDPAddrFromAddrPort(to)
		}
		_, err = c.pc.WriteTo(b, &ipv4.ControlMessage{IfIndex: c.ifi.Index}, dst)
	}
	if err != nil {
		return fmt.Errorf("discovery: sending on %s: %w", c.ifi.Name, err)
	}
	return nil
}

// addrs returns the interface's IPv4 and IPv6 addresses.
func (c *conn) addrs() []netip.Addr {
	as, err := c.ifi.Addrs()
	if err != nil {
		return nil
	}
	var out []netip.Addr
	for _, a := range as {
		if p, err := netip.ParsePrefix(a.String()); err == nil {
			out = append(out, p.Addr().Unmap())
		}
	}
	return out
}

func (c *conn) close() error { return c.c.Close() }

// group is the conns of every interface the options name, read into one
// channel.
type group struct {
	conns []*conn
	in    chan packet
	done  chan struct{}
	wg    sync.WaitGroup
}

func openGroup(ctx context.Context, o *Options) (*group, error) {
	ifs, err := o.interfaces()
	if err != nil {
		return nil, err
	}
	g := &group{in: make(chan packet, 64), done: make(chan struct{})}
	var errs, all []error
	for _, ifi := range ifs {
		opened := 0
		for _, nw := range o.networks() {
			c, err := listen(ctx, nw, ifi, o.port(), o.logger())
			if err != nil {
				errs = append(errs, err)
				continue
			}
			g.conns = append(g.conns, c)
			opened++
		}
		switch {
		case opened == 0:
			o.logger().Warn("mdns: an interface is left out", "iface", ifi.Name, "err", errors.Join(errs...))
		case len(errs) > 0:
			o.logger().Debug("mdns: an interface runs one IP version only", "iface", ifi.Name, "err", errors.Join(errs...))
		}
		all, errs = append(all, errs...), nil
	}
	if len(g.conns) == 0 {
		return nil, errors.Join(all...)
	}
	for _, c := range g.conns {
		g.wg.Go(func() { c.read(g.in, g.done) })
	}
	return g, nil
}

func (g *group) close() {
	close(g.done)
	for _, c := range g.conns {
		c.close()
	}
	g.wg.Wait()
}
