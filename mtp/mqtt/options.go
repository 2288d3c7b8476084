package mqtt

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/url"
	"time"

	"github.com/uspkit/uspkit/mtp"
)

// Defaults of Options.
const (
	// DefaultMaxRecord is the default largest Record carried,
	// mtp.DefaultMaxRecord (5 MiB).
	DefaultMaxRecord = mtp.DefaultMaxRecord
	// DefaultQueueLen is how many Records a Client holds by default while
	// it is disconnected.
	DefaultQueueLen = 1024
	// DefaultKeepAlive is the Keep Alive sent in CONNECT by default, the
	// default of the data model's MQTT.Client.{i}.KeepAliveTime.
	DefaultKeepAlive = 60 * time.Second
	// DefaultConnectTimeout bounds dialing, TLS, CONNECT/CONNACK and
	// SUBSCRIBE/SUBACK.
	DefaultConnectTimeout = 30 * time.Second
	// DefaultWriteTimeout bounds the publication of one Record, up to its
	// acknowledgement at QoS 1 and 2.
	DefaultWriteTimeout = 30 * time.Second
)

// ContentType is the Content Type property of every MQTT 5.0 PUBLISH that
// carries a USP Record: "usp.msg", as [R-MQTT.27] asks.
const ContentType = "usp.msg"

// ContentTypeMedia is the registered USP Record media type, which a
// receiver also takes as naming a USP Record [R-MQTT.27a]; it is never
// sent.
const ContentTypeMedia = "application/vnd.bbf.usp.msg"

// Version is an MQTT protocol version.
type Version int

// MQTT versions. TR-369 requires 5.0 [R-MQTT.1] and allows 3.1.1
// [R-MQTT.2].
const (
	V5   Version = 5
	V311 Version = 311
)

func (v Version) String() string {
	switch v {
	case V5:
		return "5.0"
	case V311:
		return "3.1.1"
	}
	return fmt.Sprintf("Version(%d)", int(v))
}

// QoS is an MQTT Quality of Service level. Its zero value, QoSDefault,
// stands for the default of the option it is in, so that QoS 0 can be
// asked for explicitly.
type QoS uint8

// QoS levels. Endpoints support at least QoS 0 and 1 [R-MQTT.20].
const (
	QoSDefault QoS = iota
	QoS0           // at most once
	QoS1           // at least once
	QoS2           // exactly once
)

// level returns the wire value of q, with QoSDefault meaning QoS 1.
// filterQoS is the QoS level of a SUBSCRIBE's filter f.
func (o *Options) filterQoS(f string) byte {
	if q, ok := o.SubscriptionQoS[f]; ok {
		return q.level()
	}
	return o.SubscribeQoS.level()
}

func (q QoS) level() byte {
	if q == QoSDefault || q > QoS2 {
		return 1
	}
	return byte(q - 1)
}

// Options configure a Client. URL and EndpointID are required, and Topic
// too for MQTT 3.1.1; every other field's zero value means its default.
// Options are fixed for a Client's life.
type Options struct {
	// URL is the MQTT server: tcp://host:port (or mqtt://) for plain TCP
	// [R-MQTT.3], ssl://host:port (or tls://, mqtts://) for TLS, ws:// or
	// wss://host:port/path for MQTT over WebSocket. The port defaults to
	// 1883, 8883, 80 and 443.
	URL string
	// TLS configures TLS for ssl:// and wss:// URLs; nil means the system
	// roots. Its ServerName defaults to the URL's host and its
	// MinVersion is raised to TLS 1.2 [R-MQTT.48]. Add a client
	// certificate for certificate authentication. The server's verified
	// chain becomes Peer.Certs. Setting TLS with a tcp:// or ws:// URL is
	// an error.
	TLS *tls.Config
	// Version is the MQTT version spoken, V5 or V311; zero means V5.
	Version Version
	// EndpointID is this endpoint's USP Endpoint ID, sent in the
	// "usp-endpoint-id" User Property of an MQTT 5.0 CONNECT [R-MQTT.13]
	// and used as the MQTT 3.1.1 ClientId when ClientID is empty
	// [R-MQTT.8]. Required.
	EndpointID string
	// ClientID is the CONNECT ClientId [R-MQTT.8]. Empty means: on MQTT
	// 5.0 an empty ClientId, so that the server assigns one, which the
	// Client then keeps for all later connections [R-MQTT.9],
	// [R-MQTT.11] (read it with Client.ClientID to persist it); on MQTT
	// 3.1.1 the EndpointID.
	ClientID string
	// Username and Password go in CONNECT when not empty [R-MQTT.7].
	Username, Password string
	// KeepAlive is the CONNECT Keep Alive, in whole seconds [R-MQTT.14];
	// the client sends PINGREQ when it has nothing else to send. Zero
	// means DefaultKeepAlive; a negative value sends 0, which turns the
	// keep-alive off.
	KeepAlive time.Duration
	// KeepSession asks the server to keep the session between
	// connections: it clears the CONNECT Clean Start (5.0) or Clean
	// Session (3.1.1) flag. The zero value, false, starts every
	// connection with a clean session.
	KeepSession bool

	// Will, if not nil, is left with the broker at each CONNECT and
	// published by it if the connection ends without a DISCONNECT. Nil
	// means no Will.
	Will *Will
	// SessionExpiry is the MQTT 5.0 Session Expiry Interval sent in
	// CONNECT, in whole seconds: how long the server keeps the session
	// (subscriptions and Records queued for it) after a disconnection.
	// Zero sends none: the session ends with the connection. Ignored on
	// MQTT 3.1.1, where a kept session never expires.
	SessionExpiry time.Duration
	// ReceiveMaximum is the MQTT 5.0 CONNECT Receive Maximum: how many
	// QoS 1 and 2 PUBLISH packets the server may send before their
	// acknowledgement. The Client acknowledges a PUBLISH before it hands
	// its Record to the Handler, from the connection's reader, so the
	// limit seldom holds the server back: a slow Handler holds up the
	// reader, and TCP the server. Zero sends none, which allows
	// the server 65535. Zero is what the embedded broker (package broker)
	// needs: its MQTT server loses count of the PUBLISH packets in flight
	// when both ends publish at once, and then stops delivering. Ignored
	// on MQTT 3.1.1.
	ReceiveMaximum uint16
	// Topic is this endpoint's own Topic, its "reply to" Topic, which it
	// subscribes to [R-MQTT.15] and puts in every PUBLISH [R-MQTT.22]: in
	// the Response Topic property on MQTT 5.0 [R-MQTT.23], after
	// "/reply-to=" in the Topic Name on MQTT 3.1.1 [R-MQTT.24], where the
	// Client subscribes to Topic+"/#" to receive those names. On MQTT 5.0
	// a Response Information in the CONNACK wins over Topic
	// [R-MQTT.21], and with neither the Client uses the first
	// "subscribe-topic" of the CONNACK that is not a wildcard filter. It
	// must not hold wildcards. Required on MQTT 3.1.1.
	Topic string
	// Subscriptions are further Topic Filters to subscribe to on every
	// connection [R-MQTT.15], such as the data model's
	// MQTT.Client.{i}.Subscription.{i}.Topic values. Nil means none.
	Subscriptions []string
	// SubscribeQoS is the QoS of every subscription; QoSDefault means
	// QoS 1.
	SubscribeQoS QoS
	// SubscriptionQoS is the QoS of a filter of Subscriptions where it is
	// not SubscribeQoS (the data model's
	// MQTT.Client.{i}.Subscription.{i}.QoS).
	SubscriptionQoS map[string]QoS
	// PublishQoS is the QoS of every PUBLISH; QoSDefault means QoS 1. On
	// MQTT 5.0 a server whose CONNACK gives a lower Maximum QoS gets its
	// Maximum QoS.
	PublishQoS QoS
	// DefaultPeerTopic is the Peer.Address of an inbound Record whose
	// PUBLISH names no "reply to" Topic (no Response Topic property, no
	// "/reply-to=" in the Topic Name): a peer that gives none is answered
	// on this configured Topic, such as the Controller's
	// LocalAgent.Controller.{i}.MTP.{i}.MQTT.Topic. Empty means such
	// Records arrive with an empty Peer.Address, which Send refuses
	// (TR-369 calls this an MQTT version mismatch [R-MQTT.26a]).
	DefaultPeerTopic string
	// MaxRecord is the largest Record accepted, in bytes, and the largest
	// sent when the server states no limit (always on MQTT 3.1.1); zero
	// means DefaultMaxRecord. Larger inbound Records are dropped; on MQTT
	// 5.0 the CONNECT's Maximum Packet Size tells the server the limit
	// (the data model's MQTT.Client.{i}.MaximumPacketSize). When an MQTT
	// 5.0 server gives a Maximum Packet Size in its CONNACK, that, less
	// the PUBLISH's own Topic and properties, is the send limit instead.
	// Send refuses a Record over the send limit with mtp.ErrTooLarge.
	MaxRecord int
	// MaxPacketSize, if not zero, is the Maximum Packet Size of the MQTT
	// 5.0 CONNECT: the data model's MQTT.Client.{i}.MaximumPacketSize, the
	// largest packet the server may send this client. Zero (the data
	// model's "no limit"), or a value over it, sends MaxRecord plus room for
	// a PUBLISH's Topic and properties: inbound Records over MaxRecord are
	// dropped, so the client never announces more.
	MaxPacketSize uint32
	// QueueLen is how many Records the Client holds while disconnected,
	// and how many it holds behind those in flight when the server's
	// Receive Maximum is reached; Send beyond it returns mtp.ErrQueueFull.
	// Zero means DefaultQueueLen.
	QueueLen int
	// MinWait and Multiplier are the reconnect back-off, m and k of the
	// retry algorithm (see mtp.Retry) [R-MQTT.10], [R-MQTT.33]; zero
	// means 5 seconds and 2000.
	MinWait    time.Duration
	Multiplier uint32
	// MaxWait caps the back-off; zero means no cap.
	MaxWait time.Duration
	// ConnectTimeout bounds one connection attempt, from dialing to the
	// SUBACK; zero means DefaultConnectTimeout.
	ConnectTimeout time.Duration
	// WriteTimeout bounds the publication of one Record, up to its PUBACK
	// or PUBCOMP at QoS 1 or 2; a publication that takes longer drops the
	// connection (Send has returned: the Record goes again on the next
	// one). Zero means DefaultWriteTimeout.
	WriteTimeout time.Duration
	// OnState, if not nil, is told when the connection comes up (after
	// the subscription is acknowledged) and when it goes down, with the
	// URL as Peer.Address and the server's chain as Peer.Certs. Records
	// sent from within the StateUp call, with the ctx it is given, go out
	// before the Records queued while disconnected, so that a connect
	// Record [R-MTP.6] comes first; Client.Topic then reports the Topic
	// to put in it.
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
	c.Subscriptions = append([]string(nil), c.Subscriptions...)
	c.SubscriptionQoS = maps.Clone(c.SubscriptionQoS)
	if c.Version == 0 {
		c.Version = V5
	}
	if c.KeepAlive == 0 {
		c.KeepAlive = DefaultKeepAlive
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

// check reports a missing or malformed option.
func (o *Options) check() error {
	if o.Version != V5 && o.Version != V311 {
		return fmt.Errorf("mqtt: unknown %v", o.Version)
	}
	if o.EndpointID == "" {
		return errors.New("mqtt: Options.EndpointID is required [R-MQTT.8], [R-MQTT.13]")
	}
	if _, err := brokerOf(o.URL, o.TLS); err != nil {
		return err
	}
	if o.Topic != "" && !validTopicName(o.Topic) {
		return fmt.Errorf("mqtt: Options.Topic %q is not a topic name", o.Topic)
	}
	if o.Topic == "" && o.Version == V311 {
		return errors.New("mqtt: Options.Topic is required for MQTT 3.1.1 [R-MQTT.15]")
	}
	if o.DefaultPeerTopic != "" && !validTopicName(o.DefaultPeerTopic) {
		return fmt.Errorf("mqtt: Options.DefaultPeerTopic %q is not a topic name", o.DefaultPeerTopic)
	}
	for _, f := range o.Subscriptions {
		if !validTopicFilter(f) {
			return fmt.Errorf("mqtt: subscription %q is not a topic filter", f)
		}
	}
	if o.SubscribeQoS > QoS2 || o.PublishQoS > QoS2 {
		return errors.New("mqtt: QoS over 2")
	}
	for f, q := range o.SubscriptionQoS {
		if q > QoS2 {
			return fmt.Errorf("mqtt: subscription %q: QoS over 2", f)
		}
	}
	if o.KeepAlive > 65535*time.Second || o.SessionExpiry < 0 || o.SessionExpiry > (1<<32-1)*time.Second {
		return errors.New("mqtt: KeepAlive or SessionExpiry out of range")
	}
	return nil
}

// broker is a parsed Options.URL.
type broker struct {
	url  *url.URL
	addr string // host:port
	tls  bool
	ws   bool
}

// brokerOf parses and checks a broker URL.
func brokerOf(raw string, cfg *tls.Config) (broker, error) {
	if raw == "" {
		return broker{}, errors.New("mqtt: Options.URL is required")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return broker{}, fmt.Errorf("mqtt: Options.URL: %w", err)
	}
	b := broker{url: u}
	var port string
	switch u.Scheme {
	case "tcp", "mqtt":
		port = "1883"
	case "ssl", "tls", "mqtts":
		port, b.tls = "8883", true
	case "ws":
		port, b.ws = "80", true
	case "wss":
		port, b.ws, b.tls = "443", true, true
	default:
		return broker{}, fmt.Errorf("mqtt: Options.URL %q: scheme not tcp, mqtt, ssl, tls, mqtts, ws or wss", raw)
	}
	if u.Hostname() == "" {
		return broker{}, fmt.Errorf("mqtt: Options.URL %q has no host", raw)
	}
	if cfg != nil && !b.tls {
		return broker{}, fmt.Errorf("mqtt: Options.TLS given for %s URL %q", u.Scheme, raw)
	}
	if u.Port() != "" {
		port = u.Port()
	}
	b.addr = net.JoinHostPort(u.Hostname(), port)
	return b, nil
}
