package conformance

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/uspkit/uspkit/discovery"
)

// DHCP message types (RFC 2132 section 9.6).
const (
	DHCPDiscover = 1
	DHCPOffer    = 2
	DHCPRequest  = 3
	DHCPDecline  = 4
	DHCPAck      = 5
	DHCPNak      = 6
	DHCPRelease  = 7
	DHCPInform   = 8
)

// DHCP option codes the server reads or writes (RFC 2132).
const (
	optSubnetMask   = 1
	optDNS          = 6
	optRequestedIP  = 50
	optLeaseTime    = 51
	optMessageType  = 53
	optServerID     = 54
	optParamRequest = 55
	optRenewal      = 58
	optRebinding    = 59
	optEnd          = 255
	optPad          = 0
)

// Limits of the DHCP server.
const (
	dhcpMaxClients  = 32  // addresses handed out
	dhcpMaxRequests = 512 // requests recorded
	dhcpMinReply    = 300 // BOOTP's minimum message size (RFC 1542 section 2.1)
	dhcpHeader      = 236 // the fixed BOOTP fields, before the magic cookie
)

var dhcpCookie = []byte{99, 130, 83, 99}

// DHCPMessage is a DHCPv4 request the server received.
type DHCPMessage struct {
	// Type is the DHCP message type (DHCPDiscover, DHCPRequest, ...).
	Type byte
	// HW is the client's hardware address.
	HW net.HardwareAddr
	// Options are the message's options by code, a repeated option's
	// parts joined (RFC 3396).
	Options map[byte][]byte
	// At is when it arrived.
	At time.Time
}

// Requested reports whether the message's Parameter Request List (option
// 55) names code.
func (m DHCPMessage) Requested(code byte) bool {
	return bytes.IndexByte(m.Options[optParamRequest], code) >= 0
}

// wantsUSP reports whether the message's option 124 has the BBF
// vendor-class-data "usp" [R-DIS.1].
func (m DHCPMessage) wantsUSP() bool {
	classes, _ := VendorClasses(m.Options[discovery.OptionV4VendorClass], discovery.EnterpriseBBF)
	return slices.Contains(classes, "usp")
}

// DHCPServer is the runner's own DHCPv4 server for the cases of section 8:
// it hands out addresses of its interface's subnet, gives itself as DNS
// server (option 6) and the BBF vendor options (option 125) the case sets,
// and records every request, so that a case can check what the Agent's
// DHCP client sends [R-DIS.1]. Its methods are safe for concurrent use.
type DHCPServer struct {
	pc     net.PacketConn
	iface  string
	self   netip.Addr
	prefix netip.Prefix
	log    *slog.Logger
	wg     sync.WaitGroup
	stop   func() bool

	mu       sync.Mutex
	vendor   []byte // option 125 data; nil: none
	dns      []netip.Addr
	lease    time.Duration
	leases   map[string]netip.Addr // by hardware address
	requests []DHCPMessage
}

// ListenDHCP starts a DHCPServer on the named interface, which must have an
// IPv4 address: the server's identifier, whose subnet the addresses come
// from. It serves until Close or until ctx is done.
func ListenDHCP(ctx context.Context, iface string, log *slog.Logger) (*DHCPServer, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ifi, err := net.InterfaceByName(iface)
	if err != nil {
		return nil, fmt.Errorf("conformance: dhcp: %w", err)
	}
	as, err := ifi.Addrs()
	if err != nil {
		return nil, fmt.Errorf("conformance: dhcp: %w", err)
	}
	s := &DHCPServer{iface: iface, log: log, lease: time.Hour, leases: map[string]netip.Addr{}}
	for _, a := range as {
		if p, err := netip.ParsePrefix(a.String()); err == nil && p.Addr().Is4() {
			s.self, s.prefix = p.Addr(), p.Masked()
			break
		}
	}
	if !s.self.IsValid() {
		return nil, fmt.Errorf("conformance: dhcp: %s has no IPv4 address", iface)
	}
	if s.pc, err = listenDHCP(ctx, iface); err != nil {
		return nil, err
	}
	s.wg.Go(s.serve)
	s.stop = context.AfterFunc(ctx, func() { s.pc.Close() })
	return s, nil
}

// Addr is the server's address: its identifier (option 54).
func (s *DHCPServer) Addr() netip.Addr { return s.self }

// Interface is the interface the server listens on.
func (s *DHCPServer) Interface() string { return s.iface }

// Close stops the server and waits for it.
func (s *DHCPServer) Close() error {
	s.stop()
	err := s.pc.Close()
	s.wg.Wait()
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}

// SetVendorInfo makes the server send v as the BBF vendor options of
// option 125 to the clients that ask for it; nil sends none.
func (s *DHCPServer) SetVendorInfo(v *discovery.VendorInfo) error {
	var data []byte
	if v != nil {
		var err error
		if data, err = v.AppendV4(nil); err != nil {
			return err
		}
	}
	s.mu.Lock()
	s.vendor = data
	s.mu.Unlock()
	return nil
}

// SetDNS sets the DNS servers of option 6; none sends no option 6.
func (s *DHCPServer) SetDNS(addrs ...netip.Addr) {
	s.mu.Lock()
	s.dns = slices.Clone(addrs)
	s.mu.Unlock()
}

// SetLeaseTime sets the lease time of the addresses handed out from now
// on; the default is one hour.
func (s *DHCPServer) SetLeaseTime(d time.Duration) {
	s.mu.Lock()
	s.lease = max(d, 10*time.Second)
	s.mu.Unlock()
}

// Requests returns the requests received at or after since, oldest first.
func (s *DHCPServer) Requests(since time.Time) []DHCPMessage {
	return recordedSince(&s.mu, &s.requests, since, func(m DHCPMessage) time.Time { return m.At })
}

// WaitRequest waits until ctx is done for a request of one of the types
// received at or after since, and returns the first.
func (s *DHCPServer) WaitRequest(ctx context.Context, since time.Time, types ...byte) (DHCPMessage, error) {
	for {
		for _, m := range s.Requests(since) {
			if slices.Contains(types, m.Type) {
				return m, nil
			}
		}
		select {
		case <-ctx.Done():
			return DHCPMessage{}, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (s *DHCPServer) serve() {
	buf := make([]byte, 1500)
	for {
		n, _, err := s.pc.ReadFrom(buf)
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				s.log.Warn("dhcp: reading", "err", err)
			}
			return
		}
		m, hdr, err := parseDHCP(buf[:n])
		if err != nil {
			s.log.Warn("dhcp: dropping a message", "err", err)
			continue
		}
		s.mu.Lock()
		if len(s.requests) < dhcpMaxRequests {
			s.requests = append(s.requests, m)
		}
		s.mu.Unlock()
		s.reply(m, hdr)
	}
}

// reply answers a DISCOVER with an OFFER, a REQUEST with an ACK (or a NAK
// for an address the server did not give), an INFORM with an ACK.
func (s *DHCPServer) reply(m DHCPMessage, hdr []byte) {
	ciaddr := netip.AddrFrom4([4]byte(hdr[12:16]))
	var typ byte
	var yiaddr netip.Addr
	switch m.Type {
	case DHCPDiscover:
		typ, yiaddr = DHCPOffer, s.address(m.HW)
	case DHCPRequest:
		if id := m.Options[optServerID]; len(id) == 4 && netip.AddrFrom4([4]byte(id)) != s.self {
			return // the client took another server's offer
		}
		yiaddr = s.address(m.HW)
		want := ciaddr
		if r := m.Options[optRequestedIP]; len(r) == 4 {
			want = netip.AddrFrom4([4]byte(r))
		}
		typ = DHCPAck
		if !yiaddr.IsValid() || want != yiaddr {
			typ = DHCPNak
		}
	case DHCPInform:
		typ = DHCPAck
	default:
		return
	}
	if m.Type == DHCPDiscover && !yiaddr.IsValid() {
		s.log.Warn("dhcp: no address left", "client", m.HW.String())
		return
	}
	out := s.message(hdr, typ, yiaddr, m)
	to := &net.UDPAddr{IP: net.IPv4bcast, Port: 68}
	if ciaddr.IsValid() && !ciaddr.IsUnspecified() && typ != DHCPNak {
		to.IP = ciaddr.AsSlice()
	}
	if _, err := s.pc.WriteTo(out, to); err != nil {
		s.log.Warn("dhcp: sending", "to", to.String(), "err", err)
	}
}

// address is the client's address: the one it had, else the next free.
func (s *DHCPServer) address(hw net.HardwareAddr) netip.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a, ok := s.leases[hw.String()]; ok {
		return a
	}
	if len(s.leases) >= dhcpMaxClients {
		return netip.Addr{}
	}
	taken := map[netip.Addr]bool{s.self: true}
	for _, a := range s.leases {
		taken[a] = true
	}
	for a := s.prefix.Addr().Next(); s.prefix.Contains(a); a = a.Next() {
		if taken[a] || isBroadcast(a, s.prefix) {
			continue
		}
		s.leases[hw.String()] = a
		return a
	}
	return netip.Addr{}
}

func isBroadcast(a netip.Addr, p netip.Prefix) bool {
	return p.Bits() < 31 && !p.Contains(a.Next())
}

// message builds a reply to m of type typ.
func (s *DHCPServer) message(hdr []byte, typ byte, yiaddr netip.Addr, m DHCPMessage) []byte {
	b := make([]byte, dhcpHeader, 576)
	b[0], b[1], b[2] = 2, hdr[1], hdr[2] // BOOTREPLY, htype, hlen
	copy(b[4:8], hdr[4:8])               // xid
	copy(b[10:12], hdr[10:12])           // flags
	if typ != DHCPNak {
		copy(b[12:16], hdr[12:16]) // ciaddr
	}
	if yiaddr.IsValid() && typ != DHCPNak {
		a := yiaddr.As4()
		copy(b[16:20], a[:])
	}
	copy(b[24:28], hdr[24:28]) // giaddr
	copy(b[28:44], hdr[28:44]) // chaddr
	b = append(b, dhcpCookie...)
	opt := func(code byte, data []byte) {
		for len(data) > 255 { // RFC 3396: a long option is split
			b = append(b, code, 255)
			b = append(b, data[:255]...)
			data = data[255:]
		}
		b = append(b, code, byte(len(data)))
		b = append(b, data...)
	}
	self := s.self.As4()
	opt(optMessageType, []byte{typ})
	opt(optServerID, self[:])
	if typ == DHCPNak {
		b = append(b, optEnd)
		return pad(b)
	}
	s.mu.Lock()
	lease, vendor, dns := s.lease, s.vendor, s.dns
	s.mu.Unlock()
	if m.Type != DHCPInform {
		secs := uint32(lease / time.Second)
		opt(optLeaseTime, binary.BigEndian.AppendUint32(nil, secs))
		opt(optRenewal, binary.BigEndian.AppendUint32(nil, secs/2))
		opt(optRebinding, binary.BigEndian.AppendUint32(nil, secs/8*7))
	}
	mask := net.CIDRMask(s.prefix.Bits(), 32)
	opt(optSubnetMask, mask)
	if len(dns) > 0 {
		var d []byte
		for _, a := range dns {
			a4 := a.As4()
			d = append(d, a4[:]...)
		}
		opt(optDNS, d)
	}
	// Option 125 goes to a client that asks for it (RFC 3925 section 4)
	// or that says it wants the BBF options (option 124 with "usp").
	if vendor != nil && (m.Requested(discovery.OptionV4VendorInfo) || m.wantsUSP()) {
		opt(discovery.OptionV4VendorInfo, vendor)
	}
	b = append(b, optEnd)
	return pad(b)
}

func pad(b []byte) []byte {
	for len(b) < dhcpMinReply {
		b = append(b, optPad)
	}
	return b
}

// parseDHCP reads a BOOTREQUEST: its options and fixed header.
func parseDHCP(b []byte) (DHCPMessage, []byte, error) {
	if len(b) < dhcpHeader+4 || b[0] != 1 || !bytes.Equal(b[dhcpHeader:dhcpHeader+4], dhcpCookie) {
		return DHCPMessage{}, nil, errors.New("not a DHCP request")
	}
	hlen := min(int(b[2]), 16)
	m := DHCPMessage{HW: net.HardwareAddr(bytes.Clone(b[28 : 28+hlen])), Options: map[byte][]byte{}, At: time.Now()}
	opts := b[dhcpHeader+4:]
	for len(opts) > 0 {
		code := opts[0]
		if code == optPad {
			opts = opts[1:]
			continue
		}
		if code == optEnd {
			break
		}
		if len(opts) < 2 || int(opts[1]) > len(opts)-2 {
			return m, nil, fmt.Errorf("option %d is truncated", code)
		}
		m.Options[code] = append(m.Options[code], opts[2:2+int(opts[1])]...)
		opts = opts[2+int(opts[1]):]
	}
	if t := m.Options[optMessageType]; len(t) == 1 {
		m.Type = t[0]
	} else {
		return m, nil, errors.New("no DHCP message type")
	}
	return m, bytes.Clone(b[:dhcpHeader]), nil
}

// VendorClasses returns the vendor-class-data of the enterprise in the data
// of a DHCPv4 option 124 (RFC 3925 section 3: enterprise-number, data-len,
// then length-prefixed vendor-class-data), or an error for malformed data.
func VendorClasses(data []byte, enterprise uint32) ([]string, error) {
	var out []string
	for len(data) > 0 {
		if len(data) < 5 {
			return out, errors.New("option 124: enterprise header truncated")
		}
		ent, n := binary.BigEndian.Uint32(data), int(data[4])
		data = data[5:]
		if n > len(data) {
			return out, fmt.Errorf("option 124: enterprise %d: data truncated", ent)
		}
		sub := data[:n]
		data = data[n:]
		for len(sub) > 0 {
			l := int(sub[0])
			if l+1 > len(sub) {
				return out, fmt.Errorf("option 124: enterprise %d: vendor-class-data truncated", ent)
			}
			if ent == enterprise {
				out = append(out, string(sub[1:1+l]))
			}
			sub = sub[1+l:]
		}
	}
	return out, nil
}
