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
	"sync/atomic"
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

	// Set by serve, for the readers.
	ctx context.Context
	h   mtp.Handler

	// The reading goroutine's turn, and what hands it over (handoff.go).
	turn         atomic.Pointer[readerTurn]
	epoch        time.Time
	handOffTimer *time.Timer
	handOffArmed atomic.Bool // handOffTimer is set, or firing
	readEnd      chan error  // the last reader's error, when not serve's own

	// cork, when the connection is one the link's Client or Server
	// made, holds writes while the reader is busy (cork.go); nil: none.
	cork *corkConn
}

func newLink(c *websocket.Conn, peer mtp.Peer, o *Options, cork *corkConn) *link {
	c.SetReadLimit(int64(o.MaxRecord))
	l := &link{ws: c, peer: peer, o: o, epoch: time.Now(), readEnd: make(chan error, 1), cork: cork,
		log: o.Logger.With("peer", peer.EndpointID, "addr", peer.Address)}
	l.turn.Store(newTurn())
	l.handOffTimer = time.AfterFunc(time.Hour, l.handOverReading)
	l.handOffTimer.Stop()
	cork.attach(l)
	return l
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
	l.ctx, l.h = ctx, h
	err := l.readLoop(l.turn.Load())
	if err == errHandedOver {
		err = <-l.readEnd
	}
	l.cork.detach()
	l.handOffTimer.Stop()
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

// readLoop is the receive loop of one reader's turn: it returns
// errHandedOver when a Handler it called handed the reading over to
// another goroutine, else why the connection ended. It reads with a
// context that is never cancelled, since cancelling a read drops the
// connection without a close frame; Close ends it with a proper close
// handshake instead [R-WS.8].
func (l *link) readLoop(t *readerTurn) error {
	rctx := context.WithoutCancel(l.ctx)
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
		if t.buf, err = readAll(r, t.buf[:0]); err != nil {
			if errors.Is(err, websocket.ErrMessageTooBig) {
				// The library has sent the 1009 close frame; finish the handshake.
				_ = l.ws.Close(websocket.StatusMessageTooBig, "")
				return fmt.Errorf("ws: inbound message over %d bytes: %w", l.o.MaxRecord, mtp.ErrTooLarge)
			}
			return fmt.Errorf("ws: read: %w", err)
		}
		t.state.Store(turnInHandler)
		l.handle(l.ctx, l.h, t)
		handedOver := !t.state.CompareAndSwap(turnInHandler, turnReading) && !t.state.CompareAndSwap(turnMayHandOver, turnReading)
		if reason := t.rejected; reason != "" {
			// [R-WS.16]: a Record that cannot be extracted closes with
			// 1003; a reader that took over sees the connection end.
			if len(reason) > maxCloseReason {
				reason = reason[:maxCloseReason]
			}
			_ = l.ws.Close(websocket.StatusUnsupportedData, reason)
			if handedOver {
				return errHandedOver
			}
			return fmt.Errorf("ws: %w: %s", ErrRejected, reason)
		}
		if handedOver {
			return errHandedOver
		}
	}
}

// maxCloseReason keeps a Close frame's reason within the 123 bytes a
// control frame leaves it [RFC 6455 5.5].
const maxCloseReason = 120

// handle calls h with the turn's Record, logging instead of crashing when
// it panics.
func (l *link) handle(ctx context.Context, h mtp.Handler, t *readerTurn) {
	defer func() {
		if v := recover(); v != nil {
			l.log.Error("ws: handler panic", "panic", v, "stack", string(debug.Stack()))
		}
	}()
	h.HandleRecord(ctx, mtp.Inbound{Record: t.buf, From: l.peer, Reject: t.reject})
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

// write sends one Record in a binary message [R-WS.14], in one system
// call when it fits the library's write buffer.
//
// The library watches a ctx that can be done with a context.AfterFunc for
// each message, whose registration takes the parent context's lock and
// allocates. A ctx that is done fails the write at once; one with a
// deadline still bounds the write the library's way. One with none (a
// process's or a request's lifetime) is checked before the write only,
// when keep-alives are on: a write that blocks on a peer that
// reads nothing also holds back the Ping, so the keep-alive drops the
// connection within two PingIntervals and the write returns with it, as
// it does on Close.
func (l *link) write(ctx context.Context, rec []byte) error {
	if ctx.Done() != nil {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("ws: write: %w", err)
		}
		if _, ok := ctx.Deadline(); !ok && l.o.PingInterval > 0 {
			ctx = context.Background()
		}
	}
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
