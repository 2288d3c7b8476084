package stomp

import (
	"crypto/tls"
	"errors"
	"log/slog"
	"time"

	"github.com/uspkit/uspkit/mtp"
)

// Defaults of Options.
const (
	// DefaultMaxRecord is the default largest Record carried,
	// mtp.DefaultMaxRecord (5 MiB). STOMP 1.2 has no header in which a
	// server states a limit, so it stays what the Client is configured
	// with.
	DefaultMaxRecord = mtp.DefaultMaxRecord
	// DefaultQueueLen is how many Records a Client holds by default while
	// it is disconnected.
	DefaultQueueLen = 1024
	// DefaultConnectTimeout bounds dialing, TLS, the CONNECTED frame and
	// the receipt of the SUBSCRIBE frame.
	DefaultConnectTimeout = 30 * time.Second
	// DefaultWriteTimeout bounds the write of one frame.
	DefaultWriteTimeout = 30 * time.Second
)

// byeTimeout bounds the wait for the receipt of DISCONNECT on Close.
const byeTimeout = time.Second

// ContentType is the content-type of every SEND frame carrying a USP
// Record [R-STOMP.20].
const ContentType = "application/vnd.bbf.usp.msg"

// Options configure a Client. Addr and EndpointID are required; every
// other field's zero value means its default.
type Options struct {
	// Addr is the STOMP server, host:port.
	Addr string
	// TLS, if not nil, turns TLS on [R-STOMP.36]; its ServerName defaults
	// to Addr's host. Add a client certificate for certificate
	// authentication. The server's verified chain becomes Peer.Certs.
	// Nil means plaintext TCP.
	TLS *tls.Config
	// VirtualHost is sent as the host header of the STOMP frame
	// [R-STOMP.5]; empty sends no host header.
	VirtualHost string
	// Username and Password are sent as the login and passcode headers
	// [R-STOMP.3]; both empty send neither, for client certificate
	// authentication.
	Username, Password string
	// EndpointID is this endpoint's USP Endpoint ID, sent as the
	// endpoint-id header of the STOMP frame [R-STOMP.4]. Required.
	EndpointID string
	// Destination is where the Client subscribes when the CONNECTED frame
	// carries no subscribe-dest header [R-STOMP.15]; a subscribe-dest
	// header wins [R-STOMP.14]. With neither the Client disconnects and
	// retries [R-STOMP.16]. Empty means none.
	Destination string
	// OutgoingHeartbeat and IncomingHeartbeat are offered in the
	// heart-beat header, in whole milliseconds [R-STOMP.10]: how often the
	// Client can send a heart-beat and how often it wants one. The server
	// answer decides the intervals in use [R-STOMP.11]; a connection that
	// is silent for twice the incoming interval is dropped. Both zero (the
	// default) sends "0,0": no heart-beats [R-STOMP.9].
	OutgoingHeartbeat, IncomingHeartbeat time.Duration
	// MaxRecord is the largest Record sent or accepted, in bytes; zero
	// means DefaultMaxRecord. Send refuses a larger Record with
	// mtp.ErrTooLarge; an inbound frame whose body is over MaxRecord plus
	// a little headroom drops the connection.
	MaxRecord int
	// QueueLen is how many Records the Client holds while disconnected;
	// Send beyond it returns mtp.ErrQueueFull. Zero means DefaultQueueLen.
	QueueLen int
	// MinWait and Multiplier are the reconnect back-off, m and k of the
	// retry algorithm (see mtp.Retry) [R-STOMP.7], [R-STOMP.25]; zero
	// means 5 seconds and 2000.
	MinWait    time.Duration
	Multiplier uint32
	// MaxWait caps the back-off; zero means no cap.
	MaxWait time.Duration
	// ConnectTimeout bounds one connection attempt, from dialing to the
	// receipt of the subscription; zero means DefaultConnectTimeout.
	ConnectTimeout time.Duration
	// WriteTimeout bounds the write of one frame; a write that takes
	// longer drops the connection. Zero means DefaultWriteTimeout.
	WriteTimeout time.Duration
	// OnState, if not nil, is told when the connection comes up (after the
	// subscription is confirmed) and when it goes down, with Addr as
	// Peer.Address and the server's chain as Peer.Certs. Records sent
	// from within the StateUp call, with the ctx it is given, go out
	// before the Records queued while disconnected, so that a connect
	// Record [R-MTP.6] comes first.
	OnState mtp.StateFunc
	// Logger receives connection events; nil discards them.
	Logger *slog.Logger
}

// withDefaults returns a copy of o with zero fields set to defaults.
func (o *Options) withDefaults() Options {
	var c Options
	if o != nil {
		c = *o
	}
	if c.MaxRecord <= 0 {
		c.MaxRecord = DefaultMaxRecord
	}
	if c.QueueLen <= 0 {
		c.QueueLen = DefaultQueueLen
	}
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = DefaultConnectTimeout
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = DefaultWriteTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// check reports a missing required option.
func (o *Options) check() error {
	switch {
	case o.Addr == "":
		return errors.New("stomp: Options.Addr is required")
	case o.EndpointID == "":
		return errors.New("stomp: Options.EndpointID is required [R-STOMP.4]")
	case o.OutgoingHeartbeat < 0 || o.IncomingHeartbeat < 0:
		return errors.New("stomp: negative heart-beat interval")
	}
	return nil
}
