package ws

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/uspkit/uspkit/endpoint"
	"github.com/uspkit/uspkit/mtp"
)

// Errors that end a connection, wrapped in what OnState is told.
var (
	// ErrTextFrame: the peer sent a text message; the connection was
	// closed with status 1003 [R-WS.14], [R-WS.16].
	ErrTextFrame = errors.New("ws: text message; USP Records travel in binary messages")
	// ErrRejected: the layer above could not extract a Record (see
	// mtp.Inbound.Reject); the connection was closed with status 1003
	// [R-WS.16].
	ErrRejected = errors.New("record rejected")
	// ErrPingTimeout: the peer did not answer a Ping in time [R-WS.17].
	ErrPingTimeout = errors.New("ws: no pong from peer")
	// ErrReplaced: the peer's Endpoint ID connected again and the new
	// session replaced this one [R-WS.4].
	ErrReplaced = errors.New("ws: replaced by a newer session of the same endpoint")
)

// link is one established WebSocket connection carrying USP Records.
type link struct {
	ws   *websocket.Conn
	peer mtp.Peer
	o    *Options
	log  *slog.Logger

	rejectFn func(string) // l.reject, made once
	rejected string       // why the last Record was rejected, if it was
}

func newLink(c *websocket.Conn, peer mtp.Peer, o *Options) *link {
	c.SetReadLimit(int64(o.MaxRecord))
	l := &link{ws: c, peer: peer, o: o,
		log: o.Logger.With("peer", peer.EndpointID, "addr", peer.Address)}
	l.rejectFn = l.reject
	return l
}

// reject notes that the handler could not extract the Record; read then
// closes the connection with 1003 [R-WS.16]. Only read's goroutine calls
// it, through the handler.
func (l *link) reject(reason string) {
	if reason == "" {
		reason = "USP Record cannot be extracted"
	}
	l.rejected = reason
}

// serve hands every Record read to h, with ctx, until the connection ends,
// and pings the peer meanwhile. It returns why the connection ended.
func (l *link) serve(ctx context.Context, h mtp.Handler) error {
	pctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	pingErr := make(chan error, 1)
	if l.o.PingInterval > 0 {
		wg.Go(func() { pingErr <- l.keepAlive(pctx) })
	}
	err := l.read(ctx, h)
	stop()
	wg.Wait()
	select {
	case perr := <-pingErr:
		if perr != nil {
			err = perr
		}
	default:
	}
	_ = l.ws.CloseNow() // a no-op when a close handshake already ran
	return err
}

// read is the receive loop. It reads with a context that is never
// cancelled, since cancelling a read drops the connection without a close
// frame; Close ends it with a proper close handshake instead [R-WS.8].
func (l *link) read(ctx context.Context, h mtp.Handler) error {
	rctx := context.WithoutCancel(ctx)
	var buf []byte
	for {
		typ, r, err := l.ws.Reader(rctx)
		if err != nil {
			return fmt.Errorf("ws: read: %w", err)
		}
		if typ != websocket.MessageBinary {
			// [R-WS.16]: a Record that cannot be extracted closes with 1003.
			_ = l.ws.Close(websocket.StatusUnsupportedData, "USP Records travel in binary messages")
			return ErrTextFrame
		}
		if buf, err = readAll(r, buf[:0]); err != nil {
			if errors.Is(err, websocket.ErrMessageTooBig) {
				// The library has sent the 1009 close frame; finish the handshake.
				_ = l.ws.Close(websocket.StatusMessageTooBig, "")
				return fmt.Errorf("ws: inbound message over %d bytes: %w", l.o.MaxRecord, mtp.ErrTooLarge)
			}
			return fmt.Errorf("ws: read: %w", err)
		}
		l.handle(ctx, h, buf)
		if reason := l.rejected; reason != "" {
			// [R-WS.16]: a Record that cannot be extracted closes with 1003.
			if len(reason) > maxCloseReason {
				reason = reason[:maxCloseReason]
			}
			_ = l.ws.Close(websocket.StatusUnsupportedData, reason)
			return fmt.Errorf("ws: %w: %s", ErrRejected, reason)
		}
	}
}

// maxCloseReason keeps a Close frame's reason within the 123 bytes a
// control frame leaves it [RFC 6455 5.5].
const maxCloseReason = 120

// handle calls h, logging instead of crashing when it panics.
func (l *link) handle(ctx context.Context, h mtp.Handler, rec []byte) {
	defer func() {
		if v := recover(); v != nil {
			l.log.Error("ws: handler panic", "panic", v, "stack", string(debug.Stack()))
		}
	}()
	h.HandleRecord(ctx, mtp.Inbound{Record: rec, From: l.peer, Reject: l.rejectFn})
}

// readAll appends r's content to buf, reusing its backing array.
func readAll(r io.Reader, buf []byte) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// minPongWait is the least time a Pong is waited for, so that a short
// PingInterval does not drop a peer that is merely slow.
const minPongWait = time.Second

// keepAlive pings every PingInterval [R-WS.17] and drops the connection
// when a Pong does not come back within an interval (at least minPongWait).
func (l *link) keepAlive(ctx context.Context) error {
	t := time.NewTicker(l.o.PingInterval)
	defer t.Stop()
	pongWait := max(l.o.PingInterval, minPongWait)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		pctx, cancel := context.WithTimeout(ctx, pongWait)
		err := l.ws.Ping(pctx)
		cancel()
		if err != nil && ctx.Err() == nil {
			l.log.Info("ws: keep-alive failed, dropping connection", "err", err)
			_ = l.ws.CloseNow()
			return fmt.Errorf("%w: %v", ErrPingTimeout, err)
		}
	}
}

// write sends one Record in a binary message [R-WS.14].
func (l *link) write(ctx context.Context, rec []byte) error {
	return l.ws.Write(ctx, websocket.MessageBinary, rec)
}

// close ends the connection with a close handshake [R-WS.8].
func (l *link) close(code websocket.StatusCode, reason string) {
	_ = l.ws.Close(code, reason)
}

// verifiedChain returns the peer's verified certificate chain, leaf first.
func verifiedChain(cs *tls.ConnectionState) []*x509.Certificate {
	if cs == nil || len(cs.VerifiedChains) == 0 {
		return nil
	}
	return cs.VerifiedChains[0]
}

// certEndpointID returns the Endpoint ID in the leaf certificate's
// urn:bbf:usp:id: URI subjectAltName, if it holds exactly one.
func certEndpointID(chain []*x509.Certificate) string {
	if len(chain) == 0 {
		return ""
	}
	var found string
	for _, u := range chain[0].URIs {
		id, err := endpoint.ParseURN(u.String())
		if err != nil {
			continue
		}
		if found != "" {
			return ""
		}
		found = id.String()
	}
	return found
}
