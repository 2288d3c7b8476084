package uds

import (
	"errors"
	"fmt"
	"log/slog"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/uspkit/uspkit/mtp"
)

// Defaults of Options.
const (
	// DefaultMaxRecord is the default largest Record carried,
	// mtp.DefaultMaxRecord (5 MiB).
	DefaultMaxRecord = mtp.DefaultMaxRecord
	// DefaultHandshakeTimeout is how long a side waits for the other's
	// Handshake [R-UDS.18].
	DefaultHandshakeTimeout = 30 * time.Second
	// DefaultWriteTimeout bounds writing one frame.
	DefaultWriteTimeout = 30 * time.Second
	// DefaultQueue is how many Records a Client holds while disconnected.
	DefaultQueue = 1024
	// DefaultMinWait and DefaultMultiplier make the client's reconnect
	// wait a random time between 1 and 5 seconds [R-UDS.5].
	DefaultMinWait    = time.Second
	DefaultMultiplier = 5000
)

// frameSlack is how far a frame's body may exceed MaxRecord: room for the
// Record's field header and small fields of other Types.
const frameSlack = 1024

// maxEndpointID bounds the Endpoint ID a Handshake may carry.
const maxEndpointID = 1024

// Options configure a Server or a Client. The zero value of each field
// means its default; Path and EndpointID are required.
type Options struct {
	// Path is the file path of the Unix domain socket: where a Server
	// listens [R-UDS.2] and a Client connects [R-UDS.4], for example the
	// USP Broker's Agent or Controller socket. Required.
	Path string
	// EndpointID is this side's USP Endpoint ID, sent in the Handshake
	// [R-UDS.16], [R-UDS.17]. Required.
	EndpointID string
	// MaxRecord is the largest Record sent or accepted; zero means
	// DefaultMaxRecord (5 MiB). Send refuses a larger Record with
	// mtp.ErrTooLarge; a peer sending one gets an Error frame and the
	// connection is closed [R-UDS.23].
	MaxRecord int
	// HandshakeTimeout is how long a side waits for the other's
	// Handshake once connected; zero means 30 seconds [R-UDS.18]. A
	// Server applies it to a client that never sends one.
	HandshakeTimeout time.Duration
	// WriteTimeout bounds the write of one frame (an earlier deadline of
	// Send's context wins); zero means 30 seconds.
	WriteTimeout time.Duration
	// MinWait and Multiplier (in thousandths) drive the Client's
	// reconnect wait through mtp.Retry; zero means 1 second and 5000,
	// so each wait is random between 1 and 5 seconds [R-UDS.5]. The
	// Server ignores them.
	MinWait    time.Duration
	Multiplier uint32
	// Grow, when true, lets the Client's waits grow from one failed
	// attempt to the next as mtp.Retry counts them. False (the zero
	// value) draws every wait from the first interval, [MinWait,
	// MinWait·Multiplier/1000], as R-UDS.5 asks.
	Grow bool
	// Queue is how many Records a Client holds while disconnected; zero
	// means DefaultQueue (1024). Send fails with mtp.ErrQueueFull when
	// the queue is full. The Server has no queue.
	Queue int
	// OnState, if not nil, is told when a connection completes its
	// Handshake (mtp.StateUp) and when it ends (mtp.StateDown), with the
	// peer's Endpoint ID in Peer.EndpointID and Peer.Address.
	OnState mtp.StateFunc
	// Logger receives diagnostics; nil discards them.
	Logger *slog.Logger
}

// config is Options with the defaults applied.
type config struct {
	Options
	log *slog.Logger
}

func newConfig(o *Options) *config {
	c := &config{}
	if o != nil {
		c.Options = *o
	}
	if c.MaxRecord <= 0 {
		c.MaxRecord = DefaultMaxRecord
	}
	c.MaxRecord = min(c.MaxRecord, 1<<30)
	if c.HandshakeTimeout <= 0 {
		c.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = DefaultWriteTimeout
	}
	if c.MinWait <= 0 {
		c.MinWait = DefaultMinWait
	}
	if c.Multiplier == 0 {
		c.Multiplier = DefaultMultiplier
	}
	if c.Queue <= 0 {
		c.Queue = DefaultQueue
	}
	c.log = c.Logger
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	return c
}

// check reports a missing required option.
func (c *config) check() error {
	if c.Path == "" {
		return errors.New("uds: Options.Path is empty")
	}
	if err := checkEndpointID(c.EndpointID); err != nil {
		return fmt.Errorf("uds: Options.EndpointID: %w", err)
	}
	return nil
}

// frameLimit is the largest frame body a connection reads.
func (c *config) frameLimit() int { return c.MaxRecord + frameSlack }

// checkEndpointID decides whether a Handshake value can be processed
// [R-UDS.21]: non-empty UTF-8 [R-UDS.12] without control characters, at
// most maxEndpointID bytes. Finer syntax is left to the layer above.
func checkEndpointID(s string) error {
	switch {
	case s == "":
		return errors.New("empty endpoint ID")
	case len(s) > maxEndpointID:
		return fmt.Errorf("endpoint ID of %d bytes is over %d", len(s), maxEndpointID)
	case !utf8.ValidString(s):
		return errors.New("endpoint ID is not UTF-8")
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return fmt.Errorf("endpoint ID has control character %U", r)
		}
	}
	return nil
}
