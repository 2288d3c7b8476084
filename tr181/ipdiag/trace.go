package ipdiag

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/uspkit/uspkit/datamodel"
	"golang.org/x/sys/unix"
)

// TraceBasePort is the UDP destination port of TraceRoute()'s first
// probe; each further probe uses the next port, as classic traceroute
// does, so that a listener on those ports sees (and silences) them.
const TraceBasePort = 33434

// hop is what one TTL's probes found.
type hop struct {
	addr        net.IP
	code        uint8 // ICMP code of a destination-unreachable answer
	rtts        []time.Duration
	final       bool // the destination answered (or said it cannot be reached)
	unreachable bool
}

// tracer sends UDP probes with increasing TTL and reads the ICMP errors
// they cause from the socket's error queue (IP_RECVERR), which needs no
// privilege.
type tracer struct {
	c    *net.UDPConn
	rc   syscall.RawConn
	dst  net.IP
	v6   bool
	port int
	base int
	data []byte
}

func newTracer(ctx context.Context, dst net.IP, ifname string, dscp uint64, size, port int) (*tracer, error) {
	v6 := dst.To4() == nil
	netw := "udp4"
	if v6 {
		netw = "udp6"
	}
	lc := net.ListenConfig{Control: func(network, address string, c syscall.RawConn) error {
		if err := bindControl(ifname, dscp)(network, address, c); err != nil {
			return err
		}
		var serr error
		c.Control(func(fd uintptr) {
			if v6 {
				serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IPV6, unix.IPV6_RECVERR, 1)
			} else {
				serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_RECVERR, 1)
			}
		})
		return serr
	}}
	pc, err := lc.ListenPacket(ctx, netw, "")
	if err != nil {
		return nil, err
	}
	c := pc.(*net.UDPConn)
	rc, err := c.SyscallConn()
	if err != nil {
		c.Close()
		return nil, err
	}
	return &tracer{c: c, rc: rc, dst: dst, v6: v6, port: port, base: port, data: make([]byte, size)}, nil
}

func (t *tracer) Close() error { return t.c.Close() }

func (t *tracer) setTTL(ttl int) error { return setTTL(t.rc, t.v6, ttl) }

func setTTL(rc syscall.RawConn, v6 bool, ttl int) error {
	var serr error
	err := rc.Control(func(fd uintptr) {
		if v6 {
			serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IPV6, unix.IPV6_UNICAST_HOPS, ttl)
		} else {
			serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_TTL, ttl)
		}
	})
	if err != nil {
		return err
	}
	return serr
}

// probeErr is an ICMP error the kernel queued for one of our probes.
type probeErr struct {
	port     int
	origin   uint8
	typ      uint8
	code     uint8
	offender net.IP
	errno    syscall.Errno
}

// answer is what came back for a probe.
type answer struct {
	addr        net.IP // who answered
	final       bool   // the destination answered, or said it cannot be reached
	unreachable bool
	code        uint8 // ICMP code of a destination-unreachable answer
}

// prober sends TraceRoute's probes: UDP datagrams (tracer) or ICMP echo
// requests (icmpTracer).
type prober interface {
	// probe sends one probe with ttl and waits up to timeout for its
	// answer; nil without an error means no answer.
	probe(ctx context.Context, ttl int, timeout time.Duration) (*answer, time.Duration, error)
	Close() error
}

func (pe *probeErr) answer() *answer {
	final, unreachable := pe.classify()
	return &answer{addr: pe.offender, final: final, unreachable: unreachable, code: pe.code}
}

func (t *tracer) probe(ctx context.Context, ttl int, timeout time.Duration) (*answer, time.Duration, error) {
	if err := t.setTTL(ttl); err != nil {
		return nil, 0, err
	}
	port := t.port
	t.port++
	if t.port > 65535 {
		t.port = t.base
	}
	start := time.Now()
	t.c.SetReadDeadline(start.Add(timeout)) // before the cancel hook, which may move it
	stop := context.AfterFunc(ctx, func() { t.c.SetReadDeadline(time.Now()) })
	defer stop()
	if _, err := t.c.WriteToUDP(t.data, &net.UDPAddr{IP: t.dst, Port: port}); err != nil {
		return nil, 0, err
	}
	for {
		pe, err := t.readErr()
		if err != nil {
			if ctx.Err() != nil {
				return nil, 0, ctx.Err()
			}
			if errors.Is(err, os.ErrDeadlineExceeded) {
				return nil, 0, nil
			}
			return nil, 0, err
		}
		if pe.port == port {
			return pe.answer(), time.Since(start), nil
		}
	}
}

// readErr waits for the next queued ICMP error (datagrams that arrive
// are read and dropped).
func (t *tracer) readErr() (*probeErr, error) {
	buf, oob := make([]byte, 512), make([]byte, 512)
	var pe *probeErr
	var rerr error
	err := t.rc.Read(func(fd uintptr) bool {
		_, oobn, _, from, err := unix.Recvmsg(int(fd), buf, oob, unix.MSG_ERRQUEUE)
		if err == unix.EAGAIN {
			for { // drain ordinary datagrams: they are not answers
				if _, _, err := unix.Recvfrom(int(fd), buf, unix.MSG_DONTWAIT); err != nil {
					break
				}
			}
			return false
		}
		if err != nil {
			rerr = err
			return true
		}
		pe, rerr = parseErrQueue(oob[:oobn], from)
		return true
	})
	if err != nil {
		return nil, err
	}
	return pe, rerr
}

func parseErrQueue(oob []byte, from unix.Sockaddr) (*probeErr, error) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, err
	}
	pe := &probeErr{}
	switch a := from.(type) {
	case *unix.SockaddrInet4:
		pe.port = a.Port
	case *unix.SockaddrInet6:
		pe.port = a.Port
	}
	for _, m := range msgs {
		if !(m.Header.Level == unix.SOL_IP && m.Header.Type == unix.IP_RECVERR) &&
			!(m.Header.Level == unix.SOL_IPV6 && m.Header.Type == unix.IPV6_RECVERR) {
			continue
		}
		if len(m.Data) < 16 {
			return nil, fmt.Errorf("short extended error")
		}
		pe.errno = syscall.Errno(binary.NativeEndian.Uint32(m.Data[0:4]))
		pe.origin, pe.typ, pe.code = m.Data[4], m.Data[5], m.Data[6]
		off := m.Data[16:]
		if len(off) >= 8 && binary.NativeEndian.Uint16(off[0:2]) == unix.AF_INET {
			pe.offender = net.IP(append([]byte(nil), off[4:8]...))
		} else if len(off) >= 24 && binary.NativeEndian.Uint16(off[0:2]) == unix.AF_INET6 {
			pe.offender = net.IP(append([]byte(nil), off[8:24]...))
		}
		return pe, nil
	}
	return nil, fmt.Errorf("no extended error in the control message")
}

// classify tells what a probe's ICMP error means: an intermediate hop
// (time exceeded), the destination (port unreachable), or an unreachable
// destination (any other destination-unreachable code).
func (pe *probeErr) classify() (final, unreachable bool) {
	const (
		originICMP, originICMP6 = 2, 3
	)
	switch pe.origin {
	case originICMP:
		if pe.typ == 11 {
			return false, false
		}
		if pe.typ == 3 {
			return true, pe.code != 3
		}
	case originICMP6:
		if pe.typ == 3 {
			return false, false
		}
		if pe.typ == 1 {
			return true, pe.code != 4
		}
	}
	return true, true
}

// traceRoute is Device.IP.Diagnostics.TraceRoute(): NumberOfTries UDP
// probes per TTL from 1 to MaxHopCount, each waiting Timeout ms, until the
// destination answers. Absent optional arguments take TR-181's defaults
// (3 tries, 5000 ms, 38 bytes, 30 hops) [TP-469 1.92].
func (d *Diag) traceRoute(ctx context.Context, in args, w datamodel.ResponseWriter) error {
	tries := int(in.uint("NumberOfTries", defTraceTries))
	timeout := ms(in.uint("Timeout", defTraceTimeout))
	size := int(min(in.uint("DataBlockSize", defTraceBlockSize), 65507))
	maxHops := int(in.uint("MaxHopCount", defTraceMaxHops))
	ifname, err := d.ifName(ctx, in)
	if err != nil {
		d.log.Warn("diagnostics: interface", "err", err)
		w.SetValue("Status", "Error_Other")
		return nil
	}
	dst, err := resolve(ctx, in.str("Host"), in.proto())
	if err != nil {
		w.SetValue("Status", "Error_CannotResolveHostName")
		return nil
	}
	w.SetValue("IPAddressUsed", sourceFor(dst, ifname))
	var t prober
	if d.opt.TraceICMP {
		t, err = d.newICMPTracer(ctx, dst, ifname, in.uint("DSCP", 0), size)
	} else {
		t, err = newTracer(ctx, dst, ifname, in.uint("DSCP", 0), size, d.opt.TracePort)
	}
	if err != nil {
		d.log.Warn("diagnostics: traceroute socket", "err", err)
		w.SetValue("Status", "Error_Internal")
		return nil
	}
	defer t.Close()
	var hops []hop
	status := "Error_MaxHopCountExceeded"
	c := &cadence{every: timeout}
	for ttl := 1; ttl <= maxHops && status == "Error_MaxHopCountExceeded"; ttl++ {
		h, err := probeHop(ctx, t, ttl, tries, c)
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case noRoute(err):
			status = "Error_NoRouteToHost"
		case err != nil:
			d.log.Warn("diagnostics: traceroute probe", "err", err)
			w.SetValue("Status", "Error_Other")
			return nil
		case h.final && h.unreachable:
			status = "Error_NoRouteToHost"
		case h.final || h.addr != nil && h.addr.Equal(dst):
			status = "Complete"
		}
		hops = append(hops, h)
	}
	writeHops(w, hops, hopNames(ctx, hops))
	rt := time.Duration(0) // no route found: 0
	if status == "Complete" {
		rt = avgRTT(hops[len(hops)-1].rtts)
	}
	w.SetValue("ResponseTime", msText(rt))
	w.SetValue("Status", status)
	return nil
}

// reverseBudget bounds the reverse lookups of a trace's hops.
const reverseBudget = time.Second

// hopNames looks the hops' addresses up in the DNS, all at once and for at
// most reverseBudget; an address without a name has none in the map.
func hopNames(ctx context.Context, hops []hop) map[string]string {
	ctx, cancel := context.WithTimeout(ctx, reverseBudget)
	defer cancel()
	var mu sync.Mutex
	var wg sync.WaitGroup
	names := map[string]string{}
	for _, h := range hops {
		if h.addr == nil {
			continue
		}
		a := h.addr.String()
		mu.Lock()
		_, seen := names[a]
		names[a] = ""
		mu.Unlock()
		if seen {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if ns, err := net.DefaultResolver.LookupAddr(ctx, a); err == nil && len(ns) > 0 {
				mu.Lock()
				names[a] = strings.TrimSuffix(ns[0], ".")
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return names
}

// probeHop sends up to tries probes with ttl, each waiting c's timeout,
// until one reaches the destination; unanswered tries count 0 ms.
func probeHop(ctx context.Context, t prober, ttl, tries int, c *cadence) (hop, error) {
	var h hop
	for range tries {
		a, rtt, err := t.probe(ctx, ttl, c.timeout(time.Now()))
		if err != nil {
			return h, err
		}
		if a == nil {
			h.rtts = append(h.rtts, 0)
			continue
		}
		h.rtts = append(h.rtts, rtt)
		if a.addr != nil {
			h.addr = a.addr
		}
		h.final, h.unreachable, h.code = a.final, a.unreachable, a.code
		if h.final {
			break // the destination answered: no further tries
		}
	}
	return h, nil
}

func avgRTT(rtts []time.Duration) time.Duration {
	var sum time.Duration
	n := 0
	for _, r := range rtts {
		if r > 0 {
			sum += r
			n++
		}
	}
	if n == 0 {
		return 0
	}
	return sum / time.Duration(n)
}

// writeHops writes RouteHops.{i}: Host is the hop's name when the DNS
// has one, else its address.
func writeHops(w datamodel.ResponseWriter, hops []hop, names map[string]string) {
	for i, h := range hops {
		p := "RouteHops." + strconv.Itoa(i+1) + "."
		addr := ""
		if h.addr != nil {
			addr = h.addr.String()
		}
		host := names[addr]
		if host == "" || len(host) > 256 {
			host = addr
		}
		w.SetValue(p+"Host", host)
		w.SetValue(p+"HostAddress", addr)
		code := 0
		if h.unreachable {
			code = int(h.code)
		}
		w.SetValue(p+"ErrorCode", strconv.Itoa(code))
		rt := make([]string, len(h.rtts))
		for j, r := range h.rtts {
			rt[j] = msText(r)
		}
		w.SetValue(p+"RTTimes", strings.Join(rt, ","))
	}
}

// cadence keeps unanswered probes Timeout apart: a probe sent after the
// previous one's wait ran out waits until one Timeout after that wait's
// end, so the time the process takes to wake up and send (tens of
// milliseconds on a loaded host) is not added to every gap; TP-469 1.92
// wants the tries within 1% of the Timeout apart.
type cadence struct {
	every time.Duration
	end   time.Time // when the last probe's wait ends
}

// timeout is how long a probe sent at now waits for its answer.
func (c *cadence) timeout(now time.Time) time.Duration {
	late := now.Sub(c.end)
	if c.end.IsZero() || late < 0 || late >= c.every/2 {
		// The first probe, one after an answer, or one so late that
		// keeping the cadence would cut its wait short: a full wait.
		c.end = now.Add(c.every)
	} else {
		c.end = c.end.Add(c.every)
	}
	return c.end.Sub(now)
}
