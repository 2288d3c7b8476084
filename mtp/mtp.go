package mtp

import (
	"context"
	"crypto/x509"
	"errors"
)

// Transport is one MTP instance: a WebSocket client or server, an MQTT or
// STOMP client connection, a Unix domain socket, or a test pipe.
//
// Implementations are safe for concurrent use: Send may be called from any
// number of goroutines while Serve runs. Records handed to Send are owned by
// the Transport until Send returns; Records handed to a Handler are owned by
// the Handler.
type Transport interface {
	// Serve connects or listens, then calls h for every inbound Record
	// until ctx is done or Close is called; it reconnects by itself with
	// the spec's back-off where the MTP has a client role. It returns nil
	// after Close or cancellation, otherwise the error that stopped it.
	Serve(ctx context.Context, h Handler) error
	// Send delivers one whole Record to addr, an MTP-specific address: a
	// peer's Endpoint ID or URL for WebSocket, a topic for MQTT, a
	// destination for STOMP, a peer for Unix domain sockets. While the
	// transport is disconnected Send queues the Record (bounded) and
	// returns; ErrQueueFull or ErrClosed report what could not be queued.
	Send(ctx context.Context, addr string, rec []byte) error
	// Close stops Serve, closes every connection and discards queued
	// Records. It is safe to call more than once.
	Close() error
}

// Handler processes inbound Records. HandleRecord must not retain
// in.Record's backing array after it returns unless it owns it (see
// Transport); it may call Send on the transport.
type Handler interface {
	HandleRecord(ctx context.Context, in Inbound)
}

// HandlerFunc adapts a function to a Handler.
type HandlerFunc func(ctx context.Context, in Inbound)

// HandleRecord calls f.
func (f HandlerFunc) HandleRecord(ctx context.Context, in Inbound) { f(ctx, in) }

// Inbound is one received Record and where it came from.
type Inbound struct {
	Record []byte
	From   Peer
	// Reject, when the MTP sets it, is for a Record that cannot be
	// extracted for processing (it does not parse): the MTP then does what
	// its binding asks, such as closing a WebSocket connection with status
	// 1003 [R-WS.16]. Call it, if at all, before HandleRecord returns.
	Reject func(reason string)
}

// Peer describes the far end of a connection or the sender of a message:
// what the layer above needs to reply and to decide trust.
type Peer struct {
	// Address is where a reply goes, as accepted by Send: the reply-to
	// topic or destination the sender gave, or a key for the connection.
	Address string
	// EndpointID is the sender's USP Endpoint ID when the MTP tells it
	// (the WebSocket endpoint-id header, a UDS handshake); else empty.
	EndpointID string
	// Authenticated is true only when the MTP itself verified that the
	// peer is EndpointID: a client certificate whose subjectAltName names
	// it [R-SEC.0a], a credential an authentication hook accepted for it,
	// or a local socket handshake. False means EndpointID is only claimed.
	Authenticated bool
	// Certs is the peer's verified TLS certificate chain, leaf first, when
	// the connection is TLS with a client or server certificate.
	Certs []*x509.Certificate
}

// State is a connection's state, as reported to a StateFunc.
type State uint8

// Connection states.
const (
	StateDown State = iota
	StateUp
)

func (s State) String() string {
	if s == StateUp {
		return "up"
	}
	return "down"
}

// StateFunc is called when a connection comes up or goes down; err says why
// it went down. It is called from the transport's goroutines, one call at a
// time per connection, and must not block for long.
type StateFunc func(ctx context.Context, peer Peer, s State, err error)

// DefaultMaxRecord is the largest Record every MTP carries unless
// configured otherwise, 5 MiB: the size OB-USP-Agent, the Broadband
// Forum's reference Agent, accepts and sends, so that a Get of a large
// table fits. Each MTP's Options.MaxRecord defaults to it; an MQTT 5.0
// server's Maximum Packet Size takes its place when the server gives one.
const DefaultMaxRecord = 5 << 20

// Limited is implemented by a Transport that can tell the largest Record
// its Send takes now (for MQTT, what the server's Maximum Packet Size
// leaves), so that the layer above can refuse a larger one at once,
// before it queues it for a peer that is away. Every MTP of this module
// implements it.
type Limited interface {
	MaxRecord() int
}

// Errors a Transport returns; implementations wrap them with %w.
var (
	// ErrClosed is returned by Send after Close.
	ErrClosed = errors.New("mtp: transport closed")
	// ErrQueueFull is returned by Send when the transport is disconnected
	// and its queue of pending Records is full.
	ErrQueueFull = errors.New("mtp: send queue full")
	// ErrTooLarge is returned by Send for a Record over the MTP's limit,
	// at once and before anything is sent, so that the layer above can
	// answer with an Error Message instead [R-MSG.0].
	ErrTooLarge = errors.New("mtp: record too large")
	// ErrNoPeer is returned by Send when addr names no known peer.
	ErrNoPeer = errors.New("mtp: no such peer")
)
