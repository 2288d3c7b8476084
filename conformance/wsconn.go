package conformance

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha1"
	"crypto/tls"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// The cases of section 7 speak WebSocket (RFC 6455) themselves, frame by
// frame, so that they can send what a library would not (a fragmented
// message, an unsolicited Pong, a Close with a chosen status) and see
// exactly what the Agent sends back. The runner does not share a
// WebSocket library with the Agent it judges.

// wsProtocol is the Sec-WebSocket-Protocol of USP Records in protocol
// buffers [R-WS.9].
const wsProtocol = "v1.usp"

// WebSocket opcodes (RFC 6455 section 5.2).
const (
	opContinuation byte = 0x0
	opText         byte = 0x1
	opBinary       byte = 0x2
	opClose        byte = 0x8
	opPing         byte = 0x9
	opPong         byte = 0xa
)

// WebSocket close status codes used by the cases (RFC 6455 section 7.4.1).
const (
	closeNormal          = 1000
	closeUnsupportedData = 1003
)

// wsMaxFrame bounds an inbound frame's payload, and a message's.
const wsMaxFrame = 16 << 20

// wsGUID is the key suffix of the opening handshake (RFC 6455 section 1.3).
const wsGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// Errors of the opening handshake.
var (
	errNoSubprotocol = errors.New("the handshake does not select the " + wsProtocol + " subprotocol")
	errNotUpgrade    = errors.New("not a WebSocket opening handshake")
)

// wsConn is one WebSocket connection driven frame by frame, as client
// (masking what it sends) or as server. Writes are safe for concurrent
// use; reads are for one goroutine at a time.
type wsConn struct {
	nc     net.Conn
	br     *bufio.Reader
	client bool

	wmu sync.Mutex

	// partial is a fragmented message being reassembled by next.
	partial   []byte
	partialOp byte
}

// frame is one WebSocket frame.
type frame struct {
	fin     bool
	op      byte
	payload []byte
}

// wsEvent is what next returns: a whole data message (opBinary or
// opText, reassembled from its fragments), a Pong or a Close.
type wsEvent struct {
	op      byte
	payload []byte
}

// closeCode returns the status code of a Close event (1005 when it has
// none, RFC 6455 section 7.1.5).
func (e wsEvent) closeCode() int {
	if len(e.payload) < 2 {
		return 1005
	}
	return int(binary.BigEndian.Uint16(e.payload))
}

func (e wsEvent) String() string {
	switch e.op {
	case opClose:
		return fmt.Sprintf("Close frame with status %d %q", e.closeCode(), e.payload[min(2, len(e.payload)):])
	case opPong:
		return fmt.Sprintf("Pong %q", e.payload)
	case opText:
		return fmt.Sprintf("text message of %d bytes", len(e.payload))
	}
	return fmt.Sprintf("binary message of %d bytes", len(e.payload))
}

// writeFrame sends one frame; a client masks it (RFC 6455 section 5.3).
func (c *wsConn) writeFrame(fin bool, op byte, payload []byte) error {
	b := make([]byte, 0, 14+len(payload))
	first := op
	if fin {
		first |= 0x80
	}
	b = append(b, first)
	var maskBit byte
	if c.client {
		maskBit = 0x80
	}
	switch n := len(payload); {
	case n < 126:
		b = append(b, maskBit|byte(n))
	case n <= 0xffff:
		b = append(b, maskBit|126)
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	default:
		b = append(b, maskBit|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	if c.client {
		var key [4]byte
		_, _ = rand.Read(key[:])
		b = append(b, key[:]...)
		start := len(b)
		b = append(b, payload...)
		for i := range payload {
			b[start+i] ^= key[i%4]
		}
	} else {
		b = append(b, payload...)
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_, err := c.nc.Write(b)
	return err
}

// writeMessage sends a binary message in as many fragments as parts has
// (RFC 6455 section 5.4): a binary frame, then continuation frames, the
// last one final.
func (c *wsConn) writeMessage(parts ...[]byte) error {
	for i, p := range parts {
		op := opContinuation
		if i == 0 {
			op = opBinary
		}
		if err := c.writeFrame(i == len(parts)-1, op, p); err != nil {
			return err
		}
	}
	return nil
}

// writeClose sends a Close frame with a status code and reason.
func (c *wsConn) writeClose(code int, reason string) error {
	p := binary.BigEndian.AppendUint16(nil, uint16(code))
	return c.writeFrame(true, opClose, append(p, reason...))
}

// readFrame reads one frame, unmasking it.
func (c *wsConn) readFrame() (frame, error) {
	var h [2]byte
	if _, err := io.ReadFull(c.br, h[:]); err != nil {
		return frame{}, err
	}
	f := frame{fin: h[0]&0x80 != 0, op: h[0] & 0x0f}
	if h[0]&0x70 != 0 {
		return f, fmt.Errorf("frame with reserved bits %#x set and no extension negotiated", h[0]&0x70)
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var b [2]byte
		if _, err := io.ReadFull(c.br, b[:]); err != nil {
			return f, err
		}
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		if _, err := io.ReadFull(c.br, b[:]); err != nil {
			return f, err
		}
		n = binary.BigEndian.Uint64(b[:])
	}
	if n > wsMaxFrame {
		return f, fmt.Errorf("frame of %d bytes", n)
	}
	var key [4]byte
	masked := h[1]&0x80 != 0
	if masked {
		if _, err := io.ReadFull(c.br, key[:]); err != nil {
			return f, err
		}
	}
	f.payload = make([]byte, n)
	if _, err := io.ReadFull(c.br, f.payload); err != nil {
		return f, err
	}
	if masked {
		for i := range f.payload {
			f.payload[i] ^= key[i%4]
		}
	}
	return f, nil
}

// next reads frames until deadline and returns the first event: a whole
// data message, a Pong or a Close. It answers Pings with Pongs of the same
// payload on the way [R-WS.13], [R-WS.17] and reassembles fragmented
// messages, which may have control frames between their fragments.
func (c *wsConn) next(deadline time.Time) (wsEvent, error) {
	if err := c.nc.SetReadDeadline(deadline); err != nil {
		return wsEvent{}, err
	}
	for {
		f, err := c.readFrame()
		if err != nil {
			return wsEvent{}, err
		}
		switch f.op {
		case opPing:
			if err := c.writeFrame(true, opPong, f.payload); err != nil {
				return wsEvent{}, err
			}
		case opPong, opClose:
			return wsEvent{op: f.op, payload: f.payload}, nil
		case opText, opBinary:
			if c.partial != nil {
				return wsEvent{}, errors.New("a new data frame inside a fragmented message")
			}
			if f.fin {
				return wsEvent{op: f.op, payload: f.payload}, nil
			}
			c.partial, c.partialOp = f.payload, f.op
		case opContinuation:
			if c.partial == nil {
				return wsEvent{}, errors.New("a continuation frame outside a fragmented message")
			}
			if len(c.partial)+len(f.payload) > wsMaxFrame {
				return wsEvent{}, fmt.Errorf("message over %d bytes", wsMaxFrame)
			}
			c.partial = append(c.partial, f.payload...)
			if f.fin {
				ev := wsEvent{op: c.partialOp, payload: c.partial}
				c.partial = nil
				return ev, nil
			}
		default:
			return wsEvent{}, fmt.Errorf("frame with unknown opcode %#x", f.op)
		}
	}
}

// close ends the connection politely: a Close frame, a short wait for the
// peer's, then the TCP connection.
func (c *wsConn) close() {
	if c.writeClose(closeNormal, "") == nil {
		deadline := time.Now().Add(time.Second)
		for time.Now().Before(deadline) {
			ev, err := c.next(deadline)
			if err != nil || ev.op == opClose {
				break
			}
		}
	}
	_ = c.nc.Close()
}

// dialWS opens a WebSocket connection to rawURL (ws:// or wss://) as the
// Endpoint eid: the opening handshake of RFC 6455 section 4.1 [R-WS.7]
// offering v1.usp [R-WS.10], with eid in the query [R-WS.10b] and no
// extension. It returns the handshake response; a connection whose
// response does not select v1.usp is closed and errNoSubprotocol returned
// [R-WS.12].
func dialWS(ctx context.Context, rawURL string, cfg *tls.Config, eid string) (*wsConn, *http.Response, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, nil, err
	}
	secure := u.Scheme == "wss"
	if !secure && u.Scheme != "ws" {
		return nil, nil, fmt.Errorf("URL %q is not ws:// or wss://", rawURL)
	}
	httpScheme, port := "http", "80"
	if secure {
		httpScheme, port = "https", "443"
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), port)
	}
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", host)
	if err != nil {
		return nil, nil, err
	}
	stop := context.AfterFunc(ctx, func() { _ = nc.SetDeadline(time.Now()) })
	defer stop()
	if secure {
		c := &tls.Config{}
		if cfg != nil {
			c = cfg.Clone()
		}
		if c.ServerName == "" {
			c.ServerName = u.Hostname()
		}
		c.NextProtos = []string{"http/1.1"}
		tc := tls.Client(nc, c)
		if err := tc.HandshakeContext(ctx); err != nil {
			nc.Close()
			return nil, nil, fmt.Errorf("TLS handshake: %w", err)
		}
		nc = tc
	}
	q := u.Query()
	q.Set("eid", eid)
	u.RawQuery = q.Encode()
	u.Scheme = httpScheme
	key := wsKey()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Sec-WebSocket-Key", key)
	req.Header.Set("Sec-WebSocket-Version", "13")
	req.Header.Set("Sec-WebSocket-Protocol", wsProtocol)
	br := bufio.NewReader(nc)
	if err := req.Write(nc); err != nil {
		nc.Close()
		return nil, nil, err
	}
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("handshake response: %w", err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols || !headerHas(resp.Header, "Upgrade", "websocket") ||
		!headerHas(resp.Header, "Connection", "upgrade") || resp.Header.Get("Sec-WebSocket-Accept") != wsAccept(key) {
		nc.Close()
		return nil, resp, fmt.Errorf("%w: %s", errNotUpgrade, resp.Status)
	}
	if resp.Header.Get("Sec-WebSocket-Protocol") != wsProtocol {
		nc.Close()
		return nil, resp, fmt.Errorf("%w (Sec-WebSocket-Protocol %q)", errNoSubprotocol, resp.Header.Get("Sec-WebSocket-Protocol"))
	}
	_ = nc.SetDeadline(time.Time{})
	return &wsConn{nc: nc, br: br, client: true}, resp, nil
}

// acceptWS answers the opening handshake of a client on nc (RFC 6455
// section 4.2), after a TLS handshake when cfg is not nil. It selects
// v1.usp [R-WS.11] and answers no extension, bbf-usp-protocol included,
// which clients must not take for an error [R-WS.11b]. A request that
// does not offer v1.usp is refused with 400 and errNoSubprotocol
// [R-WS.12a]. It returns the request.
func acceptWS(ctx context.Context, nc net.Conn, cfg *tls.Config) (*wsConn, *http.Request, error) {
	stop := context.AfterFunc(ctx, func() { _ = nc.SetDeadline(time.Now()) })
	defer stop()
	if cfg != nil {
		c := cfg.Clone()
		c.NextProtos = []string{"http/1.1"}
		tc := tls.Server(nc, c)
		if err := tc.HandshakeContext(ctx); err != nil {
			return nil, nil, fmt.Errorf("TLS handshake: %w", err)
		}
		nc = tc
	}
	br := bufio.NewReader(nc)
	req, err := http.ReadRequest(br)
	if err != nil {
		return nil, nil, fmt.Errorf("handshake request: %w", err)
	}
	key := req.Header.Get("Sec-WebSocket-Key")
	if req.Method != http.MethodGet || !headerHas(req.Header, "Upgrade", "websocket") || !headerHas(req.Header, "Connection", "upgrade") ||
		key == "" || req.Header.Get("Sec-WebSocket-Version") != "13" {
		_, _ = io.WriteString(nc, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
		return nil, req, errNotUpgrade
	}
	if !headerHas(req.Header, "Sec-WebSocket-Protocol", wsProtocol) {
		_, _ = io.WriteString(nc, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
		return nil, req, fmt.Errorf("%w: the request offers %q", errNoSubprotocol, req.Header.Values("Sec-WebSocket-Protocol"))
	}
	resp := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Accept: " + wsAccept(key) + "\r\nSec-WebSocket-Protocol: " + wsProtocol + "\r\n\r\n"
	if _, err := io.WriteString(nc, resp); err != nil {
		return nil, req, err
	}
	_ = nc.SetDeadline(time.Time{})
	return &wsConn{nc: nc, br: br}, req, nil
}

// headerHas reports whether a comma-separated header holds token,
// case-insensitively.
func headerHas(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

func wsKey() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return base64.StdEncoding.EncodeToString(b[:])
}

func wsAccept(key string) string {
	h := sha1.Sum([]byte(key + wsGUID))
	return base64.StdEncoding.EncodeToString(h[:])
}

// isTLSHello reports whether b starts like a TLS handshake record (RFC
// 8446 section 5.1): content type 22, legacy version 3.x.
func isTLSHello(b []byte) bool {
	return len(b) >= 3 && b[0] == 0x16 && b[1] == 0x03 && bytes.IndexByte([]byte{1, 2, 3, 4}, b[2]) >= 0
}
