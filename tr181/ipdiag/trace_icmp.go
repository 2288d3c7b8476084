package ipdiag

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// icmpTracer probes with ICMP echo requests of increasing TTL. The
// destination answers with an echo reply; routers' time-exceeded and
// unreachable messages come through the socket's error queue
// (IP_RECVERR), on a ping socket and on a raw one alike.
type icmpTracer struct {
	p  *pinger
	rc syscall.RawConn
}

func (d *Diag) newICMPTracer(ctx context.Context, dst net.IP, ifname string, dscp uint64, size int) (*icmpTracer, error) {
	p, err := d.newPinger(ctx, dst, ifname, dscp)
	if err != nil {
		return nil, err
	}
	sc, ok := p.c.PacketConn.(syscall.Conn)
	if !ok {
		p.Close()
		return nil, fmt.Errorf("ICMP socket without a descriptor")
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		p.Close()
		return nil, err
	}
	var serr error
	rc.Control(func(fd uintptr) {
		if p.c.v6 {
			serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IPV6, unix.IPV6_RECVERR, 1)
		} else {
			serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_RECVERR, 1)
		}
	})
	if serr != nil {
		p.Close()
		return nil, serr
	}
	p.size = size
	return &icmpTracer{p: p, rc: rc}, nil
}

func (t *icmpTracer) Close() error { return t.p.Close() }

func (t *icmpTracer) probe(ctx context.Context, ttl int, timeout time.Duration) (*answer, time.Duration, error) {
	if err := setTTL(t.rc, t.p.c.v6, ttl); err != nil {
		return nil, 0, err
	}
	b, err := t.p.request()
	if err != nil {
		return nil, 0, err
	}
	c := t.p.c
	start := time.Now()
	c.SetReadDeadline(start.Add(timeout)) // before the cancel hook, which may move it
	stop := context.AfterFunc(ctx, func() { c.SetReadDeadline(time.Now()) })
	defer stop()
	if _, err := c.WriteTo(b, c.addr(t.p.dst)); err != nil {
		return nil, 0, err
	}
	var a *answer
	var rerr error
	buf, oob := make([]byte, 1500), make([]byte, 512)
	err = t.rc.Read(func(fd uintptr) bool {
		for { // the error queue: routers and unreachable destinations
			n, oobn, _, _, err := unix.Recvmsg(int(fd), buf, oob, unix.MSG_ERRQUEUE)
			if err != nil {
				break
			}
			pe, perr := parseErrQueue(oob[:oobn], nil)
			if perr == nil && t.mine(buf[:n], false) {
				a = pe.answer()
				if pe.origin == 2 && pe.typ == 3 || pe.origin == 3 && pe.typ == 1 {
					a.final, a.unreachable = true, true // no echo reply will come
				}
				return true
			}
		}
		for { // ordinary messages: the destination's echo reply
			n, from, err := unix.Recvfrom(int(fd), buf, unix.MSG_DONTWAIT)
			if err == unix.EAGAIN || err == unix.EWOULDBLOCK {
				return false
			}
			if err != nil {
				rerr = err
				return true
			}
			if t.mine(buf[:n], true) {
				a = &answer{addr: sockaddrIP(from), final: true}
				return true
			}
		}
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil, 0, ctx.Err()
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return nil, 0, nil
		}
		return nil, 0, err
	}
	if rerr != nil {
		return nil, 0, rerr
	}
	return a, time.Since(start), nil
}

// mine reports whether b (an ICMP message, after an IPv4 header on a raw
// IPv4 socket) is our current echo request (reply false: as the error
// queue returns it) or its reply.
func (t *icmpTracer) mine(b []byte, reply bool) bool {
	if !t.p.c.v6 && t.p.c.raw && len(b) >= 20 && b[0]>>4 == 4 {
		b = b[int(b[0]&0x0f)*4:]
	}
	if len(b) < 8 {
		return false
	}
	want := byte(8) // echo request
	if t.p.c.v6 {
		want = 128
	}
	if reply {
		want = 0
		if t.p.c.v6 {
			want = 129
		}
	}
	if b[0] != want || int(binary.BigEndian.Uint16(b[6:])) != t.p.seq {
		return false
	}
	return !t.p.c.raw || int(binary.BigEndian.Uint16(b[4:])) == t.p.id
}

func sockaddrIP(sa unix.Sockaddr) net.IP {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return net.IP(append([]byte(nil), a.Addr[:]...))
	case *unix.SockaddrInet6:
		return net.IP(append([]byte(nil), a.Addr[:]...))
	}
	return nil
}
