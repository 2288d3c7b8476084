package stomp

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/uspkit/uspkit/mtp"
)

// Receipt and subscription ids the Client uses on every connection.
const (
	subID      = "usp"
	subReceipt = "usp-subscribed"
	byeReceipt = "usp-bye"
)

// maxEarly bounds the MESSAGE frames held while the receipt of the
// subscription is awaited.
const maxEarly = 1024

// ServerError is an ERROR frame from the STOMP server, after which the
// server closes the connection and the Client retries [R-STOMP.25].
type ServerError struct {
	// Message is the frame's message header.
	Message string
	// Body is the frame's body, which may explain more.
	Body string
}

func (e *ServerError) Error() string {
	s := "stomp: server sent ERROR: " + e.Message
	if b := strings.TrimSpace(e.Body); b != "" {
		if len(b) > 200 {
			b = b[:200] + "…"
		}
		s += ": " + strings.ReplaceAll(b, "\n", " ")
	}
	return s
}

// errNoDestination is why a connection without any destination ends.
var errNoDestination = errors.New("stomp: no subscribe-dest from the server and no Options.Destination [R-STOMP.16]")

// conn is one STOMP session over one network connection: the handshake,
// the subscription, framed writes and heart-beats. Frames are written
// whole under wmu; reading is done by one goroutine.
type conn struct {
	nc   net.Conn
	dr   *deadlineReader
	rd   *Reader
	peer mtp.Peer
	dest string        // the destination subscribed to [R-STOMP.12]
	out  time.Duration // negotiated heart-beat intervals, 0 when off
	in   time.Duration
	wto  time.Duration

	wmu   sync.Mutex // guards wbuf and writes to nc
	wbuf  []byte
	lastW atomic.Int64 // UnixNano of the last write

	bye     chan struct{} // closed when the DISCONNECT receipt arrives
	byeOnce sync.Once
	done    chan struct{} // closed when the read loop has stopped
}

// deadlineReader gives every read of nc a fresh deadline d from now, so
// that a server silent for d counts as dead. Zero d sets none.
type deadlineReader struct {
	nc net.Conn
	d  time.Duration
}

func (r *deadlineReader) Read(p []byte) (int, error) {
	if r.d > 0 {
		if err := r.nc.SetReadDeadline(time.Now().Add(r.d)); err != nil {
			return 0, err
		}
	}
	return r.nc.Read(p)
}

// dial connects to o.Addr, with TLS when o.TLS is set.
func dial(ctx context.Context, o *Options) (net.Conn, []*x509.Certificate, error) {
	d := &net.Dialer{Timeout: o.ConnectTimeout}
	if o.TLS == nil {
		nc, err := d.DialContext(ctx, "tcp", o.Addr)
		return nc, nil, err
	}
	td := &tls.Dialer{NetDialer: d, Config: o.TLS}
	nc, err := td.DialContext(ctx, "tcp", o.Addr)
	if err != nil {
		return nil, nil, err
	}
	var chain []*x509.Certificate
	if cs := nc.(*tls.Conn).ConnectionState(); len(cs.VerifiedChains) > 0 {
		chain = cs.VerifiedChains[0]
	}
	return nc, chain, nil
}

// open dials and runs the handshake. It returns the session and the
// MESSAGE frames that arrived before the subscription's receipt.
func open(ctx context.Context, o *Options) (*conn, []Frame, error) {
	nc, certs, err := dial(ctx, o)
	if err != nil {
		return nil, nil, fmt.Errorf("stomp: dial %s: %w", o.Addr, err)
	}
	dr := &deadlineReader{nc: nc}
	cn := &conn{
		nc: nc, dr: dr, rd: NewReader(dr, 0, o.MaxRecord+bodyHeadroom),
		peer: mtp.Peer{Address: o.Addr, Certs: certs}, wto: o.WriteTimeout,
		bye: make(chan struct{}), done: make(chan struct{}),
	}
	early, err := cn.handshake(ctx, o)
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	return cn, early, nil
}

// handshake sends the STOMP frame, reads CONNECTED, subscribes and waits
// for the subscription's receipt, all within o.ConnectTimeout.
func (cn *conn) handshake(ctx context.Context, o *Options) ([]Frame, error) {
	if err := cn.nc.SetDeadline(time.Now().Add(o.ConnectTimeout)); err != nil {
		return nil, err
	}
	stop := context.AfterFunc(ctx, func() { cn.nc.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if err := cn.writeFrame(connectFrame(o)); err != nil {
		return nil, fmt.Errorf("stomp: send STOMP frame: %w", err)
	}
	var f Frame
	if err := cn.rd.ReadFrame(&f); err != nil {
		return nil, fmt.Errorf("stomp: read CONNECTED: %w", err)
	}
	if err := cn.connected(&f, o); err != nil {
		return nil, err
	}
	if cn.dest == "" {
		// [R-STOMP.16]: end the session politely, then retry.
		_ = cn.writeFrame(&Frame{Command: "DISCONNECT"})
		return nil, errNoDestination
	}
	early, err := cn.subscribe()
	if err != nil {
		return nil, err
	}
	if err := cn.nc.SetDeadline(time.Time{}); err != nil {
		return nil, err
	}
	if cn.in > 0 {
		cn.dr.d = 2 * cn.in
	}
	return early, ctx.Err()
}

// connectFrame is the frame that opens the session [R-STOMP.2].
func connectFrame(o *Options) *Frame {
	f := &Frame{Command: "STOMP", Headers: []Header{{"accept-version", "1.2"}}}
	if o.VirtualHost != "" {
		f.Headers = append(f.Headers, Header{"host", o.VirtualHost}) // [R-STOMP.5]
	}
	if o.Username != "" || o.Password != "" {
		f.Headers = append(f.Headers, Header{"login", o.Username}, Header{"passcode", o.Password}) // [R-STOMP.3]
	}
	// [R-STOMP.8], [R-STOMP.9], [R-STOMP.10]: "0,0" when off.
	hb := strconv.FormatInt(o.OutgoingHeartbeat.Milliseconds(), 10) + "," +
		strconv.FormatInt(o.IncomingHeartbeat.Milliseconds(), 10)
	f.Headers = append(f.Headers, Header{"heart-beat", hb})
	// [R-STOMP.4]: the STOMP frame escapes the colons of the Endpoint ID.
	f.Headers = append(f.Headers, Header{"endpoint-id", o.EndpointID})
	return f
}

// connected checks the server's answer to the STOMP frame and takes the
// heart-beat intervals and destination from it.
func (cn *conn) connected(f *Frame, o *Options) error {
	switch f.Command {
	case "CONNECTED":
	case "ERROR":
		return serverError(f)
	default:
		return fmt.Errorf("stomp: got %s frame instead of CONNECTED", f.Command)
	}
	if v, _ := f.Get("version"); v != "1.2" {
		return fmt.Errorf("stomp: server speaks STOMP version %q, not 1.2", v)
	}
	sv, _ := f.Get("heart-beat")
	out, in, err := negotiate(o.OutgoingHeartbeat, o.IncomingHeartbeat, sv)
	if err != nil {
		return err
	}
	cn.out, cn.in = out, in
	// [R-STOMP.6], [R-STOMP.14], [R-STOMP.15].
	cn.dest = o.Destination
	if d, ok := f.Get("subscribe-dest"); ok && d != "" {
		cn.dest = d
	}
	return nil
}

// negotiate returns the heart-beat intervals in use, as the Heart-beating
// section of STOMP 1.2 defines them from the client's offer (cx, cy) and
// the server's header "sx,sy" [R-STOMP.11].
func negotiate(cx, cy time.Duration, server string) (out, in time.Duration, err error) {
	sx, sy := time.Duration(0), time.Duration(0)
	if server != "" {
		a, b, ok := strings.Cut(server, ",")
		x, err1 := strconv.ParseUint(strings.TrimSpace(a), 10, 31)
		y, err2 := strconv.ParseUint(strings.TrimSpace(b), 10, 31)
		if !ok || err1 != nil || err2 != nil {
			return 0, 0, fmt.Errorf("stomp: bad heart-beat header %q", clip(server))
		}
		sx, sy = time.Duration(x)*time.Millisecond, time.Duration(y)*time.Millisecond
	}
	cx, cy = cx.Truncate(time.Millisecond), cy.Truncate(time.Millisecond)
	if cx > 0 && sy > 0 {
		out = max(cx, sy)
	}
	if cy > 0 && sx > 0 {
		in = max(cy, sx)
	}
	return out, in, nil
}

// subscribe sends the SUBSCRIBE frame [R-STOMP.12], [R-STOMP.13],
// [R-STOMP.17] and reads until its receipt, keeping MESSAGE frames that
// arrive first.
func (cn *conn) subscribe() ([]Frame, error) {
	err := cn.writeFrame(&Frame{Command: "SUBSCRIBE", Headers: []Header{
		{"id", subID}, {"destination", cn.dest}, {"ack", "auto"}, {"receipt", subReceipt},
	}})
	if err != nil {
		return nil, fmt.Errorf("stomp: send SUBSCRIBE: %w", err)
	}
	var early []Frame
	for {
		var f Frame
		if err := cn.rd.ReadFrame(&f); err != nil {
			return nil, fmt.Errorf("stomp: await subscription receipt: %w", err)
		}
		switch f.Command {
		case "RECEIPT":
			if id, _ := f.Get("receipt-id"); id == subReceipt {
				return early, nil
			}
		case "ERROR":
			return nil, serverError(&f)
		case "MESSAGE":
			if len(early) == maxEarly {
				return nil, errors.New("stomp: too many messages before the subscription receipt")
			}
			early = append(early, f)
		}
	}
}

func serverError(f *Frame) error {
	msg, _ := f.Get("message")
	return &ServerError{Message: msg, Body: string(f.Body)}
}

// writeFrame encodes and writes f whole.
func (cn *conn) writeFrame(f *Frame) error {
	cn.wmu.Lock()
	defer cn.wmu.Unlock()
	b, err := AppendFrame(cn.wbuf[:0], f)
	if err != nil {
		return err
	}
	cn.wbuf = b
	return cn.flushLocked()
}

// send writes one SEND frame carrying rec to dest [R-STOMP.18].
func (cn *conn) send(dest string, rec []byte) error {
	cn.wmu.Lock()
	defer cn.wmu.Unlock()
	cn.wbuf = appendSend(cn.wbuf[:0], dest, cn.dest, rec)
	return cn.flushLocked()
}

// keptWriteBuf is the largest write buffer kept for the next frame.
const keptWriteBuf = 256 << 10

// flushLocked writes wbuf; cn.wmu is held.
func (cn *conn) flushLocked() error {
	now := time.Now()
	if err := cn.nc.SetWriteDeadline(now.Add(cn.wto)); err != nil {
		return err
	}
	_, err := cn.nc.Write(cn.wbuf)
	cn.lastW.Store(now.UnixNano())
	if cap(cn.wbuf) > keptWriteBuf {
		cn.wbuf = nil // do not hold on to one huge frame's buffer
	}
	return err
}

// appendSend appends a SEND frame with the headers TR-369 asks for:
// content-length [R-STOMP.19], content-type [R-STOMP.20] and reply-to-dest
// [R-STOMP.21], and the Record as body [R-STOMP.22].
func appendSend(dst []byte, dest, replyTo string, rec []byte) []byte {
	dst = append(dst, "SEND\ndestination:"...)
	dst = appendEscaped(dst, dest)
	dst = append(dst, "\ncontent-type:"+ContentType+"\ncontent-length:"...)
	dst = strconv.AppendInt(dst, int64(len(rec)), 10)
	dst = append(dst, "\nreply-to-dest:"...)
	dst = appendEscaped(dst, replyTo)
	dst = append(dst, "\n\n"...)
	dst = append(dst, rec...)
	return append(dst, 0)
}

// heartbeat sends an EOL whenever nothing was written for half the
// outgoing interval, until stop is closed.
func (cn *conn) heartbeat(stop <-chan struct{}) {
	tick := time.NewTicker(cn.out / 2)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case now := <-tick.C:
			if now.UnixNano()-cn.lastW.Load() < int64(cn.out/2) || !cn.wmu.TryLock() {
				continue // a frame went out lately or is going out now
			}
			cn.wbuf = append(cn.wbuf[:0], '\n')
			err := cn.flushLocked()
			cn.wmu.Unlock()
			if err != nil {
				cn.nc.Close() // the read loop sees it and ends the session
				return
			}
		}
	}
}

// disconnect sends DISCONNECT with a receipt and waits for the receipt,
// so that frames sent before are processed [R-STOMP.28].
func (cn *conn) disconnect(timeout time.Duration) {
	cn.wmu.Lock()
	cn.wto = timeout
	cn.wbuf = append(cn.wbuf[:0], "DISCONNECT\nreceipt:"+byeReceipt+"\n\n\x00"...)
	err := cn.flushLocked()
	cn.wmu.Unlock()
	if err != nil {
		return
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-cn.bye:
	case <-cn.done:
	case <-t.C:
	}
}

// receipt handles a RECEIPT frame in the read loop [R-STOMP.30].
func (cn *conn) receipt(f *Frame) {
	if id, _ := f.Get("receipt-id"); id == byeReceipt {
		cn.byeOnce.Do(func() { close(cn.bye) })
	}
}
