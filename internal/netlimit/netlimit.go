package netlimit

import (
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
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

	mu     sync.Mutex
	open   int
	per    map[netip.Prefix]int
	conns  map[*conn]struct{} // open connections, for eviction
	wait   time.Duration      // current Accept back-off
	drops  uint64             // connections refused or evicted, for Stats
	serial uint64             // accept order
	// Refusals are logged at most once per logEvery, with how many
	// went unlogged since: a flood must not flood the log too.
	lastLog  time.Time
	unlogged uint64
}

// logEvery is the least time between two log lines about refusals.
const logEvery = time.Second

// Wrap returns ln with the limits of o.
func Wrap(ln net.Listener, o *Options) *Listener {
	l := &Listener{Listener: ln, done: make(chan struct{}), per: make(map[netip.Prefix]int), conns: make(map[*conn]struct{})}
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

// admit counts c in, or closes it when a limit is reached. When the
// listener is full but not c's source, the oldest connection of the
// busiest source that has not sent a byte yet makes room (see evictable).
func (l *Listener) admit(c net.Conn) (net.Conn, bool) {
	src := sourceOf(c.RemoteAddr())
	l.mu.Lock()
	if l.o.MaxPerSource > 0 && l.per[src] >= l.o.MaxPerSource {
		l.drops++
		more, log := l.shouldLogLocked()
		l.mu.Unlock()
		if log {
			l.o.Logger.Warn("netlimit: per-source connection limit reached, closing", "addr", l.Addr(), "remote", c.RemoteAddr(),
				"limit", l.o.MaxPerSource, "unlogged", more)
		}
		_ = c.Close()
		return nil, false
	}
	var victim *conn
	if l.o.MaxConns > 0 && l.open >= l.o.MaxConns {
		if victim = l.evictable(src); victim == nil {
			l.drops++
			more, log := l.shouldLogLocked()
			l.mu.Unlock()
			if log {
				l.o.Logger.Warn("netlimit: connection limit reached, closing", "addr", l.Addr(), "remote", c.RemoteAddr(),
					"limit", l.o.MaxConns, "unlogged", more)
			}
			_ = c.Close()
			return nil, false
		}
		l.drops++
		l.forgetLocked(victim) // its slot is c's from now on
	}
	l.open++
	l.per[src]++
	l.serial++
	lc := &conn{Conn: c, l: l, src: src, serial: l.serial}
	l.conns[lc] = struct{}{}
	var more uint64
	log := false
	if victim != nil {
		more, log = l.shouldLogLocked()
	}
	l.mu.Unlock()
	if log {
		l.o.Logger.Warn("netlimit: connection limit reached, closing a silent connection to make room", "addr", l.Addr(),
			"closed", victim.RemoteAddr(), "for", c.RemoteAddr(), "limit", l.o.MaxConns, "unlogged", more)
	}
	if victim != nil {
		_ = victim.Conn.Close()
	}
	return lc, true
}

// shouldLogLocked reports whether a refusal may be logged now and how
// many were not since the last line; l.mu is held.
func (l *Listener) shouldLogLocked() (unlogged uint64, ok bool) {
	now := time.Now()
	if now.Sub(l.lastLog) < logEvery {
		l.unlogged++
		return 0, false
	}
	unlogged, l.unlogged, l.lastLog = l.unlogged, 0, now
	return unlogged, true
}

// evictable returns the connection to close for one from src when the
// listener is full: among those that have not sent a byte (a client that
// means to talk speaks at once; idle sockets are what exhausts a server),
// the oldest of the source holding the most connections, if that source
// holds more than src does. nil when there is none. l.mu is held.
func (l *Listener) evictable(src netip.Prefix) *conn {
	var best *conn
	for c := range l.conns {
		if c.active.Load() || l.per[c.src] <= l.per[src] {
			continue
		}
		if best == nil || l.per[c.src] > l.per[best.src] || l.per[c.src] == l.per[best.src] && c.serial < best.serial {
			best = c
		}
	}
	return best
}

// forgetLocked takes c out of the counts; l.mu is held.
func (l *Listener) forgetLocked(c *conn) {
	if _, ok := l.conns[c]; !ok {
		return
	}
	delete(l.conns, c)
	l.open--
	if l.per[c.src]--; l.per[c.src] <= 0 {
		delete(l.per, c.src)
	}
}

func (l *Listener) release(c *conn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.forgetLocked(c)
}

// Close closes the underlying listener and ends a back-off wait.
// Connections already accepted stay open.
func (l *Listener) Close() error {
	l.once.Do(func() { close(l.done) })
	return l.Listener.Close()
}

// Stats reports the connections open now and how many were refused or
// closed to make room so far.
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

// conn gives its slot back when closed, and notes its first byte read.
type conn struct {
	net.Conn
	l      *Listener
	src    netip.Prefix
	serial uint64
	active atomic.Bool // a byte has been read
}

func (c *conn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 && !c.active.Load() {
		c.active.Store(true)
	}
	return n, err
}

func (c *conn) Close() error {
	err := c.Conn.Close()
	c.l.release(c)
	return err
}
