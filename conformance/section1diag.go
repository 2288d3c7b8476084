package conformance

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"time"
)

// traceBasePort is the UDP port classic traceroute (and usp agent) sends
// its first probe to; each further probe uses the next port.
const traceBasePort = 33434

// sectionDiag returns the cases that need the Agent's diagnostics.
func sectionDiag() map[string]caseFunc {
	return map[string]caseFunc{"1.92": {wait: 30*time.Second + probePortWait, run: case192}}
}

// case192: TraceRoute() with only Host and ProtocolVersion uses the
// data model's defaults: the runner keeps the first hop silent (it holds
// the probes' UDP ports, so no port-unreachable answers them) and sees 3
// probes (NumberOfTries) 5000 ms apart (Timeout), within 1% (TP-469 1.92).
// An Agent probing with ICMP echo is answered by the runner's kernel and
// cannot be judged this way.
func case192(t *T) {
	t.need("Device.IP.Diagnostics.TraceRoute()")
	host := t.r.o.ProbeHost
	if host == "" {
		host = "127.0.0.1"
	}
	type probe struct {
		port int
		at   time.Time
	}
	got := make(chan probe, 3)
	conns, err := holdProbePorts(t.ctx, host, traceBasePort, 3, probePortWait)
	if err != nil {
		t.Skipf("cannot hold UDP ports %d-%d on %s for the TraceRoute probes: %v", traceBasePort, traceBasePort+2, host, err)
	}
	for i, c := range conns {
		port := traceBasePort + i
		t.Cleanup(func() { c.Close() })
		go func() {
			b := make([]byte, 65536)
			if _, _, err := c.ReadFrom(b); err == nil {
				got <- probe{port, time.Now()}
			}
		}()
	}
	const cmd = "Device.IP.Diagnostics.TraceRoute()"
	r := t.operateResp(t.Do(operateReq(cmd, "test92", true, map[string]string{"Host": host, "ProtocolVersion": "Any"})))
	res := r.GetOperationResults()
	t.Check(len(res) == 1 && res[0].GetExecutedCommand() == cmd && instanceOf("Device.LocalAgent.Request.")(res[0].GetReqObjPath()),
		"OperateResp %v", r)
	if len(res) == 1 && res[0].GetReqObjPath() != "" {
		req := res[0].GetReqObjPath()
		t.Cleanup(func() { t.c.do(t.ctx, operateReq(req+"Cancel()", "", true, nil), t.r.o.ReplyTimeout) })
	}
	var ps []probe
	deadline := time.After(17 * time.Second)
	for len(ps) < 3 {
		select {
		case p := <-got:
			ps = append(ps, p)
		case <-deadline:
			t.Fatalf("%d TraceRoute probes reached %s ports %d-%d in 17 s, want 3", len(ps), host, traceBasePort, traceBasePort+2)
		case <-t.ctx.Done():
			t.Fatalf("%v", t.ctx.Err())
		}
	}
	for i := 1; i < len(ps); i++ {
		gap := ps[i].at.Sub(ps[i-1].at)
		t.Check(gap >= 4950*time.Millisecond && gap <= 5050*time.Millisecond,
			"probe %d came %v after the one before it, want 5000 ms ±1%% (the default Timeout)", i+1, gap)
	}
}

// probePortWait bounds how long case 1.92 waits for the TraceRoute ports
// when another run on the same host holds them (its case ends within
// about 20 s).
const probePortWait = 20 * time.Second

// holdProbePorts binds n consecutive UDP ports from base on host, retrying
// for up to wait while any of them is in use, and returns the sockets.
func holdProbePorts(ctx context.Context, host string, base, n int, wait time.Duration) ([]net.PacketConn, error) {
	deadline := time.Now().Add(wait)
	for {
		var conns []net.PacketConn
		var err error
		for i := range n {
			var c net.PacketConn
			c, err = net.ListenPacket("udp", net.JoinHostPort(host, strconv.Itoa(base+i)))
			if err != nil {
				break
			}
			conns = append(conns, c)
		}
		if err == nil {
			return conns, nil
		}
		for _, c := range conns {
			c.Close()
		}
		if time.Now().After(deadline) {
			return nil, err
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%w (%w)", err, ctx.Err())
		case <-time.After(250 * time.Millisecond):
		}
	}
}
