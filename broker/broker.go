package broker

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"
)

// ErrClosed is returned by Start on a Broker that was closed.
var ErrClosed = errors.New("broker: closed")

// Addrs are the addresses a started Broker listens on.
type Addrs struct {
	TCP       string // "127.0.0.1:54321"
	TLS       string // the TLSAddr listener's; empty without one
	WebSocket string // empty without a WebSocket listener
}

// Broker is an embedded MQTT 5 and 3.1.1 server (mochi-mqtt) with USP
// authentication and topic ACLs. Its methods are safe for concurrent use.
//
// Lock order: Broker.mu is never held while calling into mochi.
type Broker struct {
	cfg    *config
	log    *slog.Logger
	srv    *mqtt.Server
	ctx    context.Context // ends at Close; bounds connection work
	cancel context.CancelFunc

	mu      sync.Mutex
	started bool
	closed  bool
	addrs   Addrs
	tcp     net.Listener
	tlsLn   net.Listener // the TLSAddr listener, or nil
	ws      *http.Server
	conns   map[*conn]struct{}
	wg      sync.WaitGroup // accept loops, HTTP server, summaries, one per conn
	closeMu sync.Once
	unwatch func() // stops watching cfg.Accounts

	throttle *loginThrottle // nil when off
	sum      *summaries
	stats    stats
}

// New checks o and makes a Broker; Start (or Serve) opens its listeners.
// A nil o means all defaults.
func New(o *Options) (*Broker, error) {
	cfg, err := newConfig(o)
	if err != nil {
		return nil, err
	}
	caps := mqtt.NewDefaultServerCapabilities()
	caps.MaximumPacketSize = cfg.MaxPacketSize
	caps.MaximumClientWritesPending = int32(min(cfg.MaxQueued, math.MaxInt32))
	caps.MaximumClients = math.MaxInt64
	if cfg.MaxClients > 0 {
		caps.MaximumClients = int64(cfg.MaxClients)
	}
	caps.MaximumInflight = uint16(cfg.SessionQueue)
	caps.ReceiveMaximum = cfg.ReceiveMaximum
	caps.MaximumSessionExpiryInterval = uint32(min(cfg.MaxSessionExpiry/time.Second, math.MaxUint32))
	if cfg.MaxRetained < 0 {
		caps.RetainAvailable = 0
	}
	srv := mqtt.New(&mqtt.Options{
		Capabilities:           caps,
		Logger:                 cfg.Logger,
		SysTopicResendInterval: sysInterval,
	})
	ctx, cancel := context.WithCancel(context.Background())
	b := &Broker{cfg: cfg, log: cfg.Logger, srv: srv, ctx: ctx, cancel: cancel, conns: map[*conn]struct{}{},
		sum: newSummaries(cfg.Logger)}
	if cfg.LoginFailures > 0 {
		b.throttle = newLoginThrottle(cfg.LoginFailures, cfg.LoginFailureWindow)
	}
	if err := srv.AddHook(&hook{b: b}, nil); err != nil {
		cancel()
		return nil, fmt.Errorf("broker: add hook: %w", err)
	}
	return b, nil
}

// sysInterval is how often, in seconds, mochi refreshes $SYS topics.
const sysInterval = 10

// Start opens the listeners and starts serving; it returns once they are
// listening, so Addrs is then valid. ctx bounds only the opening.
func (b *Broker) Start(ctx context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.closed:
		return ErrClosed
	case b.started:
		return errors.New("broker: already started")
	}
	var lc net.ListenConfig
	tcp, err := lc.Listen(ctx, "tcp", b.cfg.Addr)
	if err != nil {
		return fmt.Errorf("broker: listen: %w", err)
	}
	var ws, tl net.Listener
	closeAll := func() {
		for _, l := range []net.Listener{tcp, tl, ws} {
			if l != nil {
				l.Close()
			}
		}
	}
	if b.cfg.TLSAddr != "" {
		if tl, err = lc.Listen(ctx, "tcp", b.cfg.TLSAddr); err != nil {
			closeAll()
			return fmt.Errorf("broker: listen tls: %w", err)
		}
	}
	if b.cfg.WebSocketAddr != "" {
		if ws, err = lc.Listen(ctx, "tcp", b.cfg.WebSocketAddr); err != nil {
			closeAll()
			return fmt.Errorf("broker: listen websocket: %w", err)
		}
	}
	if err := b.register(tcp, tl, ws); err != nil {
		closeAll()
		return err
	}
	b.started, b.tcp, b.tlsLn = true, tcp, tl
	b.addrs.TCP = tcp.Addr().String()
	if b.cfg.Accounts != nil {
		b.unwatch = b.cfg.Accounts.watch(b.recheck)
	}
	b.wg.Add(2)
	go b.summarize()
	if tl == nil {
		go b.acceptLoop(tcp, listenerTCP, b.cfg.TLS)
	} else {
		go b.acceptLoop(tcp, listenerTCP, nil)
		b.wg.Add(1)
		go b.acceptLoop(tl, listenerTLS, b.cfg.TLS)
		b.addrs.TLS = tl.Addr().String()
	}
	if ws != nil {
		b.addrs.WebSocket = ws.Addr().String()
		b.serveHTTP(ws)
	}
	b.log.Info("MQTT broker listening", "tcp", b.addrs.TCP, "tls", b.cfg.TLS != nil, "tls_addr", b.addrs.TLS, "websocket", b.addrs.WebSocket)
	return nil
}

// register tells mochi about the listeners (so that it disconnects their
// clients on Close) and starts its event loop.
func (b *Broker) register(tcp, tl, ws net.Listener) error {
	proto := "tcp"
	if b.cfg.TLS != nil && tl == nil {
		proto = "tls"
	}
	ls := []*listenerRef{{b: b, id: listenerTCP, proto: proto, addr: tcp.Addr().String()}}
	if tl != nil {
		ls = append(ls, &listenerRef{b: b, id: listenerTLS, proto: "tls", addr: tl.Addr().String()})
	}
	if ws != nil {
		proto = "ws"
		if b.cfg.WebSocketTLS != nil {
			proto = "wss"
		}
		ls = append(ls, &listenerRef{b: b, id: listenerWS, proto: proto, addr: ws.Addr().String()})
	}
	for _, l := range ls {
		if err := b.srv.AddListener(l); err != nil {
			return fmt.Errorf("broker: add listener: %w", err)
		}
	}
	if err := b.srv.Serve(); err != nil {
		return fmt.Errorf("broker: start: %w", err)
	}
	return nil
}

func (b *Broker) serveHTTP(ln net.Listener) {
	if b.cfg.WebSocketTLS != nil {
		ln = tls.NewListener(ln, b.cfg.WebSocketTLS)
	}
	b.ws = &http.Server{
		Handler:           http.HandlerFunc(b.serveWS),
		ReadHeaderTimeout: b.cfg.ConnectTimeout,
		ErrorLog:          slog.NewLogLogger(b.log.Handler(), slog.LevelDebug),
		BaseContext:       func(net.Listener) context.Context { return b.ctx },
	}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		if err := b.ws.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			b.log.Error("WebSocket listener failed", "error", err)
		}
	}()
}

// Serve starts the Broker, serves until ctx is done and then closes it.
// It returns Start's error, or nil.
func (b *Broker) Serve(ctx context.Context) error {
	if err := b.Start(ctx); err != nil {
		return err
	}
	select {
	case <-ctx.Done():
	case <-b.ctx.Done(): // closed by someone else
	}
	return b.Close()
}

// Addrs reports the listening addresses; zero before Start.
func (b *Broker) Addrs() Addrs {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.addrs
}

// Connected is the number of clients with an established session.
func (b *Broker) Connected() int {
	return int(atomic.LoadInt64(&b.srv.Info.ClientsConnected))
}

// Close disconnects every client (MQTT 5 clients get DISCONNECT "server
// shutting down"), closes the listeners and waits for all the Broker's
// goroutines. The ports are free when it returns. It is idempotent.
func (b *Broker) Close() error {
	b.closeMu.Do(func() {
		b.mu.Lock()
		b.closed = true
		started, tcp, tl, ws, unwatch := b.started, b.tcp, b.tlsLn, b.ws, b.unwatch
		b.mu.Unlock()
		if tl != nil {
			tl.Close()
		}
		if unwatch != nil {
			unwatch()
		}
		b.cancel()
		if tcp != nil {
			tcp.Close()
		}
		if ws != nil {
			ws.Close()
		}
		if started {
			b.drain()
		}
		if started && !b.closeServer() {
			// mochi is stuck; the connections are cut below, and its
			// goroutines are left to the process's end.
			b.killAll()
			b.log.Error("MQTT broker did not close within the time limit; connections cut", "limit", closeLimit)
			return
		}
		b.killAll()
		b.wg.Wait()
		b.log.Info("MQTT broker closed")
	})
	return nil
}

// drain ends every client session before mochi's Close, which can
// deadlock when a session ends while it lists the listener's clients (see
// closeLimit): MQTT 5 clients get DISCONNECT "server shutting down", then
// every connection is cut and the Broker's goroutines are waited for, at
// most closeLimit. The listeners are closed already, so no session starts
// meanwhile.
func (b *Broker) drain() {
	for _, cl := range b.srv.Clients.GetAll() {
		if !cl.Closed() {
			_ = b.srv.DisconnectClient(cl, packets.ErrServerShuttingDown)
		}
	}
	b.killAll()
	done := make(chan struct{})
	go func() {
		b.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(closeLimit):
	}
}

// closeLimit bounds mochi's Close. mochi-mqtt v2.7.9 can deadlock there
// when a client is being added while Close lists the listener's clients
// (a read lock taken twice in Clients.GetByListener with a writer waiting
// between, mochi-mqtt/server#488).
const closeLimit = 5 * time.Second

// closeServer closes mochi, which disconnects the clients (MQTT 5 ones
// with "server shutting down"); false if it did not return in closeLimit.
func (b *Broker) closeServer() bool {
	done := make(chan struct{})
	go func() {
		defer close(done)
		b.srv.Close()
	}()
	select {
	case <-done:
		return true
	case <-time.After(closeLimit):
		return false
	}
}

func (b *Broker) closing() bool {
	return b.ctx.Err() != nil
}

// track registers a connection; false if the Broker is closing or has
// MaxClients+MaxPending connections already.
func (b *Broker) track(c *conn) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return false
	}
	if b.cfg.MaxClients > 0 && b.cfg.MaxPending > 0 && len(b.conns) >= b.cfg.MaxClients+b.cfg.MaxPending {
		return false
	}
	b.conns[c] = struct{}{}
	b.wg.Add(1)
	return true
}

func (b *Broker) untrack(c *conn) {
	b.mu.Lock()
	delete(b.conns, c)
	b.mu.Unlock()
	c.kill()
	b.wg.Done()
}

// killAll closes every connection, including ones still before CONNECT.
func (b *Broker) killAll() {
	b.mu.Lock()
	cs := make([]*conn, 0, len(b.conns))
	for c := range b.conns {
		cs = append(cs, c)
	}
	b.mu.Unlock()
	for _, c := range cs {
		c.kill()
	}
}

// listenerRef stands for one of our listeners in mochi's list. We accept
// connections ourselves (to know the real address, report bind errors at
// once and bound the time to CONNECT); mochi only needs it to close.
type listenerRef struct {
	b               *Broker
	id, proto, addr string
}

var _ listeners.Listener = (*listenerRef)(nil)

func (l *listenerRef) Init(*slog.Logger) error     { return nil }
func (l *listenerRef) Serve(listeners.EstablishFn) {}
func (l *listenerRef) ID() string                  { return l.id }
func (l *listenerRef) Address() string             { return l.addr }
func (l *listenerRef) Protocol() string            { return l.proto }

// Close disconnects the listener's clients, then drops every connection
// still opening, so that mochi's wait for its clients ends at once.
func (l *listenerRef) Close(closeClients listeners.CloseFn) {
	closeClients(l.id)
	l.b.killAll()
}
