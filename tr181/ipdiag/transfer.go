package ipdiag

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/uspkit/uspkit/datamodel"
	"golang.org/x/sys/unix"
)

// xfer is one connection's result (TR-143's timestamps and byte counts).
type xfer struct {
	rom, bom, eom, tcpReq, tcpResp time.Time
	body                           uint64        // payload bytes received (download) or sent (upload)
	rx, tx                         atomic.Uint64 // bytes on the connection, HTTP headers included
	status                         string        // "" when Complete
	addr                           string        // local address used
	atBOM, atEOM                   ifCounters    // the Interface's counters at BOM and EOM
	clock                          func() time.Time

	mu      sync.Mutex
	samples []sample
}

// testBytes is what TR-181 counts as the test's bytes: the HTTP
// transaction's, headers included, in the test direction.
func (x *xfer) testBytes(down bool) uint64 {
	if down {
		return x.rx.Load()
	}
	return x.tx.Load()
}

// finish stops an upload's body from counting more (the transport may
// still read it after the response came) and takes its figures.
func (p *payload) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done = true
	p.x.bom, p.x.atBOM, p.x.body = p.bom, p.atBOM, p.test
}

// transferSpec is what one transfer test asks for.
type transferSpec struct {
	down     bool
	url      *url.URL
	ifname   string
	dscp     uint64
	prio     uint64 // EthernetPriority
	conns    int
	duration time.Duration // TimeBasedTestDuration; 0: the whole file
	length   uint64        // TestFileLength (upload)
	proto    string
	inc      *increments // nil without IncrementalResult
}

// control sets up a transfer's sockets: interface, DSCP and Ethernet
// priority (the socket priority, which the interface's egress QoS map
// turns into the 802.1Q PCP).
func (sp *transferSpec) control() func(network, address string, c syscall.RawConn) error {
	bind := bindControl(sp.ifname, sp.dscp)
	return func(network, address string, c syscall.RawConn) error {
		if err := bind(network, address, c); err != nil {
			return err
		}
		if sp.prio == 0 {
			return nil
		}
		var serr error
		if err := c.Control(func(fd uintptr) { serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_PRIORITY, int(sp.prio)) }); err != nil {
			return err
		}
		return serr
	}
}

func (d *Diag) transferSpec(ctx context.Context, in args, down bool, w datamodel.ResponseWriter) (*transferSpec, bool) {
	name := "UploadURL"
	if down {
		name = "DownloadURL"
	}
	u, err := url.Parse(in.str(name))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "ftp") || u.Host == "" {
		d.log.Warn("diagnostics: transfer URL neither http, https nor ftp, or without a host", "err", err)
		w.SetValue("Status", "Error_Other") // only HTTP is offered (DownloadTransports)
		return nil, false
	}
	ifname, err := d.ifName(ctx, in)
	if err != nil {
		d.log.Warn("diagnostics: interface", "err", err)
		w.SetValue("Status", "Error_Other")
		return nil, false
	}
	conns := int(in.uint("NumberOfConnections", defConnections))
	if conns > d.opt.MaxConnections {
		conns = d.opt.MaxConnections
	}
	return &transferSpec{down: down, url: u, ifname: ifname, dscp: in.uint("DSCP", 0), prio: in.uint("EthernetPriority", 0), conns: conns,
		duration: time.Duration(in.uint("TimeBasedTestDuration", 0)) * time.Second, length: in.uint("TestFileLength", 0),
		proto: in.proto()}, true
}

// download is Device.IP.Diagnostics.DownloadDiagnostics() over HTTP(S):
// NumberOfConnections parallel GETs of DownloadURL.
func (d *Diag) download(ctx context.Context, in args, w datamodel.ResponseWriter) error {
	return d.transfer(ctx, in, true, w)
}

// upload is Device.IP.Diagnostics.UploadDiagnostics() over HTTP(S):
// NumberOfConnections parallel PUTs of TestFileLength bytes to UploadURL.
func (d *Diag) upload(ctx context.Context, in args, w datamodel.ResponseWriter) error {
	return d.transfer(ctx, in, false, w)
}

func (d *Diag) transfer(ctx context.Context, in args, down bool, w datamodel.ResponseWriter) error {
	sp, ok := d.transferSpec(ctx, in, down, w)
	if !ok {
		return nil
	}
	host := sp.url.Hostname()
	if _, err := resolve(ctx, host, sp.proto); err != nil {
		w.SetValue("Status", "Error_CannotResolveHostName")
		return nil
	}
	sp.inc = incrementsFor(ctx, sp, in)
	results := make([]*xfer, sp.conns)
	var wg sync.WaitGroup
	for i := range results {
		results[i] = &xfer{}
		wg.Add(1)
		go func(x *xfer) {
			defer wg.Done()
			d.transferOne(ctx, sp, x)
		}(results[i])
	}
	wg.Wait()
	sp.inc.finish()
	if ctx.Err() != nil && !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return ctx.Err()
	}
	d.writeTransfer(w, sp, in.bool("EnablePerConnectionResults"), results)
	return nil
}

func (d *Diag) writeTransfer(w datamodel.ResponseWriter, sp *transferSpec, perConn bool, rs []*xfer) {
	testName := "TestBytesSent"
	if sp.down {
		testName = "TestBytesReceived"
	}
	for _, x := range rs {
		if x.status != "" {
			w.SetValue("Status", x.status)
			return
		}
	}
	// first and last: the connections with the earliest BOM and the
	// latest EOM; loaded and unloaded: the latest BOM and the earliest EOM,
	// between which every connection transfers (full loading).
	agg := xfer{}
	first, last, loaded, unloaded := rs[0], rs[0], rs[0], rs[0]
	var test uint64
	for _, x := range rs {
		agg.rom, agg.tcpReq, agg.tcpResp = earliest(agg.rom, x.rom), earliest(agg.tcpReq, x.tcpReq), earliest(agg.tcpResp, x.tcpResp)
		if x.bom.Before(first.bom) {
			first = x
		}
		if x.eom.After(last.eom) {
			last = x
		}
		if x.bom.After(loaded.bom) {
			loaded = x
		}
		if x.eom.Before(unloaded.eom) {
			unloaded = x
		}
		test += x.testBytes(sp.down)
	}
	agg.bom, agg.eom, agg.atBOM, agg.atEOM = first.bom, last.eom, first.atBOM, last.atEOM
	w.SetValue("Status", "Complete")
	w.SetValue("IPAddressUsed", rs[0].addr)
	set := func(prefix string, x *xfer, test uint64) {
		w.SetValue(prefix+"ROMTime", dateTime(x.rom))
		w.SetValue(prefix+"BOMTime", dateTime(x.bom))
		w.SetValue(prefix+"EOMTime", dateTime(x.eom))
		w.SetValue(prefix+"TCPOpenRequestTime", dateTime(x.tcpReq))
		w.SetValue(prefix+"TCPOpenResponseTime", dateTime(x.tcpResp))
		w.SetValue(prefix+testName, strconv.FormatUint(test, 10))
		rx, tx := delta(x.atBOM, x.atEOM)
		w.SetValue(prefix+"TotalBytesReceived", strconv.FormatUint(rx, 10))
		w.SetValue(prefix+"TotalBytesSent", strconv.FormatUint(tx, 10))
	}
	set("", &agg, test)
	var full time.Duration
	var fullTest uint64
	if unloaded.eom.After(loaded.bom) {
		full = unloaded.eom.Sub(loaded.bom)
		for _, x := range rs {
			fullTest += x.between(loaded.bom, unloaded.eom)
		}
	}
	if len(rs) == 1 {
		fullTest = test // one connection loads the link from its BOM to its EOM
	}
	rx, tx := delta(loaded.atBOM, unloaded.atEOM)
	w.SetValue(testName+"UnderFullLoading", strconv.FormatUint(fullTest, 10))
	w.SetValue("TotalBytesReceivedUnderFullLoading", strconv.FormatUint(rx, 10))
	w.SetValue("TotalBytesSentUnderFullLoading", strconv.FormatUint(tx, 10))
	w.SetValue("PeriodOfFullLoading", strconv.FormatInt(full.Microseconds(), 10))
	sp.inc.write(w, testName, rs, agg.eom)
	if perConn && len(rs) > 1 {
		for i, x := range rs {
			set("PerConnectionResult."+strconv.Itoa(i+1)+".", x, x.testBytes(sp.down))
		}
	}
}

func earliest(a, b time.Time) time.Time {
	if a.IsZero() || !b.IsZero() && b.Before(a) {
		return b
	}
	return a
}

// transferOne runs one connection's GET or PUT and fills x.
func (d *Diag) transferOne(ctx context.Context, sp *transferSpec, x *xfer) {
	x.clock = d.opt.Now
	if sp.url.Scheme == "ftp" {
		d.ftpTransfer(ctx, sp, x)
		return
	}
	now := d.opt.Now
	netw := "tcp" + network(sp.proto)
	dl := &net.Dialer{Control: sp.control(), Timeout: 30 * time.Second}
	tr := &http.Transport{
		DisableKeepAlives: true, DisableCompression: true, ResponseHeaderTimeout: 60 * time.Second,
		DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
			x.tcpReq = now()
			c, err := dl.DialContext(ctx, netw, addr)
			if err != nil {
				return nil, err
			}
			x.tcpResp = now()
			x.addr = c.LocalAddr().(*net.TCPAddr).IP.String()
			return &countConn{Conn: c, x: x, down: sp.down, now: now}, nil
		},
	}
	defer tr.CloseIdleConnections()
	cl := &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	tctx := ctx
	if sp.duration > 0 {
		var cancel context.CancelFunc
		tctx, cancel = context.WithTimeout(ctx, sp.duration+30*time.Second)
		defer cancel()
	}
	var req *http.Request
	var err error
	var body *payload
	if sp.down {
		req, err = http.NewRequestWithContext(tctx, http.MethodGet, sp.url.String(), nil)
	} else {
		body = &payload{left: sp.length, timed: sp.duration, now: now, x: x, ifname: sp.ifname, inc: sp.inc}
		req, err = http.NewRequestWithContext(tctx, http.MethodPut, sp.url.String(), body)
		if sp.duration == 0 {
			req.ContentLength = int64(sp.length)
		}
		if sp.length == 0 && sp.duration == 0 {
			req.Body = http.NoBody
		}
	}
	if err != nil {
		x.status = "Error_Other"
		return
	}
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
		WroteHeaders: func() { x.rom = now() },
		GotFirstResponseByte: func() {
			if sp.down {
				x.bom, x.atBOM = now(), readCounters(sp.ifname)
				sp.inc.began(x.bom)
			}
		},
	}))
	resp, err := cl.Do(req)
	if body != nil {
		body.finish()
	}
	if err != nil {
		x.status = transferErr(ctx, err, sp.down)
		return
	}
	defer resp.Body.Close()
	if !sp.down {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
		x.eom, x.atEOM = now(), readCounters(sp.ifname)
		if x.bom.IsZero() {
			x.bom, x.atBOM = x.rom, x.atEOM
		}
		if resp.StatusCode/100 != 2 {
			x.status = "Error_NoTransferComplete"
		}
		return
	}
	if resp.StatusCode/100 != 2 {
		x.status = "Error_TransferFailed"
		return
	}
	d.readBody(tctx, sp, resp, x)
}

// readBody reads a download's body to its end, or for TimeBasedTestDuration.
func (d *Diag) readBody(ctx context.Context, sp *transferSpec, resp *http.Response, x *xfer) {
	var end time.Time
	if sp.duration > 0 {
		end = x.bom.Add(sp.duration)
	}
	defer func() { x.atEOM = readCounters(sp.ifname) }()
	buf := make([]byte, 64<<10)
	for {
		n, err := resp.Body.Read(buf)
		x.body += uint64(n)
		if n > 0 {
			x.eom = d.opt.Now()
		}
		if !end.IsZero() && !x.eom.Before(end) {
			return // time-based test: the duration is over
		}
		if err == io.EOF {
			if resp.ContentLength >= 0 && x.body != uint64(resp.ContentLength) {
				x.status = "Error_IncorrectSize"
			}
			if x.eom.IsZero() {
				x.eom = d.opt.Now()
			}
			return
		}
		if errors.Is(err, io.ErrUnexpectedEOF) {
			x.status = "Error_IncorrectSize" // the body ended before its Content-Length
			return
		}
		if err != nil {
			x.status = transferErr(ctx, err, true)
			return
		}
	}
}

func transferErr(ctx context.Context, err error, down bool) string {
	var dnsErr *net.DNSError
	var opErr *net.OpError
	var certErr *tls.CertificateVerificationError
	switch {
	case errors.As(err, &dnsErr):
		return "Error_CannotResolveHostName"
	case noRoute(err):
		return "Error_NoRouteToHost"
	case errors.As(err, &opErr) && opErr.Op == "dial", errors.As(err, &certErr):
		return "Error_InitConnectionFailed" // no TCP connection, or no TLS session on it
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) || ctx.Err() != nil:
		return "Error_Timeout"
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "Error_NoResponse"
	}
	if down {
		return "Error_TransferFailed"
	}
	return "Error_NoTransferComplete"
}

// payload is an upload's body: length bytes, or as many as fit in timed.
type payload struct {
	mu     sync.Mutex
	done   bool
	ifname string
	inc    *increments
	atBOM  ifCounters
	bom    time.Time
	test   uint64
	left   uint64
	timed  time.Duration
	end    time.Time
	now    func() time.Time
	x      *xfer
}

func (p *payload) Read(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done {
		return 0, io.EOF
	}
	t := p.now()
	if p.bom.IsZero() {
		p.bom, p.atBOM = t, readCounters(p.ifname)
		p.inc.began(t)
		if p.timed > 0 {
			p.end = t.Add(p.timed)
		}
	}
	if p.timed > 0 {
		if !t.Before(p.end) {
			return 0, io.EOF
		}
	} else {
		if p.left == 0 {
			return 0, io.EOF
		}
		if uint64(len(b)) > p.left {
			b = b[:p.left]
		}
		p.left -= uint64(len(b))
	}
	clear(b)
	p.test += uint64(len(b))
	return len(b), nil
}
