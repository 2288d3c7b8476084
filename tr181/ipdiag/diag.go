package ipdiag

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/uspkit/uspkit/datamodel"
	"github.com/uspkit/uspkit/schema"
	"github.com/uspkit/uspkit/usperr"
)

// Options configure a Diag; the zero Options (or nil) are the defaults.
type Options struct {
	// Log receives a line per command run and per failure; nil discards.
	Log *slog.Logger
	// InterfaceName turns a command's Interface argument (a path such as
	// "Device.IP.Interface.2.") into the name of a host interface
	// ("eth0"). nil: the argument is ignored and routing decides. usp
	// agent reads the path's Name parameter through its data model.
	InterfaceName func(ctx context.Context, path string) (string, error)
	// MaxDuration is the hard cap on any one command, whatever its
	// inputs ask for; 0 means 10 minutes. A command that reaches it fails
	// (a cmd_failure in its OperationComplete).
	MaxDuration time.Duration
	// MaxRunning bounds the commands that run at once; more wait for a
	// turn (their time cap running). 0 means 4.
	MaxRunning int
	// MaxConnections bounds NumberOfConnections of the transfer tests
	// (DownloadDiagnosticMaxConnections); 0 means 8.
	MaxConnections int
	// MaxEchoResults bounds the IndividualPacketResult rows of
	// UDPEchoDiagnostics() (UDPEchoDiagnosticsMaxResults); 0 means 1000.
	MaxEchoResults int
	// TraceICMP makes TraceRoute() probe with ICMP echo requests (through
	// a ping or raw socket, as IPPing() does) instead of UDP datagrams.
	TraceICMP bool
	// TracePort is the UDP destination port of TraceRoute()'s first
	// probe; 0 means TraceBasePort.
	TracePort int
	// SaveEchoConfig, if not nil, is given UDPEchoConfig's writable
	// parameters after every change a Set makes, so that the caller can
	// keep them across restarts (see Diag.RestoreEchoConfig). It runs
	// while the change is applied and must not call the Diag.
	SaveEchoConfig func(cfg map[string]string)
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Diag runs the diagnostics commands and the UDP echo server. Its methods
// are safe for concurrent use; commands run concurrently, each on its own
// sockets.
type Diag struct {
	opt     Options
	log     *slog.Logger
	echo    *echoServer
	running chan struct{} // a token per command running (Options.MaxRunning)

	mu     sync.Mutex
	nextID uint16 // ICMP identifier of the next raw-socket ping
}

// New returns a Diag; opt may be nil.
func New(opt *Options) *Diag {
	d := &Diag{}
	if opt != nil {
		d.opt = *opt
	}
	if d.opt.MaxDuration <= 0 {
		d.opt.MaxDuration = 10 * time.Minute
	}
	if d.opt.MaxRunning <= 0 {
		d.opt.MaxRunning = 4
	}
	d.running = make(chan struct{}, d.opt.MaxRunning)
	if d.opt.MaxConnections <= 0 {
		d.opt.MaxConnections = 8
	}
	if d.opt.MaxEchoResults <= 0 {
		d.opt.MaxEchoResults = 1000
	}
	if d.opt.TracePort <= 0 || d.opt.TracePort > 65535 {
		d.opt.TracePort = TraceBasePort
	}
	if d.opt.Now == nil {
		d.opt.Now = time.Now
	}
	d.log = d.opt.Log
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	d.nextID = uint16(time.Now().UnixNano())
	d.echo = newEchoServer(d)
	return d
}

// Close stops the UDP echo server. Commands in progress end with their
// contexts.
func (d *Diag) Close() error { return d.echo.stop() }

type cmdFunc func(ctx context.Context, in args, w datamodel.ResponseWriter) error

// Register serves the objects and commands Define adds on mux.
func (d *Diag) Register(mux *datamodel.Mux) {
	mux.HandleFunc("Device.IP.Diagnostics.", d.serveCaps)
	mux.HandleFunc("Device.IP.Diagnostics.UDPEchoConfig.", d.echo.serve)
	for name, f := range map[string]cmdFunc{
		"Device.IP.Diagnostics.IPPing()":                     d.ipPing,
		"Device.IP.Diagnostics.TraceRoute()":                 d.traceRoute,
		"Device.IP.Diagnostics.DownloadDiagnostics()":        d.download,
		"Device.IP.Diagnostics.UploadDiagnostics()":          d.upload,
		"Device.IP.Diagnostics.UDPEchoDiagnostics()":         d.udpEcho,
		"Device.IP.Diagnostics.ServerSelectionDiagnostics()": d.serverSelection,
		"Device.DNS.Diagnostics.NSLookupDiagnostics()":       d.nsLookup,
	} {
		mux.HandleFunc(name, d.command(name, f))
	}
	mux.HandleFunc("Device.DNS.Diagnostics.", func(ctx context.Context, w datamodel.ResponseWriter, r *datamodel.Request) error {
		if r.Op != datamodel.OpGet {
			return usperr.Errorf(usperr.CodeRequestDenied, "%s is read-only", r.Path)
		}
		return nil
	})
}

// command wraps a command: the hard time cap, panics and the log line.
func (d *Diag) command(name string, f cmdFunc) func(ctx context.Context, w datamodel.ResponseWriter, r *datamodel.Request) (err error) {
	return func(ctx context.Context, w datamodel.ResponseWriter, r *datamodel.Request) (err error) {
		if r.Op != datamodel.OpOperate {
			return usperr.Errorf(usperr.CodeRequestDenied, "%s is a command", name)
		}
		ctx, cancel := context.WithTimeout(ctx, d.opt.MaxDuration)
		defer cancel()
		start := time.Now()
		in := args{v: r.Values, cmd: r.Command}
		sw := &statusWriter{ResponseWriter: w}
		select {
		case d.running <- struct{}{}:
			defer func() { <-d.running }()
			err = f(ctx, in, sw)
		case <-ctx.Done():
			err = ctx.Err() // cancelled, or out of time, while waiting for a turn
		}
		switch {
		case err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded):
			err = usperr.Errorf(usperr.CodeCommandFailure, "%s ran into its time limit of %v", name, d.opt.MaxDuration)
		case errors.Is(ctx.Err(), context.Canceled): // Request.{i}.Cancel(), or the Agent stopping
			err = usperr.Errorf(usperr.CodeCommandCanceled, "%s cancelled", name)
		}
		level := slog.LevelInfo
		if err != nil || sw.status != "Complete" {
			level = slog.LevelWarn
		}
		d.log.Log(ctx, level, "diagnostics", "command", name, "host", firstOf(r.Values, "Host", "HostName", "DownloadURL", "UploadURL", "HostList"),
			"status", sw.status, "took", time.Since(start).Round(time.Millisecond), "err", err)
		return err
	}
}

// statusWriter notes the Status a command reports, for its log line.
type statusWriter struct {
	datamodel.ResponseWriter
	status string
}

func (w *statusWriter) SetValue(name, value string) {
	if name == "Status" {
		w.status = value
	}
	w.ResponseWriter.SetValue(name, value)
}

// firstOf returns the first of the named inputs that is given, for a log
// line: a URL without its password.
func firstOf(m map[string]string, names ...string) string {
	for _, n := range names {
		if v, ok := m[n]; ok {
			if u, err := url.Parse(v); err == nil && u.User != nil {
				return u.Redacted()
			}
			return v
		}
	}
	return ""
}

// serveCaps answers Get on Device.IP.Diagnostics.: what this Agent
// supports.
func (d *Diag) serveCaps(ctx context.Context, w datamodel.ResponseWriter, r *datamodel.Request) error {
	if r.Op != datamodel.OpGet {
		return usperr.Errorf(usperr.CodeRequestDenied, "%s is read-only", r.Path)
	}
	mc := strconv.Itoa(d.opt.MaxConnections)
	vals := map[string]string{
		"IPLayerCapacitySupported":         "false",
		"DownloadTransports":               "HTTP,FTP",
		"UploadTransports":                 "HTTP,FTP",
		"DownloadDiagnosticMaxConnections": mc, "UploadDiagnosticsMaxConnections": mc,
		"DownloadDiagnosticsMaxIncrementalResult": strconv.Itoa(maxIncremental), "UploadDiagnosticsMaxIncrementalResult": strconv.Itoa(maxIncremental),
		"UDPEchoDiagnosticsMaxResults": strconv.Itoa(d.opt.MaxEchoResults),
	}
	v6 := hasIPv6()
	for _, n := range r.Names {
		v, ok := vals[n]
		if !ok && strings.HasSuffix(n, "Supported") {
			v = "true"
			switch {
			case n == "IPv4PingSupported":
				v = strconv.FormatBool(canPing(ctx, false))
			case n == "IPv6PingSupported":
				v = strconv.FormatBool(v6 && canPing(ctx, true))
			case strings.HasPrefix(n, "IPv6"):
				v = strconv.FormatBool(v6) // the host has IPv6 at all
			}
		}
		w.SetValue(n, v)
	}
	return nil
}

// canPing reports whether this process may open an ICMP socket: a ping
// socket, or a raw one.
func canPing(ctx context.Context, v6 bool) bool {
	c, err := openICMP(ctx, v6, "", 0)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// hasIPv6 reports whether the host has an IPv6 address (::1 included).
func hasIPv6() bool {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return false
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() == nil && n.IP.To16() != nil {
			return true
		}
	}
	return false
}

// args reads a command's input arguments; an optional argument that is
// absent takes its TR-181 default [TP-469 1.92].
type args struct {
	v   map[string]string
	cmd *schema.Command
}

func (a args) str(name string) string { return a.v[name] }

func (a args) uint(name string, def uint64) uint64 {
	s, ok := a.v[name]
	if !ok || s == "" {
		return def
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return def
	}
	return n
}

func (a args) bool(name string) bool { return a.v[name] == "true" || a.v[name] == "1" }

func (a args) proto() string {
	if p := a.v["ProtocolVersion"]; p != "" {
		return p
	}
	return defProtocol
}

func ms(n uint64) time.Duration { return time.Duration(n) * time.Millisecond }

// ifName resolves the Interface argument; "" lets routing decide.
func (d *Diag) ifName(ctx context.Context, in args) (string, error) {
	p := in.str("Interface")
	if p == "" || d.opt.InterfaceName == nil {
		return "", nil
	}
	name, err := d.opt.InterfaceName(ctx, p)
	if err != nil {
		return "", fmt.Errorf("interface %s: %w", p, err)
	}
	return name, nil
}

// network returns the Go network suffix for a ProtocolVersion: "4", "6"
// or "" (either).
func network(proto string) string {
	switch proto {
	case "IPv4":
		return "4"
	case "IPv6":
		return "6"
	}
	return ""
}

// errResolve is a host name that did not resolve.
var errResolve = errors.New("cannot resolve host name")

// resolve returns the address of host in the family proto asks for.
func resolve(ctx context.Context, host, proto string) (net.IP, error) {
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	fam := network(proto)
	if ip := net.ParseIP(host); ip != nil {
		if fam == "4" && ip.To4() == nil || fam == "6" && ip.To4() != nil {
			return nil, fmt.Errorf("%s is not an IPv%s address: %w", host, fam, errResolve)
		}
		return ip, nil
	}
	if host == "" {
		return nil, fmt.Errorf("empty host: %w", errResolve)
	}
	ips, err := net.DefaultResolver.LookupIP(ctx, "ip"+fam, host)
	if err != nil || len(ips) == 0 {
		if err == nil {
			err = errors.New("no address")
		}
		return nil, fmt.Errorf("%s: %w: %w", host, errResolve, err)
	}
	for _, ip := range ips { // IPv4 first when either will do
		if ip.To4() != nil {
			return ip, nil
		}
	}
	return ips[0], nil
}

// sourceFor returns the local address the host routes to dst from (no
// packet is sent).
func sourceFor(dst net.IP, ifname string) string {
	dl := net.Dialer{Control: bindControl(ifname, 0)}
	c, err := dl.Dial("udp", net.JoinHostPort(dst.String(), "9"))
	if err != nil {
		return ""
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).IP.String()
}

// noRoute reports whether err says the destination cannot be reached.
func noRoute(err error) bool {
	return errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETUNREACH) || errors.Is(err, syscall.EADDRNOTAVAIL)
}

// dateTime formats a TR-106 dateTime with microseconds; the zero time is
// the Unknown Time.
func dateTime(t time.Time) string {
	if t.IsZero() {
		return "0001-01-01T00:00:00Z"
	}
	return t.UTC().Format("2006-01-02T15:04:05.000000Z")
}
