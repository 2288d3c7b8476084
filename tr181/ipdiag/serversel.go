package ipdiag

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/uspkit/uspkit/datamodel"
)

// discardWriter drops output arguments.
type discardWriter struct{ status string }

func (w *discardWriter) SetValue(name, value string) {
	if name == "Status" {
		w.status = value
	}
}
func (*discardWriter) AddInstance(uint32) {}

// serverSelection is Device.IP.Diagnostics.ServerSelectionDiagnostics():
// NumberOfRepetitions ICMP echoes (or UDP echoes, to port 7 unless a
// HostList entry names one as host:port) to each host of HostList; the
// fastest on average wins.
func (d *Diag) serverSelection(ctx context.Context, in args, w datamodel.ResponseWriter) error {
	reps, timeout := in.uint("NumberOfRepetitions", 1), ms(in.uint("Timeout", 1000))
	var best *rttStats
	bestHost, bestAddr := "", ""
	resolved := 0
	for _, host := range strings.Split(in.str("HostList"), ",") {
		host = strings.TrimSpace(host)
		if host == "" {
			continue
		}
		var st *rttStats
		var err error
		dw := &discardWriter{}
		var addr string
		if in.str("Protocol") == "UDP Echo" {
			st, addr, err = d.udpEchoHost(ctx, in, host, reps, timeout)
			if errors.Is(err, errResolve) {
				dw.status = "Error_CannotResolveHostName"
			}
		} else {
			st, err = d.ping(ctx, in, host, reps, timeout, 24, dw)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil || dw.status == "Error_CannotResolveHostName" {
			continue
		}
		resolved++
		if st == nil || st.ok == 0 {
			continue
		}
		if best == nil || st.avg() < best.avg() {
			best, bestHost, bestAddr = st, host, addr
		}
	}
	if resolved == 0 {
		w.SetValue("Status", "Error_CannotResolveHostName")
		return nil
	}
	w.SetValue("Status", "Complete")
	if best == nil {
		return nil
	}
	if bestAddr == "" { // ICMP: the source the host routes the fastest host from
		ifname, _ := d.ifName(ctx, in)
		if ip, err := resolve(ctx, bestHost, in.proto()); err == nil {
			bestAddr = sourceFor(ip, ifname)
		}
	}
	w.SetValue("FastestHost", bestHost)
	w.SetValue("MinimumResponseTime", usText(best.min))
	w.SetValue("AverageResponseTime", usText(best.avg()))
	w.SetValue("MaximumResponseTime", usText(best.max))
	w.SetValue("IPAddressUsed", bestAddr)
	return nil
}

// udpEchoHost measures host (host or host:port) with UDP echoes.
func (d *Diag) udpEchoHost(ctx context.Context, in args, host string, reps uint64, timeout time.Duration) (*rttStats, string, error) {
	port := 7
	if h, p, err := net.SplitHostPort(host); err == nil {
		host = h
		port, _ = strconv.Atoi(p)
	}
	ifname, err := d.ifName(ctx, in)
	if err != nil {
		return nil, "", err
	}
	dst, err := resolve(ctx, host, in.proto())
	if err != nil {
		return nil, "", err
	}
	c, err := dialUDP(ctx, dst, port, ifname, 0)
	if err != nil {
		return nil, "", err
	}
	defer c.Close()
	st := &rttStats{}
	for i := uint64(0); i < reps; i++ {
		r, err := d.echoOnce(ctx, c, uint32(i+1), echoPlusLen, timeout)
		if ctx.Err() != nil {
			return nil, "", ctx.Err()
		}
		if err != nil {
			st.fail++
			continue
		}
		st.add(r.recv.Sub(r.sent))
	}
	return st, c.LocalAddr().(*net.UDPAddr).IP.String(), nil
}
