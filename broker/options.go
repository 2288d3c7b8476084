package broker

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"time"
)

// Defaults used for zero Options fields.
const (
	DefaultAddr                   = "127.0.0.1:1883"
	DefaultAgentTopicPattern      = "usp/agent/{user}/#"
	DefaultControllerTopicPattern = "usp/controller/{user}/#"
	DefaultMaxPacketSize          = 5<<20 + 64<<10 // a 5 MiB Record (mtp.DefaultMaxRecord) and its PUBLISH's Topic and properties
	DefaultConnectTimeout         = 10 * time.Second
	DefaultMaxQueued              = 1024
	DefaultMaxClients             = 50000
	DefaultMaxPending             = 1024
	DefaultMaxRetained            = 1000
	DefaultMaxRetainedBytes       = 16 << 20
	DefaultSessionQueue           = 1000
	DefaultSessionQueueBytes      = 16 << 20
	DefaultReceiveMaximum         = 64
	DefaultMaxSessionExpiry       = 24 * time.Hour
	DefaultLoginFailures          = 10
	DefaultLoginFailureWindow     = time.Minute
	DefaultLogInterval            = 10 * time.Second
	DefaultWriteTimeout           = 30 * time.Second
)

// Placeholders in topic patterns.
const (
	PlaceholderClient = "{client}" // the MQTT ClientId of the connection
	PlaceholderUser   = "{user}"   // the authenticated name (Account.Name)
)

// AuthFunc decides whether a client may connect and with which rights. It
// is called once per CONNECT, from the connection's goroutine, so it may
// block (ctx ends at the connect timeout or when the broker closes), and
// it must be safe for concurrent use. certs holds the client's certificate
// chain, leaf first, only when crypto/tls verified it; otherwise nil. A
// non-nil error refuses the connection with "bad user name or password".
type AuthFunc func(ctx context.Context, clientID, username string, password []byte, certs []*x509.Certificate) (Account, error)

// Account is what an authenticated client may do.
type Account struct {
	// Name is the authenticated identity: the user name, or the Endpoint
	// ID (else the Common Name) of a client certificate. It replaces
	// {user} in topic patterns and shows in logs. Empty for anonymous
	// clients, which then have no {user} topic.
	Name string

	// Controller marks a USP Controller. With Options.USPPolicy only a
	// Controller may publish to Agent topics.
	Controller bool

	// Subscribe lists the topic filters the client may subscribe to; a
	// SUBSCRIBE filter is allowed when every topic it matches is matched
	// by one of these. Each entry is also announced to MQTT 5 clients in a
	// "subscribe-topic" CONNACK user property [R-MQTT.44]. Placeholders
	// {client} and {user} are expanded. With USPPolicy these are added to
	// the client's own topic; without it, nil Subscribe and nil Publish
	// mean the client may subscribe and publish anywhere.
	Subscribe []string

	// Publish lists the topic filters the client may publish to (and use
	// as its Will topic). Placeholders as for Subscribe.
	Publish []string
}

// Options configure a Broker. A nil *Options means all defaults, which
// are: one plain TCP listener on DefaultAddr and no way to log in.
type Options struct {
	// Addr is the TCP listener's address [R-MQTT.41]; port 0 picks a free
	// one (see Broker.Addrs). Empty means DefaultAddr (loopback only).
	Addr string

	// TLS, if not nil, turns on TLS for the TCP listener. A ClientAuth of
	// tls.RequireAndVerifyClientCert gives mutual TLS, and a verified
	// client certificate then authenticates the client [R-MQTT.43]. Nil
	// means plain TCP.
	TLS *tls.Config

	// TLSAddr, if not empty, adds a second TCP listener that serves TLS
	// (which must then be set), and Addr stays plain TCP; so one broker
	// serves password logins on Addr and certificate logins on TLSAddr.
	// Empty means none: TLS, if set, applies to Addr.
	TLSAddr string

	// WebSocketAddr, if not empty, adds an MQTT-over-WebSocket listener
	// (subprotocol "mqtt", any request path). Empty means none.
	WebSocketAddr string

	// WebSocketTLS, if not nil, serves the WebSocket listener over TLS
	// (wss), with client certificates as for TLS. Nil means plain ws.
	WebSocketTLS *tls.Config

	// Users maps user names to passwords for MQTT username/password
	// authentication [R-MQTT.42]. Passwords are compared in constant
	// time. Nil means no password logins.
	//
	// Without Authenticate a CONNECT is decided in this order: one with a
	// password by Users alone; else one over a connection with a verified
	// client certificate by the certificate (a user name, if sent, must
	// equal its identity); else one without a user name by AllowAnonymous.
	Users map[string]string

	// Controllers names the accounts (user names from Users, or client
	// certificate identities) that are USP Controllers. Nil means none.
	// Authenticate sets Account.Controller itself instead.
	Controllers []string

	// Authenticate, if not nil, replaces Users, certificate and anonymous
	// authentication: it alone decides every CONNECT.
	Authenticate AuthFunc

	// AllowAnonymous lets clients that present neither a user name nor a
	// verified client certificate connect. False (the default) refuses
	// them. Under USPPolicy (without Authenticate) an anonymous client is
	// named by its ClientId, so its own topic is usp/agent/<ClientId>,
	// and a ClientId that names an account (Users, Controllers, Accounts)
	// is refused.
	AllowAnonymous bool

	// USPPolicy turns on the USP topic policy: a client may subscribe only
	// within its own topic (AgentTopicPattern, or ControllerTopicPattern
	// for a Controller) plus Account.Subscribe; it may publish to
	// Controller topics, to Agent topics only if it is a Controller, and to
	// Account.Publish. Everything else is refused and logged. A client for
	// whom the pattern cannot be filled in (say, an anonymous client and a
	// {user} pattern) is refused at CONNECT. False means Account lists
	// alone decide (nil lists allow everything).
	USPPolicy bool

	// AgentTopicPattern is an Agent's own topic filter under USPPolicy,
	// with {client} and {user} placeholders; the levels before the first
	// placeholder, plus "#", are "the Agent topics" that only Controllers
	// may publish to. Empty means DefaultAgentTopicPattern. The default
	// uses {user} because a client chooses its own ClientId: a {client}
	// pattern lets any authenticated client take any Agent's topic.
	AgentTopicPattern string

	// ControllerTopicPattern is a Controller's own topic filter under
	// USPPolicy, as AgentTopicPattern. Empty means
	// DefaultControllerTopicPattern.
	ControllerTopicPattern string

	// ReportTopicPattern, if not empty, is a further topic filter each
	// Agent may publish to under USPPolicy, with a {user} (or {client})
	// placeholder standing for the Agent itself, such as
	// "usp/bulkdata/{user}/#" for the Bulk Data reports Agents publish
	// (TR-181 Device.BulkData.Profile.{i}.MQTT.PublishTopic): an Agent
	// publishes only under its own name there, and such a PUBLISH, not a
	// USP Record, needs no "reply to" Topic. Controllers may subscribe to
	// the whole pattern, the placeholder as "+". It must hold a
	// placeholder and lie outside the Agent and Controller topics. Empty
	// means none.
	ReportTopicPattern string

	// MaxPacketSize is the largest MQTT packet accepted, in bytes; larger
	// ones close the connection. It is announced in MQTT 5 CONNACKs. Zero
	// means DefaultMaxPacketSize.
	MaxPacketSize uint32

	// Accounts, if not nil, holds Agent accounts (see Accounts) that log
	// in by password or by a client certificate registered with the
	// account; they are tried after Users and Controllers. A change to an
	// account cuts the connections whose credential no longer holds. With
	// Accounts a client certificate logs in only as a Controller or as
	// the account that registered it. Nil means none.
	Accounts *Accounts

	// MaxClients caps connected clients; further CONNECTs are refused with
	// "server busy" (MQTT 5) or "server unavailable" (3.1.1). Zero means
	// DefaultMaxClients; a negative value means no limit.
	MaxClients int

	// MaxPending caps connections that have not yet completed CONNECT
	// (each may take ConnectTimeout); further ones are closed at accept.
	// Zero means DefaultMaxPending; a negative value means no limit.
	MaxPending int

	// MaxRetained and MaxRetainedBytes cap the retained messages stored,
	// in count and in total payload bytes; a retained PUBLISH beyond them
	// is delivered but not stored. Under USPPolicy, PUBLISHes to Agent
	// and Controller topics are never retained. Zero means
	// DefaultMaxRetained and DefaultMaxRetainedBytes; a negative
	// MaxRetained turns retained messages off (MQTT 5 clients are told
	// Retain Available 0).
	MaxRetained      int
	MaxRetainedBytes int64

	// SessionQueue and SessionQueueBytes cap the QoS 1 and 2 messages
	// held for one client (sent and not yet acknowledged, or waiting while
	// a persistent session is offline), in count and in bytes; beyond the
	// count new messages are dropped, beyond the bytes the oldest. Zero
	// means DefaultSessionQueue (at most 65535) and
	// DefaultSessionQueueBytes.
	SessionQueue      int
	SessionQueueBytes int64

	// ReceiveMaximum caps the QoS 1 and 2 PUBLISHes a client may have
	// unacknowledged towards the broker (announced in MQTT 5 CONNACKs; a
	// client that exceeds it is disconnected). Zero means
	// DefaultReceiveMaximum.
	ReceiveMaximum uint16

	// MaxSessionExpiry caps how long a disconnected persistent session
	// is kept. Zero means DefaultMaxSessionExpiry.
	MaxSessionExpiry time.Duration

	// LoginFailures and LoginFailureWindow throttle failed logins per
	// source address (IPv4 address or IPv6 /64): each address may fail
	// LoginFailures times, one more failure is allowed every
	// LoginFailureWindow/LoginFailures, and an address with none left
	// has its new connections closed at accept until one comes back.
	// Zero means DefaultLoginFailures and DefaultLoginFailureWindow; a
	// negative LoginFailures turns the throttle off.
	LoginFailures      int
	LoginFailureWindow time.Duration

	// LogInterval is the period of summary log lines: of refused logins,
	// throttled connections, ACL denials and limits, only the first of
	// each interval is logged in full, the rest are counted in one
	// summary line at its end. Zero means DefaultLogInterval.
	LogInterval time.Duration

	// MaxQueued is how many outbound packets may wait for one slow client
	// before further messages to it are dropped. Zero means
	// DefaultMaxQueued.
	MaxQueued int

	// KeepQoS grants every subscription the QoS asked for, also to
	// clients whose session ends with their connection; by default those
	// get QoS 0, which gives them the same delivery (see the package
	// documentation).
	KeepQoS bool

	// ConnectTimeout bounds the TLS handshake, WebSocket upgrade and
	// arrival of CONNECT on a new connection, and a call to Authenticate.
	// Zero means DefaultConnectTimeout.
	ConnectTimeout time.Duration

	// WriteTimeout bounds each write to a client: one that stops reading
	// (a full TCP window) is disconnected after it, so that the packets
	// queued for it (MaxQueued) are not held for as long as it likes,
	// keep-alive 0 included. Zero means DefaultWriteTimeout.
	WriteTimeout time.Duration

	// Logger receives connection, authentication and ACL events; nil
	// discards them.
	Logger *slog.Logger
}

// config is Options with defaults applied and patterns checked.
type config struct {
	Options
	agentPrefix, controllerPrefix string // "usp/agent/#", "usp/controller/#"
	controllers                   map[string]bool
	users                         map[string][32]byte // SHA-256 of passwords
}

func newConfig(o *Options) (*config, error) {
	c := &config{}
	if o != nil {
		c.Options = *o
	}
	if c.Addr == "" {
		c.Addr = DefaultAddr
	}
	if c.AgentTopicPattern == "" {
		c.AgentTopicPattern = DefaultAgentTopicPattern
	}
	if c.ControllerTopicPattern == "" {
		c.ControllerTopicPattern = DefaultControllerTopicPattern
	}
	if c.MaxPacketSize == 0 {
		c.MaxPacketSize = DefaultMaxPacketSize
	}
	if c.MaxQueued <= 0 {
		c.MaxQueued = DefaultMaxQueued
	}
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = DefaultConnectTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	c.applyLimitDefaults()
	if c.TLSAddr != "" && c.TLS == nil {
		return nil, errors.New("broker: TLSAddr needs TLS")
	}
	var err error
	if c.agentPrefix, err = patternPrefix(c.AgentTopicPattern); err != nil {
		return nil, fmt.Errorf("broker: AgentTopicPattern: %w", err)
	}
	if c.controllerPrefix, err = patternPrefix(c.ControllerTopicPattern); err != nil {
		return nil, fmt.Errorf("broker: ControllerTopicPattern: %w", err)
	}
	if c.agentPrefix == c.controllerPrefix {
		return nil, fmt.Errorf("broker: Agent and Controller topic patterns share the prefix %q", c.agentPrefix)
	}
	if err := c.checkReportPattern(); err != nil {
		return nil, err
	}
	c.controllers = make(map[string]bool, len(c.Controllers))
	for _, n := range c.Controllers {
		c.controllers[n] = true
	}
	c.users = make(map[string][32]byte, len(c.Users))
	for u, p := range c.Users {
		c.users[u] = hashPassword([]byte(p))
	}
	return c, nil
}

// applyLimitDefaults fills in the zero resource limits.
func (c *config) applyLimitDefaults() {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.MaxClients, DefaultMaxClients)
	def(&c.MaxPending, DefaultMaxPending)
	def(&c.MaxRetained, DefaultMaxRetained)
	if c.SessionQueue <= 0 {
		c.SessionQueue = DefaultSessionQueue
	}
	def(&c.LoginFailures, DefaultLoginFailures)
	c.SessionQueue = min(c.SessionQueue, math.MaxUint16)
	if c.MaxRetainedBytes <= 0 {
		c.MaxRetainedBytes = DefaultMaxRetainedBytes
	}
	if c.SessionQueueBytes <= 0 {
		c.SessionQueueBytes = DefaultSessionQueueBytes
	}
	if c.ReceiveMaximum == 0 {
		c.ReceiveMaximum = DefaultReceiveMaximum
	}
	if c.MaxSessionExpiry <= 0 {
		c.MaxSessionExpiry = DefaultMaxSessionExpiry
	}
	if c.LoginFailureWindow <= 0 {
		c.LoginFailureWindow = DefaultLoginFailureWindow
	}
	if c.LogInterval <= 0 {
		c.LogInterval = DefaultLogInterval
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = DefaultWriteTimeout
	}
}

var errPattern = errors.New("invalid topic pattern")

// patternPrefix checks a topic pattern and returns the filter of all
// topics it can expand to: its constant leading levels plus "#".
func patternPrefix(p string) (string, error) {
	probe := strings.NewReplacer(PlaceholderClient, "x", PlaceholderUser, "x").Replace(p)
	if strings.Contains(probe, "{") || strings.Contains(probe, "}") {
		return "", fmt.Errorf("%w %q: unknown placeholder", errPattern, p)
	}
	if !validFilter(probe) {
		return "", fmt.Errorf("%w %q: not a topic filter", errPattern, p)
	}
	levels := strings.Split(p, "/")
	n := 0
	for n < len(levels) && !strings.ContainsAny(levels[n], "{+#") {
		n++
	}
	if n == 0 {
		return "", fmt.Errorf("%w %q: the first level must be constant", errPattern, p)
	}
	return strings.Join(levels[:n], "/") + "/#", nil
}
