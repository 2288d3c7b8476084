package ws

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"

	"github.com/coder/websocket"

	"github.com/uspkit/uspkit/endpoint"
	"github.com/uspkit/uspkit/internal/netlimit"
	"github.com/uspkit/uspkit/mtp"
)

// maxHeaderBytes bounds a handshake request's header; a USP client sends
// a few hundred bytes.
const maxHeaderBytes = 16 << 10

// Server is the WebSocket server role of the MTP [R-WS.6]: an http.Handler
// that upgrades USP clients' requests, keeps at most one session per peer
// Endpoint ID [R-WS.4], and sends to a peer by its Endpoint ID.
//
// Records from all connections reach the Handler given to Serve; calls for
// one connection come one at a time, calls for different connections
// concurrently. A Server is safe for concurrent use.
//
// Lock order: Server.mu is never held while doing I/O or calling out.
type Server struct {
	o   Options
	log *slog.Logger
	ln  net.Listener // set by Listen

	mu       sync.Mutex
	serving  bool
	closed   bool
	ctx      context.Context // Serve's; handed to the Handler
	h        mtp.Handler
	hs       *http.Server       // when serving ln
	peers    map[string]*link   // by Endpoint ID
	live     map[*link]struct{} // every open connection, replaced ones too
	done     chan struct{}      // closed when Close starts
	closeEnd chan struct{}      // closed when Close has finished
	conns    sync.WaitGroup     // ServeHTTP calls past the upgrade
}

// NewServer returns a Server to mount on an http.ServeMux or http.Server
// of the caller's; it accepts upgrades only while Serve runs (503 before
// and after). The caller's server does TLS; Options.TLS is ignored.
func NewServer(o *Options) *Server {
	s := &Server{o: o.withDefaults(), done: make(chan struct{}), closeEnd: make(chan struct{}),
		peers: make(map[string]*link), live: make(map[*link]struct{})}
	s.log = s.o.Logger
	return s
}

// Listen returns a Server listening on addr ("127.0.0.1:0", ":4443"); its
// Serve serves HTTP there. With Options.TLS it listens for TLS.
func Listen(ctx context.Context, addr string, o *Options) (*Server, error) {
	var lc net.ListenConfig
	tcp, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("ws: listen: %w", err)
	}
	s := NewServer(o)
	var ln net.Listener = netlimit.Wrap(tcp, &netlimit.Options{MaxConns: s.o.MaxConns, MaxPerSource: s.o.MaxConnsPerSource, Logger: s.log})
	ln = corkListener{ln} // under TLS: one write may carry several records
	if s.o.TLS != nil {
		cfg := s.o.TLS.Clone()
		cfg.NextProtos = []string{"http/1.1"} // an upgrade needs HTTP/1.1
		ln = tls.NewListener(ln, cfg)
	}
	s.ln = ln
	return s, nil
}

// Addr returns the listening address of a Server made by Listen, else nil.
func (s *Server) Addr() net.Addr {
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

// Serve accepts connections and hands their Records to h until ctx is done
// or Close is called, then closes the Server and every connection and
// returns nil; it returns an error only when the listener fails.
func (s *Server) Serve(ctx context.Context, h mtp.Handler) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	if s.serving {
		s.mu.Unlock()
		return errors.New("ws: Serve called twice")
	}
	s.serving, s.ctx, s.h = true, ctx, h
	errc := make(chan error, 1)
	if s.ln != nil {
		// Until the upgrade, every phase of the handshake is bounded; the
		// upgrade clears the deadlines and keep-alives take over [R-WS.17].
		t := s.o.HandshakeTimeout
		s.hs = &http.Server{Handler: s, ReadHeaderTimeout: t, ReadTimeout: t, WriteTimeout: t, IdleTimeout: t,
			MaxHeaderBytes: maxHeaderBytes,
			ErrorLog:       slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
			ConnContext: func(ctx context.Context, c net.Conn) context.Context {
				return context.WithValue(ctx, corkKey{}, c)
			}}
		go func(hs *http.Server) { errc <- hs.Serve(s.ln) }(s.hs)
	}
	s.mu.Unlock()

	var err error
	select {
	case <-ctx.Done():
	case <-s.done:
	case err = <-errc:
	}
	_ = s.Close()
	if s.ln != nil && err == nil {
		err = <-errc
	}
	s.conns.Wait()
	if errors.Is(err, http.ErrServerClosed) || errors.Is(err, net.ErrClosed) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("ws: serve: %w", err)
	}
	return nil
}

// Send writes rec to the connection of the peer whose Endpoint ID is addr.
// A ctx deadline bounds the write; a ctx without one is checked before it
// (see Options.PingInterval for what ends a write the peer does not read).
func (s *Server) Send(ctx context.Context, addr string, rec []byte) error {
	if len(rec) > s.o.MaxRecord {
		return fmt.Errorf("ws: record of %d bytes, limit %d: %w", len(rec), s.o.MaxRecord, mtp.ErrTooLarge)
	}
	s.mu.Lock()
	closed, l := s.closed, s.peers[addr]
	s.mu.Unlock()
	switch {
	case closed:
		return fmt.Errorf("ws: send: %w", mtp.ErrClosed)
	case l == nil:
		return fmt.Errorf("ws: send to %q: %w", addr, mtp.ErrNoPeer)
	}
	if err := l.write(ctx, rec); err != nil {
		if s.isClosed() {
			return fmt.Errorf("ws: send: %w", mtp.ErrClosed)
		}
		return fmt.Errorf("ws: send to %q: %w", addr, err)
	}
	return nil
}

// Close stops accepting, closes every connection with status 1001 and
// waits for their close handshakes (a second Close waits for the first).
// It is safe to call more than once, and from a Handler.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		<-s.closeEnd
		return nil
	}
	defer close(s.closeEnd)
	s.closed = true
	close(s.done)
	hs := s.hs
	links := make([]*link, 0, len(s.live))
	for l := range s.live {
		links = append(links, l)
	}
	s.mu.Unlock()
	if hs != nil {
		_ = hs.Close() // closes the listener and connections not yet upgraded
	} else if s.ln != nil {
		_ = s.ln.Close()
	}
	var wg sync.WaitGroup
	for _, l := range links {
		wg.Go(func() { l.close(websocket.StatusGoingAway, "server closing") })
	}
	wg.Wait()
	return nil
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// ServeHTTP upgrades a USP client's request and serves the connection
// until it ends. It refuses, with an HTTP error, requests that do not ask
// for the v1.usp subprotocol [R-WS.12a] and requests with no Endpoint ID.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.ln != nil && s.o.Path != "" && r.URL.Path != s.o.Path {
		http.NotFound(w, r)
		return
	}
	if !offersSubprotocol(r.Header) {
		http.Error(w, "Sec-WebSocket-Protocol must offer "+Subprotocol+" (TR-369 R-WS.12a)", http.StatusBadRequest)
		return
	}
	peer, offered := requestPeer(r)
	if !validEID(peer.EndpointID) {
		http.Error(w, "no valid Endpoint ID: add eid=<Endpoint ID> to the request URI query (TR-369 R-WS.10b)", http.StatusBadRequest)
		return
	}
	if err := endpoint.Validate(peer.EndpointID); err != nil { // [R-ARC.2a]
		s.log.Info("ws: handshake with an invalid Endpoint ID", "remote", r.RemoteAddr, "err", err)
		http.Error(w, "invalid Endpoint ID (TR-369 R-ARC.2a)", http.StatusBadRequest)
		return
	}
	if status, why := s.authenticate(r, &peer); status != 0 {
		if status == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `Basic realm="usp"`)
		}
		http.Error(w, why, status)
		return
	}
	ctx, h, ok := s.enter()
	if !ok {
		http.Error(w, "USP WebSocket server not serving", http.StatusServiceUnavailable)
		return
	}
	defer s.conns.Done()
	if s.hijacks(peer) {
		http.Error(w, "an authenticated session of this Endpoint ID is open; only the same Endpoint, authenticated, may replace it", http.StatusConflict)
		return
	}
	if offered && validEID(s.o.EndpointID) {
		w.Header().Set(hdrExtensions, formatExtension(s.o.EndpointID)) // [R-WS.11a]
	}
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{Subprotocol}})
	if err != nil {
		s.log.Info("ws: upgrade failed", "remote", r.RemoteAddr, "err", err)
		return
	}
	var cork *corkConn
	if nc, ok := r.Context().Value(corkKey{}).(net.Conn); ok {
		cork = corkOf(nc)
	}
	s.run(ctx, h, newLink(c, peer, &s.o, cork))
}

// enter counts one more connection, if the Server is serving.
func (s *Server) enter() (context.Context, mtp.Handler, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.serving || s.closed {
		return nil, nil, false
	}
	s.conns.Add(1)
	return s.ctx, s.h, true
}

// run registers l as its peer's session, serves it and unregisters it.
func (s *Server) run(ctx context.Context, h mtp.Handler, l *link) {
	old, ok := s.register(l)
	if !ok {
		if old != nil {
			l.close(websocket.StatusPolicyViolation, "an authenticated session of this Endpoint ID is open")
			return
		}
		l.close(websocket.StatusGoingAway, "server closing")
		return
	}
	if old != nil {
		// [R-WS.4]: at most one session per pair of Endpoints; the newest wins.
		l.log.Info("ws: peer connected again, closing its older session")
		s.conns.Add(1)
		go func() {
			defer s.conns.Done()
			old.close(websocket.StatusNormalClosure, "replaced by a newer session")
		}()
	}
	l.log.Info("ws: peer connected")
	s.state(ctx, l.peer, mtp.StateUp, nil)
	err := l.serve(ctx, h)
	replaced := s.unregister(l)
	if replaced {
		err = fmt.Errorf("%w (%v)", ErrReplaced, err)
	}
	l.log.Info("ws: peer disconnected", "err", err)
	s.state(ctx, l.peer, mtp.StateDown, err)
}

// hijacks reports whether a client claiming p's Endpoint ID would replace
// an authenticated session without being authenticated itself: anyone
// could otherwise knock an Agent off by claiming its Endpoint ID.
func (s *Server) hijacks(p mtp.Peer) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.peers[p.EndpointID]
	return old != nil && old.peer.Authenticated && !p.Authenticated
}

// register makes l its peer's session. It refuses (ok false) when the
// Server is closed, or when l would replace an authenticated session
// without being authenticated (old not nil).
func (s *Server) register(l *link) (old *link, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, false
	}
	old = s.peers[l.peer.EndpointID]
	if old != nil && old.peer.Authenticated && !l.peer.Authenticated {
		return old, false // see hijacks
	}
	s.peers[l.peer.EndpointID] = l
	s.live[l] = struct{}{}
	return old, true
}

// unregister forgets l and reports whether a newer session replaced it.
func (s *Server) unregister(l *link) (replaced bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.live, l)
	if s.peers[l.peer.EndpointID] == l {
		delete(s.peers, l.peer.EndpointID)
		return false
	}
	return !s.closed
}

func (s *Server) state(ctx context.Context, p mtp.Peer, st mtp.State, err error) {
	if s.o.OnState != nil {
		s.o.OnState(ctx, p, st, err)
	}
}

// offersSubprotocol reports whether a handshake request offers v1.usp.
func offersSubprotocol(h http.Header) bool {
	for _, v := range h.Values("Sec-WebSocket-Protocol") {
		for p := range strings.SplitSeq(v, ",") {
			if strings.TrimSpace(p) == Subprotocol {
				return true
			}
		}
	}
	return false
}

// requestPeer identifies the client of a handshake request: by the eid
// query parameter [R-WS.10b]; failing that by the deprecated
// bbf-usp-protocol extension [R-WS.10a], whose absence is no error
// [R-WS.11c]; failing that by the urn:bbf:usp:id URI of a verified client
// certificate. offered reports that the request carried the extension.
func requestPeer(r *http.Request) (p mtp.Peer, offered bool) {
	p.Certs = verifiedChain(r.TLS)
	extEID, offered := extensionEID(r.Header.Values(hdrExtensions))
	p.EndpointID = r.URL.Query().Get(extParamEID)
	if p.EndpointID == "" {
		p.EndpointID = extEID
	}
	if p.EndpointID == "" {
		p.EndpointID = certEndpointID(p.Certs)
	}
	p.Address = p.EndpointID
	return p, offered
}
