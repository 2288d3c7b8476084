package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/uspkit/uspkit/datamodel"
	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/usperr"
)

// Dialer opens the transports the Agent's data model configures. The
// Agent asks for one per enabled Device.LocalAgent.MTP.{i} row (with the
// Device.MQTT.Client.{i} or Device.STOMP.Connection.{i} it references) and
// one per enabled Device.LocalAgent.Controller.{i}.MTP.{i} row of protocol
// WebSocket that names a Host (the Agent as WebSocket client). When such a
// row, or a row it references, changes, the Agent closes the transport and
// dials again with the new values; when it is disabled or deleted, the
// Agent closes it.
//
// The Dialer owns what TR-181 leaves to the device: certificates and keys,
// the interface to listen on, file system paths. It must return quickly;
// a client transport connects, and reconnects, in the background.
type Dialer interface {
	Dial(ctx context.Context, c *Connection) (MTP, error)
}

// Connection describes one transport as the data model configures it.
type Connection struct {
	// Path is the row: "Device.LocalAgent.MTP.1." or, for a WebSocket
	// client, "Device.LocalAgent.Controller.1.MTP.1.".
	Path string
	// Alias is the row's Alias, for the Dialer to find its local settings.
	Alias string
	// Protocol is "MQTT", "STOMP", "WebSocket" or "UDS".
	Protocol string
	// One of these is set, after Protocol.
	MQTT      *MQTTConnection      `json:",omitempty"`
	STOMP     *STOMPConnection     `json:",omitempty"`
	WebSocket *WebSocketConnection `json:",omitempty"`
	// OnState must be given to the transport: it tracks the connection
	// for routing, the connect Record [R-MTP.6] and the Status parameters.
	OnState mtp.StateFunc `json:"-"`
}

// MQTTConnection is a Device.MQTT.Client.{i} with the Agent's MTP settings
// (Device.LocalAgent.MTP.{i}.MQTT.).
type MQTTConnection struct {
	Client            string // "Device.MQTT.Client.1."
	BrokerAddress     string
	BrokerPort        uint32
	TransportProtocol string // "TCP/IP", "TLS", "WebSocket" or "WebSocketTLS"
	ProtocolVersion   string // "3.1.1" or "5.0"
	EnableEncryption  bool
	ClientID          string
	Username          string
	Password          string
	KeepAlive         time.Duration
	// CleanSession is CleanSession (3.1.1) or CleanStart (5.0).
	CleanSession bool
	// Retry is ConnectRetryTime, ConnectRetryIntervalMultiplier and
	// ConnectRetryMaxInterval.
	Retry mtp.Retry
	// ResponseTopic is ResponseTopicConfigured: the Agent's own topic, or
	// "" to use the one the broker assigns.
	ResponseTopic string
	// MaxPacketSize is MaximumPacketSize, the largest packet the client
	// takes from the broker, told in the MQTT 5.0 CONNECT; 0 means no
	// limit of the data model's (the transport's own applies).
	MaxPacketSize uint32
	// WillController and WillTopic name the first enabled Controller that
	// this client reaches, and its topic: the broker tells it of the
	// Agent's end with a Disconnect Record left as the MQTT Will [R-MTP.7].
	// Empty when no Controller uses the client.
	WillController, WillTopic string
	// PublishQoS is the QoS of the Agent's publications; 1 unless set.
	PublishQoS uint32
	// Subscriptions are the Topics of the client's enabled
	// Device.MQTT.Client.{i}.Subscription.{i} rows, to subscribe to besides
	// the Agent's own topic.
	Subscriptions []string `json:",omitempty"`
	// SubscriptionQoS is the QoS of each of Subscriptions (the row's
	// Subscription.{i}.QoS, 0 to 2).
	SubscriptionQoS map[string]uint32 `json:",omitempty"`
}

// STOMPConnection is a Device.STOMP.Connection.{i} with the Agent's MTP
// settings (Device.LocalAgent.MTP.{i}.STOMP.).
type STOMPConnection struct {
	Connection       string // "Device.STOMP.Connection.1."
	Host             string
	Port             uint32
	Username         string
	Password         string
	VirtualHost      string
	EnableEncryption bool
	// Heartbeats are zero unless EnableHeartbeats.
	OutgoingHeartbeat time.Duration
	IncomingHeartbeat time.Duration
	// Retry is ServerRetryInitialInterval, ServerRetryIntervalMultiplier
	// and ServerRetryMaxInterval.
	Retry mtp.Retry
	// Destination is the Agent's configured destination, or "" to use
	// the one the server gives.
	Destination string
}

// WebSocketConnection is the Agent's WebSocket server
// (Device.LocalAgent.MTP.{i}.WebSocket.) or, with Controller set, its
// connection to a Controller (Device.LocalAgent.Controller.{i}.MTP.{i}.WebSocket.).
type WebSocketConnection struct {
	// Controller is the Controller's Endpoint ID; "" for the server.
	Controller       string
	Host             string
	Port             uint32
	Path             string
	EnableEncryption bool
	KeepAlive        time.Duration
	// Retry is SessionRetryMinimumWaitInterval and
	// SessionRetryIntervalMultiplier (client only).
	Retry mtp.Retry
}

// fixedAlias starts the Alias of the Device.LocalAgent.MTP rows of
// Options.MTPs.
const fixedAlias = "cpe-fixed-"

// link is one transport the Agent serves: given in Options.MTPs (fixed)
// or dialled from the data model.
type link struct {
	MTP
	path  string      // "" for a fixed transport
	conn  *Connection // what it was dialled from
	mqtt  string      // the Device.MQTT.Client row, if any
	stomp string      // the Device.STOMP.Connection row, if any

	mu    sync.Mutex
	key   string          // conn as JSON, with what the Agent wrote back
	peers map[string]bool // peer addresses up
	done  chan struct{}   // closed when Serve returns
}

func (l *link) currentKey() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.key
}

func (l *link) up() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, up := range l.peers {
		if up {
			return true
		}
	}
	return false
}

func (l *link) peerUp(addr string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.peers[addr]
}

// links returns the transports being served.
func (a *Agent) links() []*link {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.linkList)
}

// linked reports whether t is still served.
func (a *Agent) linked(t mtp.Transport) bool {
	if t == nil {
		return false
	}
	a.mu.Lock() // lock order: a.mu, then a link's mu
	defer a.mu.Unlock()
	for _, l := range a.linkList {
		if l.Transport == t {
			return true
		}
	}
	return false
}

// transport picks the transport to reach addr over protocol: one on which
// addr is connected, else one that is up, else any.
func (a *Agent) transport(protocol, addr string) mtp.Transport {
	var up, anyLink *link
	a.mu.Lock() // lock order: a.mu, then a link's mu
	defer a.mu.Unlock()
	for _, l := range a.linkList {
		if l.Protocol != protocol {
			continue
		}
		if l.peerUp(addr) {
			return l.Transport
		}
		if up == nil && l.up() {
			up = l
		}
		if anyLink == nil {
			anyLink = l
		}
	}
	if up != nil {
		return up.Transport
	}
	if anyLink != nil {
		return anyLink.Transport
	}
	return nil
}

// serveLink serves one transport until ctx ends or the transport is
// closed.
func (a *Agent) serveLink(ctx context.Context, l *link, errc chan<- error) {
	defer close(l.done)
	err := l.Transport.Serve(ctx, mtp.HandlerFunc(func(ctx context.Context, in mtp.Inbound) {
		a.handleRecord(ctx, l.Protocol, l.Transport, in)
	}))
	if err == nil || ctx.Err() != nil {
		return
	}
	if l.path == "" {
		errc <- fmt.Errorf("agent: %s: %w", l.Protocol, err)
		return
	}
	a.log.WarnContext(ctx, "transport stopped", "mtp", l.path, "err", err)
	a.linkStatus(l, "Error")
}

// runLinks keeps the dialled transports in line with the data model: it
// dials once at start (an error there ends Run) and again whenever the
// configuration changes.
func (a *Agent) runLinks(ctx context.Context, errc chan<- error) error {
	if a.opt.Dialer == nil {
		return nil
	}
	if err := a.reconcile(ctx, errc, true); err != nil {
		return err
	}
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		for {
			select {
			case <-ctx.Done():
				return
			case <-a.linkKick:
			}
			// Let the response to the request that changed the
			// configuration go out on the old transport first.
			a.netMu.Lock()
			//lint:ignore SA2001 a barrier: the requests that held netMu have answered
			a.netMu.Unlock()
			if err := a.reconcile(ctx, errc, false); err != nil {
				a.log.WarnContext(ctx, "transports", "err", err)
			}
		}
	}()
	return nil
}

// kickLinks asks for the transports to be checked against the data model.
func (a *Agent) kickLinks() {
	select {
	case a.linkKick <- struct{}{}:
	default:
	}
}

// reconcile closes the dialled transports whose configuration went away or
// changed and dials the new ones. With strict, the first dial error is
// returned; otherwise it is logged and the row's Status shows it.
func (a *Agent) reconcile(ctx context.Context, errc chan<- error, strict bool) error {
	a.linkMu.Lock()
	defer a.linkMu.Unlock()
	if ctx.Err() != nil {
		return nil // Run is ending
	}
	want := a.wantedConnections(ctx)
	byKey := map[string]*Connection{}
	for _, c := range want {
		byKey[c.Path+"\x00"+connKey(c)] = c
	}
	var keep, drop []*link
	have := map[string]bool{}
	for _, l := range a.links() {
		switch {
		case l.path == "":
			keep = append(keep, l)
		case byKey[l.path+"\x00"+l.currentKey()] != nil:
			keep = append(keep, l)
			have[l.path+"\x00"+l.currentKey()] = true
		default:
			drop = append(drop, l)
		}
	}
	a.mu.Lock()
	a.linkList = keep
	a.mu.Unlock()
	for _, l := range drop {
		a.log.InfoContext(ctx, "closing transport", "mtp", l.path)
		l.Transport.Close()
		<-l.done
		if !slices.ContainsFunc(want, func(c *Connection) bool { return c.Path == l.path }) {
			a.linkStatus(l, "Down")
		}
	}
	var first error
	for _, c := range want {
		k := c.Path + "\x00" + connKey(c)
		if have[k] {
			continue
		}
		l := &link{path: c.Path, conn: c, key: connKey(c), peers: map[string]bool{}, done: make(chan struct{})}
		if c.MQTT != nil {
			l.mqtt = c.MQTT.Client
		}
		if c.STOMP != nil {
			l.stomp = c.STOMP.Connection
		}
		c.OnState = a.linkState(l)
		m, err := a.opt.Dialer.Dial(ctx, c)
		if err == nil && m.Transport == nil {
			err = fmt.Errorf("no transport for %s", c.Protocol)
		}
		if err != nil {
			err = fmt.Errorf("agent: %s (%s): %w", c.Path, c.Protocol, err)
			a.log.WarnContext(ctx, "transport not opened", "mtp", c.Path, "err", err)
			a.linkStatus(l, "Error")
			if first == nil {
				first = err
			}
			continue
		}
		l.MTP = m
		l.Protocol = c.Protocol
		a.log.InfoContext(ctx, "transport opened", "mtp", c.Path, "protocol", c.Protocol)
		a.mu.Lock()
		a.linkList = append(a.linkList, l)
		a.mu.Unlock()
		if c.Protocol == "WebSocket" && c.WebSocket != nil && c.WebSocket.Controller == "" {
			a.linkStatus(l, "Up") // a listening server is up
		} else {
			a.linkStatus(l, "Connecting")
		}
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			a.serveLink(ctx, l, errc)
		}()
	}
	if strict {
		return first
	}
	return nil
}

// connKey is the identity of a Connection: a change in any value means a
// new transport.
func connKey(c *Connection) string {
	b, err := json.Marshal(c)
	if err != nil {
		panic("agent: Connection cannot be encoded: " + err.Error())
	}
	return string(b)
}

// linkState tracks a dialled transport's connections.
func (a *Agent) linkState(l *link) mtp.StateFunc {
	return func(ctx context.Context, peer mtp.Peer, s mtp.State, err error) {
		l.mu.Lock()
		l.peers[peer.Address] = s == mtp.StateUp
		l.mu.Unlock()
		if l.Transport == nil {
			return
		}
		a.connectionState(ctx, l, peer, s, err)
		if l.path == "" {
			return
		}
		switch {
		case l.up():
			a.linkStatus(l, "Up")
			if id, ok := l.Transport.(interface{ ClientID() string }); ok && l.mqtt != "" && id.ClientID() != l.conn.MQTT.ClientID {
				// The ClientID generated or assigned by the server is
				// kept, for the next connection [R-MQTT.11].
				a.queueStatus(statusUpdate{l: l, clientID: id.ClientID()})
			}
			if d, ok := l.Transport.(interface{ Destination() string }); ok && l.stomp != "" {
				// The destination in use, which the server may have
				// given in subscribe-dest [R-STOMP.12].
				from := d.Destination()
				if from == l.conn.STOMP.Destination {
					from = ""
				}
				a.queueStatus(statusUpdate{l: l, values: map[string]map[string]string{l.path + "STOMP.": {"DestinationFromServer": from}}})
			}
			if tp, ok := l.Transport.(interface{ Topic() string }); ok && l.mqtt != "" && tp.Topic() != l.conn.MQTT.ResponseTopic {
				// The topic the server gave in the CONNACK's Response
				// Information [R-MQTT.21].
				a.queueStatus(statusUpdate{l: l, values: map[string]map[string]string{
					l.path + "MQTT.": {"ResponseTopicDiscovered": tp.Topic()}, l.mqtt: {"ResponseInformation": tp.Topic()}}})
			}
		case l.Protocol == "WebSocket" && strings.HasPrefix(l.path, pathLocalAgentMT):
			// a server stays up without clients
		default:
			a.linkStatus(l, "Connecting")
		}
	}
}

// linkStatus sets the Status parameters of a dialled transport's rows:
// Up, Down, Error or Connecting, mapped onto each table's enumeration.
func (a *Agent) linkStatus(l *link, s string) {
	a.queueStatus(statusUpdate{l: l, status: s})
}

// queueStatus hands an update to runStatus without ever blocking a
// transport's goroutine; with the queue full (runStatus gone) it is
// dropped.
func (a *Agent) queueStatus(u statusUpdate) {
	select {
	case a.statusq <- u:
	default:
		a.log.Debug("status update dropped", "mtp", u.l.path)
	}
}

type statusUpdate struct {
	l        *link
	status   string
	clientID string                       // an MQTT ClientID to write back, instead of a status
	values   map[string]map[string]string // or parameters learnt from the server, by object
}

// runStatus writes Status changes in order, away from the transports'
// goroutines.
func (a *Agent) runStatus(ctx context.Context) {
	last := map[string]string{}
	set := func(path, v string) {
		if path == "" || last[path] == v {
			return
		}
		last[path] = v
		if err := a.eng.Update(ctx, path, map[string]string{"Status": v}); err != nil {
			a.log.DebugContext(ctx, "status not updated", "path", path, "err", err)
		}
	}
	for {
		var u statusUpdate
		select {
		case <-ctx.Done():
			return
		case u = <-a.statusq:
		}
		if u.clientID != "" {
			a.keepClientID(ctx, u.l, u.clientID)
			continue
		}
		if u.values != nil {
			for path, v := range u.values {
				if err := a.eng.Update(ctx, path, v); err != nil {
					a.log.DebugContext(ctx, "not updated", "path", path, "err", err)
				}
			}
			continue
		}
		mtpStatus, mqttStatus, stompStatus := "Down", "Disabled", "Disabled"
		switch u.status {
		case "Up":
			mtpStatus, mqttStatus, stompStatus = "Up", "Connected", "Enabled"
		case "Connecting":
			mqttStatus, stompStatus = "Connecting", "Connecting"
		case "Error":
			mtpStatus, mqttStatus, stompStatus = "Error", "Error_Misconfigured", "Error_Misconfigured"
		}
		if strings.HasPrefix(u.l.path, pathLocalAgentMT) {
			set(u.l.path, mtpStatus)
		}
		set(u.l.mqtt, mqttStatus)
		if u.l.mqtt != "" {
			rows := a.rows(ctx, u.l.mqtt+"Subscription.")
			for _, sp := range sortedInstances(rows, u.l.mqtt+"Subscription.") {
				v := "Unsubscribed"
				if mqttStatus == "Connected" && rows[sp]["Enable"] == "true" {
					v = "Subscribed"
				}
				set(sp, v)
			}
		}
		set(u.l.stomp, stompStatus)
	}
}

// keepClientID writes the ClientID an MQTT connection uses into its
// Device.MQTT.Client row, without reconnecting for it.
func (a *Agent) keepClientID(ctx context.Context, l *link, id string) {
	// Under linkMu, so that no reconcile sees the new key with the old
	// value, or the reverse, and dials again.
	a.linkMu.Lock()
	defer a.linkMu.Unlock()
	if !a.linked(l.Transport) {
		// A connection already replaced (its row changed meanwhile): the
		// ClientID it was given is not the one in use, and writing it
		// back would redial the connection that replaced it.
		return
	}
	c := *l.conn
	m := *c.MQTT
	m.ClientID = id
	c.MQTT = &m
	l.mu.Lock()
	l.key = connKey(&c)
	l.mu.Unlock()
	if err := a.eng.Update(ctx, l.mqtt, map[string]string{"ClientID": id}); err != nil {
		a.log.WarnContext(ctx, "MQTT ClientID not kept", "path", l.mqtt, "err", err)
	}
}

// wantedConnections reads the transports the data model asks for.
func (a *Agent) wantedConnections(ctx context.Context) []*Connection {
	rows := a.rows(ctx, pathLocalAgent)
	maps.Copy(rows, a.rows(ctx, pathMQTTClients))
	maps.Copy(rows, a.rows(ctx, pathSTOMPConns))
	var out []*Connection
	for _, path := range sortedInstances(rows, pathLocalAgentMT) {
		p := rows[path]
		if p["Enable"] != "true" || strings.HasPrefix(p["Alias"], fixedAlias) {
			continue
		}
		c := &Connection{Path: path, Alias: p["Alias"], Protocol: p["Protocol"]}
		switch c.Protocol {
		case "MQTT":
			sub := rows[path+"MQTT."]
			ref := refRow(sub["Reference"])
			cl := rows[ref]
			if cl == nil || cl["Enable"] != "true" {
				continue
			}
			c.MQTT = &MQTTConnection{Client: ref, BrokerAddress: cl["BrokerAddress"], BrokerPort: atou(cl["BrokerPort"]),
				TransportProtocol: cl["TransportProtocol"], ProtocolVersion: cl["ProtocolVersion"], EnableEncryption: cl["EnableEncryption"] == "true",
				ClientID: cl["ClientID"], Username: cl["Username"], Password: cl["Password"], KeepAlive: seconds(cl["KeepAliveTime"]),
				Retry:         mtp.Retry{MinWait: seconds(cl["ConnectRetryTime"]), Multiplier: atou(cl["ConnectRetryIntervalMultiplier"]), MaxWait: seconds(cl["ConnectRetryMaxInterval"])},
				ResponseTopic: sub["ResponseTopicConfigured"], PublishQoS: 1}
			if q := sub["PublishQoS"]; q != "" {
				c.MQTT.PublishQoS = atou(q)
			}
			for _, sp := range sortedInstances(rows, ref+"Subscription.") {
				if sub := rows[sp]; sub["Enable"] == "true" && sub["Topic"] != "" {
					c.MQTT.Subscriptions = append(c.MQTT.Subscriptions, sub["Topic"])
					if q := sub["QoS"]; q != "" {
						if c.MQTT.SubscriptionQoS == nil {
							c.MQTT.SubscriptionQoS = map[string]uint32{}
						}
						c.MQTT.SubscriptionQoS[sub["Topic"]] = min(atou(q), 2)
					}
				}
			}
			c.MQTT.CleanSession = cl["CleanSession"] == "true"
			c.MQTT.MaxPacketSize = atou(cl["MaximumPacketSize"])
			if c.MQTT.ProtocolVersion == "5.0" {
				c.MQTT.CleanSession = cl["CleanStart"] == "true"
			}
			c.MQTT.WillController, c.MQTT.WillTopic = willFor(rows, ref)
		case "STOMP":
			sub := rows[path+"STOMP."]
			ref := refRow(sub["Reference"])
			cn := rows[ref]
			if cn == nil || cn["Enable"] != "true" {
				continue
			}
			c.STOMP = &STOMPConnection{Connection: ref, Host: cn["Host"], Port: atou(cn["Port"]), Username: cn["Username"], Password: cn["Password"],
				VirtualHost: cn["VirtualHost"], EnableEncryption: cn["EnableEncryption"] == "true",
				Retry:       mtp.Retry{MinWait: seconds(cn["ServerRetryInitialInterval"]), Multiplier: atou(cn["ServerRetryIntervalMultiplier"]), MaxWait: seconds(cn["ServerRetryMaxInterval"])},
				Destination: sub["Destination"]}
			if cn["EnableHeartbeats"] == "true" {
				c.STOMP.OutgoingHeartbeat = time.Duration(atou(cn["OutgoingHeartbeat"])) * time.Millisecond
				c.STOMP.IncomingHeartbeat = time.Duration(atou(cn["IncomingHeartbeat"])) * time.Millisecond
			}
		case "WebSocket":
			sub := rows[path+"WebSocket."]
			c.WebSocket = &WebSocketConnection{Port: atou(sub["Port"]), Path: sub["Path"], EnableEncryption: sub["EnableEncryption"] == "true",
				KeepAlive: seconds(sub["KeepAliveInterval"])}
		case "UDS":
		default:
			continue
		}
		out = append(out, c)
	}
	for _, ctrl := range sortedInstances(rows, pathControllers) {
		cp := rows[ctrl]
		if cp["Enable"] != "true" || cp["EndpointID"] == "" {
			continue
		}
		for _, path := range sortedInstances(rows, ctrl+"MTP.") {
			p := rows[path]
			w := rows[path+"WebSocket."]
			if p["Enable"] != "true" || p["Protocol"] != "WebSocket" || w["Host"] == "" {
				continue
			}
			out = append(out, &Connection{Path: path, Alias: p["Alias"], Protocol: "WebSocket", WebSocket: &WebSocketConnection{
				Controller: cp["EndpointID"], Host: w["Host"], Port: atou(w["Port"]), Path: w["Path"], EnableEncryption: w["EnableEncryption"] == "true",
				KeepAlive: seconds(w["KeepAliveInterval"]),
				Retry:     mtp.Retry{MinWait: seconds(w["SessionRetryMinimumWaitInterval"]), Multiplier: atou(w["SessionRetryIntervalMultiplier"])}}})
		}
	}
	return out
}

// sortedInstances returns the instance paths of the table at prefix
// ("Device.LocalAgent.MTP.") in instance-number order.
func sortedInstances(rows map[string]map[string]string, prefix string) []string {
	var out []string
	for path := range rows {
		rest, ok := strings.CutPrefix(path, prefix)
		if ok && strings.Count(rest, ".") == 1 && isInstance(strings.TrimSuffix(rest, ".")) {
			out = append(out, path)
		}
	}
	slices.SortFunc(out, func(x, y string) int {
		return int(atou(instanceOf(x))) - int(atou(instanceOf(y)))
	})
	return out
}

func instanceOf(path string) string {
	p := strings.TrimSuffix(path, ".")
	return p[strings.LastIndexByte(p, '.')+1:]
}

// refRow turns a reference value ("Device.MQTT.Client.1") into the row's
// path ("Device.MQTT.Client.1.").
func refRow(ref string) string {
	ref = strings.TrimSpace(ref)
	if ref == "" {
		return ""
	}
	return strings.TrimSuffix(ref, ".") + "."
}

func seconds(s string) time.Duration {
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0
	}
	return time.Duration(n) * time.Second
}

// checkMTP accepts only the protocols the Agent speaks in
// Device.LocalAgent.MTP.{i}.Protocol (an enumeration of SupportedProtocols).
func checkMTP(ctx context.Context, r *datamodel.Request) error {
	if r.Op == datamodel.OpDelete {
		return nil
	}
	if v, ok := r.Values["Protocol"]; ok && v != "" && !slices.Contains([]string{"WebSocket", "MQTT", "STOMP", "UDS"}, v) {
		return usperr.Errorf(usperr.CodeInvalidValue, "Protocol: %q is not WebSocket, MQTT, STOMP or UDS", v)
	}
	return nil
}

// checkMQTTClient accepts the MQTT versions and transports the Agent
// offers (the enumerations of Device.MQTT.Capabilities).
func checkMQTTClient(ctx context.Context, r *datamodel.Request) error {
	if r.Op == datamodel.OpDelete {
		return nil
	}
	if v, ok := r.Values["ProtocolVersion"]; ok && v != "" && v != "3.1.1" && v != "5.0" {
		return usperr.Errorf(usperr.CodeInvalidValue, "ProtocolVersion: %q is not 3.1.1 or 5.0", v)
	}
	if v, ok := r.Values["TransportProtocol"]; ok && !slices.Contains([]string{"TCP/IP", "TLS", "WebSocket", "WebSocketTLS"}, v) {
		return usperr.Errorf(usperr.CodeInvalidValue, "TransportProtocol: %q is not TCP/IP, TLS, WebSocket or WebSocketTLS", v)
	}
	return nil
}

// serveMQTTCapabilities provides Device.MQTT.Capabilities.: the MQTT
// versions and transports a Dialer maps onto the MQTT MTP.
func serveMQTTCapabilities(ctx context.Context, w datamodel.ResponseWriter, r *datamodel.Request) error {
	if r.Op != datamodel.OpGet {
		return usperr.Errorf(usperr.CodeRequestDenied, "%s cannot be changed", r.Path)
	}
	for _, n := range r.Names {
		switch n {
		case "ProtocolVersionsSupported":
			w.SetValue(n, "3.1.1,5.0")
		case "TransportProtocolSupported":
			w.SetValue(n, "TCP/IP,TLS,WebSocket,WebSocketTLS")
		case "MaxNumberOfClientSubscriptions":
			w.SetValue(n, "0") // no limit
		}
	}
	return nil
}

// willFor returns the first enabled Controller, in instance order, with an
// enabled MQTT MTP over the MQTT client at ref and a topic, and that topic.
func willFor(rows map[string]map[string]string, ref string) (ctrl, topic string) {
	for _, cp := range sortedInstances(rows, pathControllers) {
		c := rows[cp]
		if c["Enable"] != "true" || c["EndpointID"] == "" {
			continue
		}
		for _, mp := range sortedInstances(rows, cp+"MTP.") {
			m, mq := rows[mp], rows[mp+"MQTT."]
			if m["Enable"] == "true" && m["Protocol"] == "MQTT" && refRow(mq["Reference"]) == ref && mq["Topic"] != "" {
				return c["EndpointID"], mq["Topic"]
			}
		}
	}
	return "", ""
}
