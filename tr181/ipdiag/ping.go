package ipdiag

import (
	"context"
	"errors"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/uspkit/uspkit/datamodel"
	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// pinger sends ICMP echo requests to one destination and waits for their
// replies.
type pinger struct {
	c    *icmpConn
	dst  net.IP
	id   int
	seq  int
	size int // data bytes of each request
	buf  []byte
}

func (d *Diag) newPinger(ctx context.Context, dst net.IP, ifname string, dscp uint64) (*pinger, error) {
	c, err := openICMP(ctx, dst.To4() == nil, ifname, dscp)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	d.nextID++
	id := int(d.nextID)
	d.mu.Unlock()
	return &pinger{c: c, dst: dst, id: id, buf: make([]byte, 65536)}, nil
}

func (p *pinger) Close() error { return p.c.Close() }

// errNoReply is an echo request without a reply in time.
var errNoReply = errors.New("no reply")

// echo sends one request with size bytes of data and waits up to timeout
// for its reply; it returns the round-trip time.
func (p *pinger) echo(ctx context.Context, size int, timeout time.Duration) (time.Duration, error) {
	p.size = size
	b, err := p.request()
	if err != nil {
		return 0, err
	}
	var reply icmp.Type = ipv4.ICMPTypeEchoReply
	proto := 1
	if p.c.v6 {
		reply, proto = ipv6.ICMPTypeEchoReply, 58
	}
	deadline := time.Now().Add(timeout)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	p.c.SetReadDeadline(deadline) // before the cancel hook, which may move it
	stop := context.AfterFunc(ctx, func() { p.c.SetReadDeadline(time.Now()) })
	defer stop()
	start := time.Now()
	if _, err := p.c.WriteTo(b, p.c.addr(p.dst)); err != nil {
		return 0, err
	}
	for {
		n, from, err := p.c.ReadFrom(p.buf)
		if err != nil {
			if ctx.Err() != nil {
				return 0, ctx.Err()
			}
			if errors.Is(err, os.ErrDeadlineExceeded) {
				return 0, errNoReply
			}
			return 0, err
		}
		rtt := time.Since(start)
		rm, err := icmp.ParseMessage(proto, p.buf[:n])
		if err != nil || rm.Type != reply {
			continue
		}
		e, ok := rm.Body.(*icmp.Echo)
		if !ok || e.Seq != p.seq || (p.c.raw && e.ID != p.id) || !sameIP(from, p.dst) {
			continue
		}
		return rtt, nil
	}
}

// request returns the next echo request (the next sequence number).
func (p *pinger) request() ([]byte, error) {
	p.seq = (p.seq + 1) & 0xffff
	var typ icmp.Type = ipv4.ICMPTypeEcho
	if p.c.v6 {
		typ = ipv6.ICMPTypeEchoRequest
	}
	data := make([]byte, p.size)
	for i := range data {
		data[i] = byte(i)
	}
	m := icmp.Message{Type: typ, Body: &icmp.Echo{ID: p.id, Seq: p.seq, Data: data}}
	return m.Marshal(nil)
}

func sameIP(a net.Addr, ip net.IP) bool {
	switch a := a.(type) {
	case *net.IPAddr:
		return a.IP.Equal(ip)
	case *net.UDPAddr:
		return a.IP.Equal(ip)
	}
	return false
}

// rttStats accumulates round-trip times.
type rttStats struct {
	ok, fail      int
	sum, min, max time.Duration
}

func (s *rttStats) add(rtt time.Duration) {
	if s.ok == 0 || rtt < s.min {
		s.min = rtt
	}
	if rtt > s.max {
		s.max = rtt
	}
	s.ok++
	s.sum += rtt
}

func (s *rttStats) avg() time.Duration {
	if s.ok == 0 {
		return 0
	}
	return s.sum / time.Duration(s.ok)
}

func msText(d time.Duration) string {
	return strconv.FormatInt(d.Round(time.Millisecond).Milliseconds(), 10)
}
func usText(d time.Duration) string { return strconv.FormatInt(d.Microseconds(), 10) }

// ipPing is Device.IP.Diagnostics.IPPing(): NumberOfRepetitions ICMP echo
// requests of DataBlockSize bytes, each waiting up to Timeout ms for its
// reply.
func (d *Diag) ipPing(ctx context.Context, in args, w datamodel.ResponseWriter) error {
	reps, timeout, size := in.uint("NumberOfRepetitions", 1), ms(in.uint("Timeout", 1000)), int(in.uint("DataBlockSize", 64))
	if size > 65507 {
		size = 65507
	}
	st, err := d.ping(ctx, in, in.str("Host"), reps, timeout, size, w)
	if err != nil {
		return err
	}
	w.SetValue("SuccessCount", strconv.Itoa(st.ok))
	w.SetValue("FailureCount", strconv.Itoa(st.fail))
	w.SetValue("AverageResponseTime", msText(st.avg()))
	w.SetValue("MinimumResponseTime", msText(st.min))
	w.SetValue("MaximumResponseTime", msText(st.max))
	w.SetValue("AverageResponseTimeDetailed", usText(st.avg()))
	w.SetValue("MinimumResponseTimeDetailed", usText(st.min))
	w.SetValue("MaximumResponseTimeDetailed", usText(st.max))
	return nil
}

// ping runs reps echo requests to host and writes Status and
// IPAddressUsed; a nil stats with a nil error means Status says why.
func (d *Diag) ping(ctx context.Context, in args, host string, reps uint64, timeout time.Duration, size int, w datamodel.ResponseWriter) (*rttStats, error) {
	st := &rttStats{}
	ifname, err := d.ifName(ctx, in)
	if err != nil {
		d.log.Warn("diagnostics: interface", "err", err)
		w.SetValue("Status", "Error_Other")
		return st, nil
	}
	dst, err := resolve(ctx, host, in.proto())
	if err != nil {
		w.SetValue("Status", "Error_CannotResolveHostName")
		return st, nil
	}
	w.SetValue("IPAddressUsed", sourceFor(dst, ifname))
	p, err := d.newPinger(ctx, dst, ifname, in.uint("DSCP", 0))
	if err != nil {
		d.log.Warn("diagnostics: ICMP socket", "err", err)
		w.SetValue("Status", "Error_Internal")
		return st, nil
	}
	defer p.Close()
	d.log.Debug("diagnostics: ICMP socket", "raw", p.c.raw, "dst", dst)
	for i := uint64(0); i < reps; i++ {
		rtt, err := p.echo(ctx, size, timeout)
		switch {
		case ctx.Err() != nil:
			return nil, ctx.Err()
		case err == nil:
			st.add(rtt)
		case noRoute(err) && st.ok == 0:
			w.SetValue("Status", "Error_NoRouteToHost")
			return st, nil
		case errors.Is(err, errNoReply) || noRoute(err):
			st.fail++
		default:
			d.log.Warn("diagnostics: ping", "host", host, "err", err)
			w.SetValue("Status", "Error_Other")
			return st, nil
		}
	}
	w.SetValue("Status", "Complete")
	return st, nil
}
