package uds

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/uspkit/uspkit/mtp"
)

// Server is the Unix domain socket server side of the MTP: it listens on
// Options.Path [R-UDS.2], accepts every client [R-UDS.3], answers each
// client's Handshake with its own [R-UDS.17] and then exchanges Records
// with it. Send addresses a client by the Endpoint ID from its Handshake;
// a newer connection with the same Endpoint ID replaces an older one.
//
// A Server is safe for concurrent use.
type Server struct {
	cfg *config
	hs  []byte // our Handshake value

	mu      sync.Mutex
	closed  bool
	serving bool
	ln      net.Listener
	peers   map[string]*conn   // by Endpoint ID, after the Handshake
	conns   map[*conn]struct{} // every open connection
}

// NewServer returns a Server; Serve starts it. opts must set Path and
// EndpointID.
func NewServer(opts *Options) *Server {
	cfg := newConfig(opts)
	return &Server{
		cfg:   cfg,
		hs:    []byte(cfg.EndpointID),
		peers: make(map[string]*conn),
		conns: make(map[*conn]struct{}),
	}
}

// Serve listens on Options.Path and serves clients until ctx is done or
// Close is called, then closes every connection and returns nil. A stale
// socket file that nothing listens on is replaced; the file is removed
// when Serve returns.
func (s *Server) Serve(ctx context.Context, h mtp.Handler) error {
	if err := s.cfg.check(); err != nil {
		return err
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	if s.serving {
		s.mu.Unlock()
		return errors.New("uds: server is already serving")
	}
	s.serving = true
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.serving = false
		s.mu.Unlock()
	}()

	ln, err := listen(s.cfg.Path)
	if err != nil {
		return fmt.Errorf("uds: listen on %s: %w", s.cfg.Path, err)
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		ln.Close()
		return nil
	}
	s.ln = ln
	s.mu.Unlock()
	stop := context.AfterFunc(ctx, s.stop)
	defer stop()
	s.cfg.log.Info("uds: listening", "path", s.cfg.Path)
	return s.accept(ctx, ln, h)
}

// accept runs the accept loop, then waits for every connection to end.
func (s *Server) accept(ctx context.Context, ln net.Listener, h mtp.Handler) error {
	var wg sync.WaitGroup
	defer func() {
		s.stop()
		wg.Wait()
	}()
	var pause time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			// Out of file descriptors and the like: wait and go on.
			pause = min(max(2*pause, 5*time.Millisecond), time.Second)
			s.cfg.log.Warn("uds: accept", "err", err, "retry_in", pause)
			select {
			case <-time.After(pause):
				continue
			case <-ctx.Done():
				return nil
			}
		}
		pause = 0
		c := newConn(s.cfg, nc)
		if !s.track(c) {
			nc.Close()
			continue
		}
		wg.Go(func() { s.handle(ctx, c, h) })
	}
}

// stop closes the listener, which removes the socket file, and every
// connection. Whoever calls it, all are closed when it returns, so a new
// Server may listen on the same path at once.
func (s *Server) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln != nil {
		s.ln.Close()
		s.ln = nil
	}
	for c := range s.conns {
		c.close()
	}
}

// track records an open connection; false means the server is stopping.
func (s *Server) track(c *conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.ln == nil {
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

// handle runs one client connection to its end.
func (s *Server) handle(ctx context.Context, c *conn, h mtp.Handler) {
	err := c.run(ctx, h, func(eid string) error { return s.up(ctx, c, eid) })
	c.close()
	s.mu.Lock()
	delete(s.conns, c)
	if c.up && s.peers[c.peer.EndpointID] == c {
		delete(s.peers, c.peer.EndpointID)
	}
	s.mu.Unlock()
	if c.up {
		s.cfg.log.Info("uds: client gone", "peer", c.peer.EndpointID, "err", err)
		s.state(ctx, c.peer, mtp.StateDown, err)
	}
}

// up answers a client's Handshake and makes the client reachable.
func (s *Server) up(ctx context.Context, c *conn, eid string) error {
	// [R-UDS.17] the server's Handshake answers the client's.
	if err := c.writeFrame(ctx, TypeHandshake, s.hs); err != nil {
		return err
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return mtp.ErrClosed
	}
	old := s.peers[eid]
	s.peers[eid] = c
	s.mu.Unlock()
	if old != nil {
		s.cfg.log.Info("uds: new connection replaces old one", "peer", eid)
		old.close()
	}
	s.cfg.log.Info("uds: client up", "peer", eid)
	s.state(ctx, c.peer, mtp.StateUp, nil)
	return nil
}

func (s *Server) state(ctx context.Context, p mtp.Peer, st mtp.State, err error) {
	if s.cfg.OnState != nil {
		s.cfg.OnState(ctx, p, st, err)
	}
}

// Send writes rec to the client whose Handshake gave Endpoint ID addr. It
// fails with mtp.ErrNoPeer when no such client is connected, with
// mtp.ErrTooLarge for a Record over Options.MaxRecord and with
// mtp.ErrClosed after Close.
func (s *Server) Send(ctx context.Context, addr string, rec []byte) error {
	s.mu.Lock()
	closed, c := s.closed, s.peers[addr]
	s.mu.Unlock()
	switch {
	case closed:
		return fmt.Errorf("uds: send: %w", mtp.ErrClosed)
	case len(rec) > s.cfg.MaxRecord:
		return fmt.Errorf("uds: send %d bytes, limit %d: %w", len(rec), s.cfg.MaxRecord, mtp.ErrTooLarge)
	case c == nil:
		return fmt.Errorf("uds: send to %q: %w", addr, mtp.ErrNoPeer)
	}
	// [R-UDS.22] a Record goes in a Type 3 field.
	if err := c.writeFrame(ctx, TypeRecord, rec); err != nil {
		if s.isClosed() {
			return fmt.Errorf("uds: send: %w", mtp.ErrClosed)
		}
		return fmt.Errorf("uds: send to %q: %w", addr, err)
	}
	return nil
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// Close stops Serve and closes every connection. It is safe to call more
// than once.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	s.stop()
	return nil
}

// listen listens on path, first removing a socket file left behind by a
// process that is gone (one that refuses connections).
func listen(path string) (net.Listener, error) {
	ln, err := net.Listen("unix", path)
	if err == nil || !errors.Is(err, syscall.EADDRINUSE) {
		return ln, err
	}
	fi, serr := os.Lstat(path)
	if serr != nil || fi.Mode()&os.ModeSocket == 0 {
		return nil, err
	}
	c, derr := net.DialTimeout("unix", path, time.Second)
	if derr == nil {
		c.Close()
		return nil, err // someone is serving there
	}
	if !errors.Is(derr, syscall.ECONNREFUSED) {
		return nil, err
	}
	if rerr := os.Remove(path); rerr != nil {
		return nil, err
	}
	return net.Listen("unix", path)
}

var _ mtp.Transport = (*Server)(nil)
