package netlimit

import (
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"
)

// Defaults used for zero Options fields.
const (
	DefaultMaxConns     = 512
	DefaultMaxPerSource = 64
)

// Accept back-off bounds: the first wait after a failed Accept and the
// longest, as net/http's Server uses.
const (
	minAcceptWait = 5 * time.Millisecond
	maxAcceptWait = time.Second
)

// Options configure Wrap. A nil *Options means all defaults.
type Options struct {
	// MaxConns caps the open connections of the listener; one more is
	// closed as soon as it is accepted. Zero means DefaultMaxConns;
	// negative means no cap.
	MaxConns int
	// MaxPerSource caps the open connections from one source address
	// (one IPv4 address, or one IPv6 /64 so that a host cannot dodge it
	// by cycling through its addresses). Zero means DefaultMaxPerSource;
	// negative means no cap.
	MaxPerSource int
	// Logger receives refused connections and Accept errors; nil
	// discards them.
	Logger *slog.Logger
}

// Listener is a net.Listener with connection limits. It is safe for
// concurrent use, as net.Listener requires.
type Listener struct {
	net.Listener
	o    Options
	done chan struct{}
	once sync.Once

	mu    sync.Mutex
	open  int
	per   map[netip.Prefix]int
	wait  time.Duration // current Accept back-off
	drops uint64        // connections refused, for Stats
}

// Wrap returns ln with the limits of o.
func Wrap(ln net.Listener, o *Options) *Listener {
	l := &Listener{Listener: ln, done: make(chan struct{}), per: make(map[netip.Prefix]int)}
	if o != nil {
		l.o = *o
	}
	if l.o.MaxConns == 0 {
		l.o.MaxConns = DefaultMaxConns
	}
	if l.o.MaxPerSource == 0 {
		l.o.MaxPerSource = DefaultMaxPerSource
	}
	if l.o.Logger == nil {
		l.o.Logger = slog.New(slog.DiscardHandler)
	}
	return l
}

// Accept waits for a connection within the limits and returns it. It
// closes at once, and does not return, connections over a limit. When
// the underlying Accept fails with anything but a closed listener it
// waits (5 ms doubling up to 1 s, reset by a success) and tries again, so
// that running out of file descriptors does not spin a core.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) || !l.backOff(err) {
				return nil, err
			}
			continue
		}
		l.mu.Lock()
		l.wait = 0
		l.mu.Unlock()
		if lc, ok := l.admit(c); ok {
			return lc, nil
		}
	}
}

// backOff sleeps after a failed Accept; false when the listener closed
// meanwhile.
func (l *Listener) backOff(err error) bool {
	l.mu.Lock()
	l.wait = min(max(2*l.wait, minAcceptWait), maxAcceptWait)
	d := l.wait
	l.mu.Unlock()
	l.o.Logger.Warn("netlimit: accept failed, retrying", "addr", l.Addr(), "wait", d, "err", err)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-l.done:
		return false
	}
}

// admit counts c in, or closes it when a limit is reached.
func (l *Listener) admit(c net.Conn) (net.Conn, bool) {
	src := sourceOf(c.RemoteAddr())
	l.mu.Lock()
	switch {
	case l.o.MaxConns > 0 && l.open >= l.o.MaxConns:
		l.drops++
		l.mu.Unlock()
		l.o.Logger.Warn("netlimit: connection limit reached, closing", "addr", l.Addr(), "remote", c.RemoteAddr(), "limit", l.o.MaxConns)
		_ = c.Close()
		return nil, false
	case l.o.MaxPerSource > 0 && l.per[src] >= l.o.MaxPerSource:
		l.drops++
		l.mu.Unlock()
		l.o.Logger.Warn("netlimit: per-source connection limit reached, closing", "addr", l.Addr(), "remote", c.RemoteAddr(), "limit", l.o.MaxPerSource)
		_ = c.Close()
		return nil, false
	}
	l.open++
	l.per[src]++
	l.mu.Unlock()
	return &conn{Conn: c, l: l, src: src}, true
}

func (l *Listener) release(src netip.Prefix) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.open--
	if l.per[src]--; l.per[src] <= 0 {
		delete(l.per, src)
	}
}

// Close closes the underlying listener and ends a back-off wait.
// Connections already accepted stay open.
func (l *Listener) Close() error {
	l.once.Do(func() { close(l.done) })
	return l.Listener.Close()
}

// Stats reports the connections open now and how many were refused so far.
func (l *Listener) Stats() (open int, refused uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.open, l.drops
}

// sourceOf is the key a connection's source is counted under: its IPv4
// address, or its IPv6 /64; non-IP addresses (Unix sockets) share one key.
func sourceOf(a net.Addr) netip.Prefix {
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.Prefix{}
	}
	ip := ap.Addr().Unmap()
	bits := 32
	if ip.Is6() {
		bits = 64
	}
	p, _ := ip.Prefix(bits)
	return p
}

// conn gives its slot back once, when closed.
type conn struct {
	net.Conn
	l    *Listener
	src  netip.Prefix
	once sync.Once
}

func (c *conn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.release(c.src) })
	return err
}
