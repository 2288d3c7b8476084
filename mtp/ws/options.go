package ws

import (
	"crypto/tls"
	"log/slog"
	"time"

	"github.com/uspkit/uspkit/mtp"
)

// Subprotocol is the Sec-WebSocket-Protocol value for USP Records in
// protocol-buffers encoding [R-WS.9].
const Subprotocol = "v1.usp"

// Defaults used for zero Options fields.
const (
	DefaultMaxRecord    = mtp.DefaultMaxRecord // 5 MiB
	DefaultPingInterval = 30 * time.Second
	DefaultQueueLen     = 1024
)

// DefaultHandshakeTimeout bounds an opening handshake unless
// Options.HandshakeTimeout says otherwise.
const DefaultHandshakeTimeout = 10 * time.Second

// Options configure a Client or a Server. A nil *Options means all
// defaults. Fields a role does not use are ignored.
type Options struct {
	// EndpointID is this side's USP Endpoint ID. A Client puts it in the
	// eid query parameter of its request URI [R-WS.10b] and, for servers
	// older than USP 1.3, in the bbf-usp-protocol extension [R-WS.10a]. A
	// Server answers a request that offers that extension with its own
	// Endpoint ID in it [R-WS.11a]. Empty: a Client sends neither and a
	// Server answers without the extension.
	EndpointID string

	// URL is where a Client connects: ws://host:port/path or wss://…, the
	// path naming the USP Endpoint's resource [R-WS.2]. A Server ignores it.
	URL string

	// Path, for a Server made by Listen, is the one request path it
	// accepts [R-WS.2]; other paths get 404. Empty accepts every path.
	Path string

	// PeerID, for a Client, is the Endpoint ID the server is expected to
	// be. When the server's verified certificate names USP Endpoints
	// (urn:bbf:usp:id: URIs), one must cover PeerID [R-SEC.5] or the
	// connection is dropped before any Record goes out; the Peer is then
	// Authenticated. Empty: no such check, and the Peer is Authenticated
	// only when the certificate names the Endpoint ID the server announces.
	PeerID string

	// Username and Password, for a Client, are sent as HTTP Basic
	// credentials in the opening handshake, for a server whose
	// Authenticate hook checks them; empty Username sends none. RFC 7617
	// keeps ':' out of a user-id, so a server taking an Endpoint ID as the
	// user name splits at the last colon, and the password holds none.
	Username, Password string

	// Authenticate, for a Server, checks each client's credentials during
	// the handshake (see AuthFunc for its contract), for example HTTP
	// Basic credentials per Endpoint ID. Nil: a client whose verified
	// certificate names its Endpoint ID is Authenticated, others are
	// accepted unauthenticated. Either way a certificate naming another
	// Endpoint is refused with 403 [R-SEC.12].
	Authenticate AuthFunc

	// HandshakeTimeout bounds an opening handshake: a Client's TCP, TLS
	// and HTTP exchange, and for a Server made by Listen the time from
	// accepting a connection to its upgrade (TLS handshake, request
	// headers and body); a connection that has not upgraded by then is
	// closed. Zero means DefaultHandshakeTimeout.
	HandshakeTimeout time.Duration

	// MaxConns and MaxConnsPerSource cap the open connections of a Server
	// made by Listen, in all and from one source address (an IPv4 address
	// or an IPv6 /64); connections beyond are closed as soon as they are
	// accepted. Upgraded and not yet upgraded connections count alike.
	// Zero means netlimit's defaults (512 and 64); negative means no cap.
	MaxConns, MaxConnsPerSource int

	// TLS, for a Client, configures wss:// connections (nil: the system
	// roots and no client certificate). For Listen it turns TLS on (nil:
	// plaintext); ClientAuth tls.RequireAndVerifyClientCert gives mutual
	// TLS. Either way the peer's verified chain is Peer.Certs. A Server
	// from NewServer ignores it: the http.Server that mounts it does TLS.
	TLS *tls.Config

	// MaxRecord is the largest Record sent or accepted, in bytes. Send
	// refuses larger ones with mtp.ErrTooLarge; a larger inbound message
	// closes the connection with status 1009. Zero means DefaultMaxRecord.
	MaxRecord int

	// PingInterval is how often a Ping control frame goes to the peer
	// [R-WS.17], [R-WS.18]; a connection whose Pong has not come back one
	// interval (and at least a second) later is dropped. Zero means
	// DefaultPingInterval; negative turns pings off (received Pings are
	// always answered). A Send whose ctx has no deadline and whose write
	// the peer does not read ends when the connection is dropped so, or
	// on Close; with pings off, when its ctx is done.
	PingInterval time.Duration

	// MinWait and Multiplier are a Client's reconnect back-off, m and k of
	// [R-WS.19] (see mtp.Retry); zero means 5 seconds and 2000.
	MinWait    time.Duration
	Multiplier uint32

	// QueueLen is how many Records a Client holds while disconnected;
	// Send beyond it returns mtp.ErrQueueFull. Zero means DefaultQueueLen.
	QueueLen int

	// OnState, if not nil, is told when a connection comes up or goes
	// down. A Client's Records sent from within the StateUp call, with the
	// ctx it is given, go out before the Records queued while it was
	// disconnected, so that a connect Record [R-MTP.6] comes first.
	OnState mtp.StateFunc

	// Logger receives connection events; nil discards them.
	Logger *slog.Logger
}

// withDefaults returns a copy of o with zero fields set to their defaults.
func (o *Options) withDefaults() Options {
	var c Options
	if o != nil {
		c = *o
	}
	if c.MaxRecord <= 0 {
		c.MaxRecord = DefaultMaxRecord
	}
	if c.PingInterval == 0 {
		c.PingInterval = DefaultPingInterval
	}
	if c.HandshakeTimeout <= 0 {
		c.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if c.QueueLen <= 0 {
		c.QueueLen = DefaultQueueLen
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}
