package ipdiag

import (
	"context"
	"encoding/binary"
	"errors"
	"maps"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/uspkit/uspkit/datamodel"
	"github.com/uspkit/uspkit/usperr"
)

// echoPlusLen is the size of TR-143's UDP Echo Plus header: TestGenSN,
// TestRespSN, TestRespRecvTimeStamp, TestRespReplyTimeStamp and
// TestRespReplyFailureCount, each 32 bits in network order.
const echoPlusLen = 20

// usStamp is a 32-bit microsecond timestamp, as Echo Plus carries them.
func usStamp(t time.Time) uint32 { return uint32(t.UnixMicro()) }

// udpEcho is Device.IP.Diagnostics.UDPEchoDiagnostics(): NumberOfRepetitions
// datagrams of DataBlockSize bytes to Host:Port, InterTransmissionTime ms
// apart, each waiting up to Timeout ms for its echo. Datagrams of 20 bytes
// or more carry the Echo Plus header, which an Echo Plus server fills in.
func (d *Diag) udpEcho(ctx context.Context, in args, w datamodel.ResponseWriter) error {
	reps := in.uint("NumberOfRepetitions", defEchoReps)
	size := int(min(in.uint("DataBlockSize", defEchoBlockSize), 65507))
	gap := ms(in.uint("InterTransmissionTime", defEchoInterval))
	timeout := ms(in.uint("Timeout", 1000))
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
	c, err := dialUDP(ctx, dst, int(in.uint("Port", 7)), ifname, in.uint("DSCP", 0))
	if err != nil {
		d.log.Warn("diagnostics: UDP echo socket", "err", err)
		w.SetValue("Status", "Error_Other")
		return nil
	}
	defer c.Close()
	w.SetValue("IPAddressUsed", c.LocalAddr().(*net.UDPAddr).IP.String())
	individual := in.bool("EnableIndividualPacketResults")
	st := &rttStats{}
	for i := uint64(0); i < reps; i++ {
		if i > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(gap):
			}
		}
		r, err := d.echoOnce(ctx, c, uint32(i+1), size, timeout)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			st.fail++
		} else {
			st.add(r.recv.Sub(r.sent))
		}
		if individual && i < uint64(d.opt.MaxEchoResults) {
			r.write(w, "IndividualPacketResult."+strconv.FormatUint(i+1, 10)+".", err == nil)
		}
	}
	w.SetValue("Status", "Complete")
	w.SetValue("SuccessCount", strconv.Itoa(st.ok))
	w.SetValue("FailureCount", strconv.Itoa(st.fail))
	w.SetValue("AverageResponseTime", msText(st.avg()))
	w.SetValue("MinimumResponseTime", msText(st.min))
	w.SetValue("MaximumResponseTime", msText(st.max))
	return nil
}

func dialUDP(ctx context.Context, dst net.IP, port int, ifname string, dscp uint64) (*net.UDPConn, error) {
	dl := net.Dialer{Control: bindControl(ifname, dscp)}
	c, err := dl.DialContext(ctx, "udp", net.JoinHostPort(dst.String(), strconv.Itoa(port)))
	if err != nil {
		return nil, err
	}
	return c.(*net.UDPConn), nil
}

// echoResult is one datagram's exchange.
type echoResult struct {
	sent, recv                              time.Time
	gen, respSN, rcvStamp, replyStamp, fail uint32
}

func (r *echoResult) write(w datamodel.ResponseWriter, p string, ok bool) {
	w.SetValue(p+"PacketSuccess", strconv.FormatBool(ok))
	w.SetValue(p+"PacketSendTime", dateTime(r.sent))
	w.SetValue(p+"PacketReceiveTime", dateTime(r.recv))
	for name, v := range map[string]uint32{"TestGenSN": r.gen, "TestRespSN": r.respSN, "TestRespRcvTimeStamp": r.rcvStamp,
		"TestRespReplyTimeStamp": r.replyStamp, "TestRespReplyFailureCount": r.fail} {
		w.SetValue(p+name, strconv.FormatUint(uint64(v), 10))
	}
}

func (d *Diag) echoOnce(ctx context.Context, c *net.UDPConn, sn uint32, size int, timeout time.Duration) (*echoResult, error) {
	b := make([]byte, size)
	if size >= echoPlusLen {
		binary.BigEndian.PutUint32(b, sn)
	}
	r := &echoResult{gen: sn, sent: d.opt.Now()}
	c.SetReadDeadline(time.Now().Add(timeout)) // before the cancel hook, which may move it
	stop := context.AfterFunc(ctx, func() { c.SetReadDeadline(time.Now()) })
	defer stop()
	if _, err := c.Write(b); err != nil {
		return r, err
	}
	buf := make([]byte, 65536)
	for {
		n, err := c.Read(buf)
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				return r, errNoReply
			}
			return r, err
		}
		if size >= echoPlusLen && (n < echoPlusLen || binary.BigEndian.Uint32(buf) != sn) {
			continue // an echo of an earlier datagram that came late
		}
		r.recv = d.opt.Now()
		if n >= echoPlusLen {
			r.respSN = binary.BigEndian.Uint32(buf[4:])
			r.rcvStamp = binary.BigEndian.Uint32(buf[8:])
			r.replyStamp = binary.BigEndian.Uint32(buf[12:])
			r.fail = binary.BigEndian.Uint32(buf[16:])
		}
		return r, nil
	}
}

// echoServer is Device.IP.Diagnostics.UDPEchoConfig: while Enable is
// true it answers datagrams to UDPPort from SourceIPAddress (any source
// when that is empty) with the same datagram, and with EchoPlusEnabled it
// fills in the Echo Plus header of datagrams of 20 bytes or more.
type echoServer struct {
	d *Diag

	setMu    sync.Mutex // serialises configuration changes; taken before mu
	mu       sync.Mutex
	cfg      map[string]string // the writable parameters
	conn     *net.UDPConn
	done     chan struct{}
	rcvd     uint32
	resp     uint32
	bytesIn  uint32
	bytesOut uint32
	first    time.Time
	last     time.Time
	sn       uint32
	failures uint32
}

func newEchoServer(d *Diag) *echoServer {
	return &echoServer{d: d, cfg: map[string]string{"Enable": "false", "Interface": "", "SourceIPAddress": "", "UDPPort": "0", "EchoPlusEnabled": "false"}}
}

func (s *echoServer) serve(ctx context.Context, w datamodel.ResponseWriter, r *datamodel.Request) error {
	switch r.Op {
	case datamodel.OpGet:
		s.mu.Lock()
		defer s.mu.Unlock()
		vals := map[string]string{"EchoPlusSupported": "true",
			"PacketsReceived": u32(s.rcvd), "PacketsResponded": u32(s.resp), "BytesReceived": u32(s.bytesIn),
			"BytesResponded": u32(s.bytesOut), "TimeFirstPacketReceived": dateTime(s.first), "TimeLastPacketReceived": dateTime(s.last)}
		for _, n := range r.Names {
			if v, ok := s.cfg[n]; ok {
				w.SetValue(n, v)
			} else {
				w.SetValue(n, vals[n])
			}
		}
		return nil
	case datamodel.OpSet:
		return s.set(ctx, r.Values, r.CheckOnly)
	}
	return usperr.Errorf(usperr.CodeRequestDenied, "%s cannot be added to or deleted", r.Path)
}

func u32(n uint32) string { return strconv.FormatUint(uint64(n), 10) }

// echoParams are UDPEchoConfig's writable parameters.
var echoParams = []string{"Enable", "Interface", "SourceIPAddress", "UDPPort", "EchoPlusEnabled"}

// set applies new configuration and starts, restarts or stops the
// server; a configuration the server cannot run with changes nothing.
func (s *echoServer) set(ctx context.Context, vals map[string]string, checkOnly bool) error {
	s.setMu.Lock()
	defer s.setMu.Unlock()
	s.mu.Lock()
	old := maps.Clone(s.cfg)
	s.mu.Unlock()
	cfg := maps.Clone(old)
	for k, v := range vals {
		if slices.Contains(echoParams, k) {
			cfg[k] = v
		}
	}
	if ip := cfg["SourceIPAddress"]; ip != "" && net.ParseIP(ip) == nil {
		return usperr.Errorf(usperr.CodeInvalidValue, "SourceIPAddress %q is not an IP address", ip)
	}
	port, _ := strconv.Atoi(cfg["UDPPort"])
	on := cfg["Enable"] == "true" || cfg["Enable"] == "1"
	if on && (port < 1 || port > 65535) {
		return usperr.Errorf(usperr.CodeInvalidValue, "UDPPort %d is not a port to listen on", port)
	}
	if checkOnly {
		return nil
	}
	ifname, err := s.ifname(ctx, cfg)
	if err != nil {
		return err
	}
	s.stop()
	if on {
		if err := s.start(port, ifname); err != nil {
			s.restart(ctx, old) // the server as it was
			return err
		}
	}
	s.mu.Lock()
	s.cfg = cfg
	s.mu.Unlock()
	if s.d.opt.SaveEchoConfig != nil {
		s.d.opt.SaveEchoConfig(maps.Clone(cfg))
	}
	return nil
}

func (s *echoServer) ifname(ctx context.Context, cfg map[string]string) (string, error) {
	p := cfg["Interface"]
	if p == "" || s.d.opt.InterfaceName == nil {
		return "", nil
	}
	n, err := s.d.opt.InterfaceName(ctx, p)
	if err != nil {
		return "", usperr.Errorf(usperr.CodeInvalidValue, "Interface %s: %v", p, err)
	}
	return n, nil
}

// restart runs the server with cfg, if cfg enables it.
func (s *echoServer) restart(ctx context.Context, cfg map[string]string) error {
	port, _ := strconv.Atoi(cfg["UDPPort"])
	if cfg["Enable"] != "true" && cfg["Enable"] != "1" || port < 1 || port > 65535 {
		return nil
	}
	ifname, err := s.ifname(ctx, cfg)
	if err != nil {
		return err
	}
	return s.start(port, ifname)
}

// RestoreEchoConfig sets Device.IP.Diagnostics.UDPEchoConfig to a
// configuration kept from an earlier run (what Options.SaveEchoConfig was
// given) and starts the server when it is enabled. Parameters it does not
// name keep their values.
func (d *Diag) RestoreEchoConfig(ctx context.Context, cfg map[string]string) error {
	return d.echo.set(ctx, cfg, false)
}

func (s *echoServer) start(port int, ifname string) error {
	lc := net.ListenConfig{Control: bindControl(ifname, 0)}
	pc, err := lc.ListenPacket(context.Background(), "udp", ":"+strconv.Itoa(port))
	if err != nil {
		s.d.log.Warn("diagnostics: UDP echo server", "port", port, "err", err)
		return usperr.Errorf(usperr.CodeInternal, "UDP echo server on port %d: %v", port, err)
	}
	s.mu.Lock()
	s.conn, s.done = pc.(*net.UDPConn), make(chan struct{})
	s.rcvd, s.resp, s.bytesIn, s.bytesOut, s.first, s.last, s.sn, s.failures = 0, 0, 0, 0, time.Time{}, time.Time{}, 0, 0
	c, done := s.conn, s.done
	s.mu.Unlock()
	s.d.log.Info("diagnostics: UDP echo server", "addr", c.LocalAddr().String())
	go s.loop(c, done)
	return nil
}

// stop closes the listener and waits for its loop.
func (s *echoServer) stop() error {
	s.mu.Lock()
	c, done := s.conn, s.done
	s.conn, s.done = nil, nil
	s.mu.Unlock()
	if c == nil {
		return nil
	}
	err := c.Close()
	<-done
	return err
}

func (s *echoServer) loop(c *net.UDPConn, done chan struct{}) {
	defer close(done)
	buf := make([]byte, 65536)
	for {
		n, from, err := c.ReadFromUDP(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		now := s.d.opt.Now()
		s.mu.Lock()
		src, plus := s.cfg["SourceIPAddress"], s.cfg["EchoPlusEnabled"] == "true" || s.cfg["EchoPlusEnabled"] == "1"
		if src != "" && !net.ParseIP(src).Equal(from.IP) && !strings.EqualFold(src, from.IP.String()) {
			s.mu.Unlock()
			continue // only the configured source is answered
		}
		s.rcvd++
		s.bytesIn += uint32(n)
		if s.first.IsZero() {
			s.first = now
		}
		s.last = now
		if plus && n >= echoPlusLen {
			s.sn++
			binary.BigEndian.PutUint32(buf[4:], s.sn)
			binary.BigEndian.PutUint32(buf[8:], usStamp(now))
			binary.BigEndian.PutUint32(buf[16:], s.failures)
			binary.BigEndian.PutUint32(buf[12:], usStamp(s.d.opt.Now()))
		}
		s.mu.Unlock()
		_, err = c.WriteToUDP(buf[:n], from)
		s.mu.Lock()
		if err != nil {
			s.failures++
		} else {
			s.resp++
			s.bytesOut += uint32(n)
		}
		s.mu.Unlock()
	}
}
