//go:build !usp_device

package cli

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/uspkit/uspkit/controller"
	"github.com/uspkit/uspkit/controller/api"
	"github.com/uspkit/uspkit/controller/filestore"
	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/mtp/mqtt"
	"github.com/uspkit/uspkit/mtp/stomp"
	"github.com/uspkit/uspkit/mtp/uds"
	"github.com/uspkit/uspkit/mtp/ws"
	"github.com/uspkit/uspkit/store/postgres"
	"github.com/uspkit/uspkit/store/sqlite"
	"github.com/uspkit/uspkit/webui"
)

// controllerConfig is the file `usp controller --config` reads. Every key
// is listed in controllerHelp and in docs/config.md.
type controllerConfig struct {
	EndpointID string `yaml:"endpoint_id"`
	Data       string `yaml:"data"`
	LogLevel   string `yaml:"log_level"`
	// HTTP is the address of the REST API; API its TLS and limits.
	HTTP string     `yaml:"http"`
	API  *apiConfig `yaml:"api"`
	// WebSocket is the address of a WebSocket server MTP named
	// "WebSocket", with optional TLS: there is one when WebSocket is set,
	// and by default (127.0.0.1:8081) when MTPs is empty.
	WebSocket string     `yaml:"websocket"`
	TLS       *tlsConfig `yaml:"tls"`
	// WebSocketLimits caps that server's connections (see connLimits).
	WebSocketLimits connLimits `yaml:"websocket_limits"`
	// Postgres, if set, is the DSN of the PostgreSQL database to keep the
	// registry, queues and events in, instead of SQLite in the data
	// directory.
	Postgres string `yaml:"postgres"`
	// MTPs are the Controller's transports, any number of each protocol.
	MTPs []ctrlMTPConfig `yaml:"mtps"`
	// Advertise announces the MTPs with mDNS/DNS-SD (advertise.go).
	Advertise *advertiseConfig `yaml:"advertise"`
	// Admission is what happens to an Agent heard from for the first
	// time: "verified" (the default), "all" or "pending" (see
	// controller.Admission).
	Admission string `yaml:"admission"`
	// MaxPending bounds the Agents waiting for approval (0: 1000).
	MaxPending int `yaml:"max_pending"`
	// Profiles are provisioning profiles by ProvisioningCode ("" for
	// Agents without one), applied once at an Agent's first contact.
	Profiles map[string]controller.Profile `yaml:"profiles"`
	// EmbeddedBroker, if set, runs an MQTT broker in this process with
	// the Agent accounts of the data directory (see brokercfg.go).
	EmbeddedBroker *embeddedBrokerConfig `yaml:"embedded_broker"`
	// Telemetry configures the Bulk Data collector and time series
	// (internal/cli/telemetry.go).
	Telemetry *telemetryConfig `yaml:"telemetry"`
	// E2E is the use of E2E Session Contexts with Agents
	// (internal/cli/e2ecfg.go).
	E2E *e2eConfig `yaml:"e2e"`
	// accounts, if set, serves the REST API's /api/v1/accounts (the
	// embedded broker's Agent accounts, see brokercfg.go).
	accounts api.Accounts
	// wsAuth, if set, checks Agents at the WebSocket servers against the
	// same accounts (see wsauth.go).
	wsAuth ws.AuthFunc
	// wsIdentity is the identity policy of the `websocket` server
	// ("": verified; usp up --lab: claimed).
	wsIdentity string
	// bulkMQTT is the broker connection of the MQTT Bulk Data report
	// ingest when not that of the first MQTT MTP (telemetrymqtt.go);
	// bulkMQTTUp, if not nil, is closed once it is subscribed.
	bulkMQTT   *bulkMQTTConn
	bulkMQTTUp chan struct{}
}

// ctrlMTPConfig is one transport of the Controller. It has the keys of an
// Agent's transport (mtpConfig) that apply to a Controller, and its own.
type ctrlMTPConfig struct {
	// Name names the MTP in the agent registry and the logs; it defaults
	// to the protocol and is unique.
	Name      string `yaml:"name"`
	mtpConfig `yaml:",inline"`
	// WebSocket server: connection caps (see connLimits).
	connLimits `yaml:",inline"`
	// MQTT: the CONNECT ClientId (empty: the broker assigns one on MQTT
	// 5, the Endpoint ID on 3.1.1), a shared subscription group for the
	// topic, the per-process topic put in the Response Topic, and the
	// session kept by the broker across reconnections.
	ClientID      string        `yaml:"client_id"`
	SharedGroup   string        `yaml:"shared_group"`
	ReplyTopic    string        `yaml:"reply_topic"`
	KeepSession   bool          `yaml:"keep_session"`
	SessionExpiry time.Duration `yaml:"session_expiry"`
	// STOMP: the heart-beats offered; nil means 30 seconds each.
	OutgoingHeartbeat *time.Duration `yaml:"outgoing_heartbeat"`
	IncomingHeartbeat *time.Duration `yaml:"incoming_heartbeat"`
	// WebSocket client: the Agents that are WebSocket servers.
	Agents []wsAgentConfig `yaml:"agents"`
	// Retry is the reconnect back-off of a client (MQTT, STOMP,
	// WebSocket client).
	Retry retryConfig `yaml:"retry"`
	// Identity is how a Record's from_id must be bound to its sender:
	// "verified" (the default) or "claimed" (see controller.Identity).
	Identity string `yaml:"identity"`
	// AgentTopic, for MQTT and STOMP, is the pattern of an Agent's own
	// topic or destination, "{eid}" standing for its Endpoint ID.
	AgentTopic string `yaml:"agent_topic"`
	// auth checks clients of a WebSocket server (controllerConfig.wsAuth).
	auth ws.AuthFunc
}

// wsAgentConfig is an Agent the Controller connects to.
type wsAgentConfig struct {
	EndpointID string `yaml:"endpoint_id"`
	URL        string `yaml:"url"`
}

// retryConfig is the reconnect back-off of TR-369's retry algorithm: the
// n-th wait is drawn from min_wait·(multiplier/1000)^(n-1) up to the next
// step, capped by max_wait.
type retryConfig struct {
	MinWait    time.Duration `yaml:"min_wait"`
	Multiplier uint32        `yaml:"multiplier"`
	MaxWait    time.Duration `yaml:"max_wait"`
}

// controllerHelp is the configuration reference `usp controller --help`
// prints; docs/config.md has the same keys with more words.
const controllerHelp = `
Configuration file keys (YAML; unknown keys are refused):
  endpoint_id        the Controller's Endpoint ID (proto::uspkit-controller)
  data               data directory: admin.token, controller.db (~/.local/share/uspkit)
  log_level          debug, info, warn, error (info)
  http               address of the REST API (127.0.0.1:8080)
  api                the REST API's tls (cert, key, client_ca) and max_conns (256), max_conns_per_source (32);
                     files_url: the base URL agents fetch the controller's files at (default: the API's address)
  embedded_broker    an MQTT broker in this process, Agent accounts from usp agents add/revoke: listen (127.0.0.1:1883),
                     tls_listen, cert, key, hosts, allow_anonymous (false), max_clients
  postgres           PostgreSQL DSN; the registry, queues and events go there instead of SQLite
  telemetry          Bulk Data collector and time series (on): disabled (false), max_age (720h),
                     collector_url (default: the API's address), metric_params (latest values in /metrics),
                     mqtt_topic (MQTT reports, the "+" level the Agent: usp/bulkdata/+/#; off)
  admission          a new Agent is registered when its identity is verified (verified), always (all),
                     or held until approved (pending)
  max_pending        at most this many Agents wait for approval (1000)
  profiles           provisioning profiles by ProvisioningCode ("" for none), applied once at first contact:
                     sets (object, params), adds (object, key, params), subscriptions (id, notif_type, reference_list)
  websocket          address of a WebSocket server MTP named "WebSocket" (127.0.0.1:8081 when mtps is empty)
  websocket_limits   that server's max_conns (512) and max_conns_per_source (64); -1: no cap
  tls                that server's TLS: cert, key, ca, client_auth
  mtps               the transports, any number; each has:
    name               unique name (default: the protocol)
    protocol           MQTT, STOMP, WebSocket or UDS
    MQTT:  url (tcp://, ssl://, ws://, wss://), mqtt_version ("5" or "3.1.1"), client_id,
           username, password, topic (the topic Agents send to), shared_group ($share/GROUP/topic),
           reply_topic (this process's own Response Topic), keep_session, session_expiry, retry, tls
    STOMP: addr (host:port), vhost, username, password, destination, outgoing_heartbeat,
           incoming_heartbeat (30s), retry, tls
    WebSocket server: listen (host:port), path, tls (cert, key, ca, client_auth), max_conns (512),
                      max_conns_per_source (64)
    WebSocket client: agents (list of endpoint_id, url), retry, tls (cert, key, ca)
    UDS:   socket (path of the socket the Controller serves)
    max_record         largest USP Record carried, in bytes (5 MiB; at least 1024)
    retry              min_wait (5s), multiplier (2000), max_wait (none)
    identity           verified (default: a from_id must be bound to a certificate, credential, own topic
                       or broker login) or claimed (a lab: take an Agent's word for its Endpoint ID)
    agent_topic        MQTT, STOMP: an Agent's own topic or destination, {eid} for its Endpoint ID;
                       a reply-to outside it is refused
    tls                cert, key (this side), ca (to verify the peer), client_auth (servers)
  e2e                E2E Session Contexts with Agents: policy (off, prefer: fall back when an Agent refuses,
                     require), max_record_size (0: each MTP's limit), expiration (0s: none),
                     max_retransmit (3), agents (Endpoint ID: policy, overriding policy for that Agent),
                     payload_security (PLAINTEXT, TLS12), tls (cert, key, ca: the E2E TLS certificate and CA)
  advertise          announce the MTPs with mDNS (docs/discovery.md): interface ("" = all), port (5353),
                     urls (ws://, mqtt://host/topic, stomp://host/dest; default: the MTPs above)
`

// loadControllerConfig reads and checks a configuration file; an error
// names the key at fault.
func loadControllerConfig(b []byte) (*controllerConfig, error) {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	c := controllerConfig{EndpointID: "proto::uspkit-controller", HTTP: "127.0.0.1:8080"}
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	if err := validateEndpointID(c.EndpointID); err != nil {
		return nil, fmt.Errorf("endpoint_id: %w", err)
	}
	if c.LogLevel != "" {
		var l slog.Level
		if err := l.UnmarshalText([]byte(c.LogLevel)); err != nil {
			return nil, fmt.Errorf("log_level: %q is not debug, info, warn or error", c.LogLevel)
		}
	}
	if a := c.Admission; a != "" && a != "verified" && a != "all" && a != "pending" {
		return nil, fmt.Errorf("admission: %q is not verified, all or pending", c.Admission)
	}
	if err := c.refuseAgentTLSKeys(); err != nil {
		return nil, err
	}
	if err := c.E2E.check(); err != nil {
		return nil, fmt.Errorf("e2e: %w", err)
	}
	for code, p := range c.Profiles {
		if err := p.Validate(); err != nil {
			return nil, fmt.Errorf("profiles[%q]: %w", code, err)
		}
	}
	if len(c.MTPs) == 0 && c.WebSocket == "" {
		c.WebSocket = "127.0.0.1:8081"
	}
	if err := c.Advertise.check(); err != nil {
		return nil, err
	}
	if err := c.Telemetry.check(); err != nil {
		return nil, err
	}
	// MTP names are unique; the top-level WebSocket server and the
	// embedded broker's MTP have theirs.
	taken := map[string]string{}
	if c.WebSocket != "" {
		taken["WebSocket"] = "the top-level websocket server"
	}
	if c.EmbeddedBroker != nil {
		taken["MQTT"] = "the embedded broker's MTP"
	}
	for i := range c.MTPs {
		m := &c.MTPs[i]
		if err := m.check(); err != nil {
			return nil, fmt.Errorf("mtps[%d].%w", i, err)
		}
		if by, ok := taken[m.Name]; ok {
			return nil, fmt.Errorf("mtps[%d].name: %q is taken by %s", i, m.Name, by)
		}
		taken[m.Name] = fmt.Sprintf("mtps[%d]", i)
	}
	return &c, nil
}

// check checks one transport and sets its defaults; an error starts with
// the key at fault.
func (m *ctrlMTPConfig) check() error {
	if m.Name == "" {
		m.Name = m.Protocol
	}
	switch {
	case m.Alias != "":
		return errors.New("alias: not a Controller key (name the MTP with name)")
	case m.ControllerTopic != "":
		return errors.New("controller_topic: not a Controller key")
	}
	has := map[string]bool{"listen": m.Listen != "", "url": m.URL != "", "path": m.Path != "", "addr": m.Addr != "",
		"destination": m.Destination != "", "vhost": m.VirtualHost != "", "username": m.Username != "", "password": m.Password != "",
		"socket": m.Socket != "", "topic": m.Topic != "", "mqtt_version": m.MQTTVersion != "", "client_id": m.ClientID != "",
		"shared_group": m.SharedGroup != "", "reply_topic": m.ReplyTopic != "", "keep_session": m.KeepSession,
		"session_expiry": m.SessionExpiry != 0, "outgoing_heartbeat": m.OutgoingHeartbeat != nil,
		"incoming_heartbeat": m.IncomingHeartbeat != nil, "agents": len(m.Agents) > 0, "tls": m.TLS != nil,
		"retry": m.Retry != retryConfig{}, "agent_topic": m.AgentTopic != "",
		"max_conns": m.MaxConns != 0, "max_conns_per_source": m.MaxConnsPerSource != 0}
	if m.MaxRecord != 0 && m.MaxRecord < minMaxRecord {
		return fmt.Errorf("max_record: %d is under %d bytes", m.MaxRecord, minMaxRecord)
	}
	if m.Identity != "" && m.Identity != "verified" && m.Identity != "claimed" {
		return fmt.Errorf("identity: %q is not verified or claimed", m.Identity)
	}
	var allowed []string
	switch m.Protocol {
	case "MQTT":
		allowed = []string{"url", "mqtt_version", "client_id", "username", "password", "topic", "shared_group", "reply_topic",
			"keep_session", "session_expiry", "retry", "tls", "agent_topic"}
		if err := m.checkMQTT(); err != nil {
			return err
		}
	case "STOMP":
		allowed = []string{"addr", "vhost", "username", "password", "destination", "outgoing_heartbeat", "incoming_heartbeat", "retry", "tls",
			"agent_topic"}
		if _, _, err := net.SplitHostPort(m.Addr); err != nil {
			return fmt.Errorf("addr: %q is not host:port", m.Addr)
		}
		if m.Destination == "" {
			return errors.New("destination: missing (where Agents send to the Controller)")
		}
	case "WebSocket":
		if m.Listen != "" {
			allowed = []string{"listen", "path", "tls", "max_conns", "max_conns_per_source"}
			if len(m.Agents) > 0 {
				return errors.New("agents: a WebSocket MTP listens (listen) or connects to agents (agents), not both")
			}
		} else {
			allowed = []string{"agents", "retry", "tls"}
			if len(m.Agents) == 0 {
				return errors.New("listen: a WebSocket MTP needs listen (a server) or agents (a client)")
			}
			if err := m.checkAgents(); err != nil {
				return err
			}
		}
	case "UDS":
		allowed = []string{"socket"}
		if m.Socket == "" {
			return errors.New("socket: missing")
		}
	default:
		return fmt.Errorf("protocol: %q is not MQTT, STOMP, WebSocket or UDS", m.Protocol)
	}
	for _, key := range slices.Sorted(maps.Keys(has)) {
		if has[key] && !slices.Contains(allowed, key) {
			return fmt.Errorf("%s: not a key of a %s MTP", key, m.kind())
		}
	}
	if m.TLS != nil && m.TLS.ClientAuth && m.Listen == "" {
		return errors.New("tls.client_auth: only for a WebSocket server")
	}
	return nil
}

func (m *ctrlMTPConfig) kind() string {
	if m.Protocol == "WebSocket" && m.Listen == "" {
		return "WebSocket client"
	}
	if m.Protocol == "WebSocket" {
		return "WebSocket server"
	}
	return m.Protocol
}

func (m *ctrlMTPConfig) checkMQTT() error {
	switch m.MQTTVersion {
	case "", "5", "5.0", "3.1.1":
	default:
		return fmt.Errorf("mqtt_version: %q is not 5 or 3.1.1", m.MQTTVersion)
	}
	if m.URL == "" {
		return errors.New("url: missing (tcp://, ssl://, ws:// or wss:// and the broker)")
	}
	secure, err := mqttURLSecure(m.URL)
	if err != nil {
		return fmt.Errorf("url: %w", err)
	}
	if m.TLS != nil && !secure {
		return errors.New("tls: the url is not ssl:// or wss://")
	}
	if m.Topic == "" || strings.ContainsAny(m.Topic, "+#") {
		return errors.New("topic: missing or a wildcard (the topic Agents send to)")
	}
	if strings.ContainsAny(m.ReplyTopic, "+#") {
		return errors.New("reply_topic: a wildcard")
	}
	if g := m.SharedGroup; g != "" && (strings.ContainsAny(g, "/+#") || strings.HasPrefix(g, "$")) {
		return fmt.Errorf("shared_group: %q may not hold /, + or # or start with $", g)
	}
	return nil
}

func (m *ctrlMTPConfig) checkAgents() error {
	seen := map[string]bool{}
	for j, a := range m.Agents {
		if err := validateEndpointID(a.EndpointID); err != nil {
			return fmt.Errorf("agents[%d].endpoint_id: %w", j, err)
		}
		if !strings.HasPrefix(a.URL, "ws://") && !strings.HasPrefix(a.URL, "wss://") {
			return fmt.Errorf("agents[%d].url: %q is not ws:// or wss://", j, a.URL)
		}
		if seen[a.URL] || seen[a.EndpointID] {
			return fmt.Errorf("agents[%d]: %s or %s is listed twice", j, a.EndpointID, a.URL)
		}
		seen[a.URL], seen[a.EndpointID] = true, true
	}
	return nil
}

// mqttURLSecure reports whether an MQTT URL's scheme is a TLS one (ssl,
// tls, mqtts, wss).
func mqttURLSecure(raw string) (bool, error) {
	scheme, _, ok := strings.Cut(raw, "://")
	if !ok {
		return false, fmt.Errorf("%q has no scheme", raw)
	}
	switch scheme {
	case "tcp", "mqtt", "ws":
		return false, nil
	case "ssl", "tls", "mqtts", "wss":
		return true, nil
	}
	return false, fmt.Errorf("scheme %q is not tcp, ssl, ws or wss", scheme)
}

// mqttVersion maps a configuration's mqtt_version onto the client's.
func mqttVersion(s string) mqtt.Version {
	if s == "3.1.1" {
		return mqtt.V311
	}
	return mqtt.V5
}

// builtMTP is a Controller transport and the address to print for it.
type builtMTP struct {
	m    controller.MTP
	addr string
}

// buildControllerMTP makes the transport of one configured MTP; onState
// is the Controller's StateFunc for its name.
func buildControllerMTP(ctx context.Context, self string, mc *ctrlMTPConfig, onState mtp.StateFunc, log *slog.Logger) (builtMTP, error) {
	identity, _ := controller.ParseIdentity(mc.Identity)
	b := builtMTP{m: controller.MTP{Name: mc.Name, Protocol: mc.Protocol, Identity: identity, AgentTopic: mc.AgentTopic}}
	log = log.With("mtp", mc.Name)
	switch {
	case mc.Protocol == "MQTT":
		secure, _ := mqttURLSecure(mc.URL)
		tc, err := clientTLSFile(mc.TLS, secure)
		if err != nil {
			return b, err
		}
		v := mqttVersion(mc.MQTTVersion)
		o := &mqtt.Options{URL: mc.URL, TLS: tc, Version: v, EndpointID: self, ClientID: mc.ClientID, Username: mc.Username, MaxRecord: mc.MaxRecord,
			Password: mc.Password, Topic: mc.Topic, KeepSession: mc.KeepSession, SessionExpiry: mc.SessionExpiry,
			MinWait: mc.Retry.MinWait, Multiplier: mc.Retry.Multiplier, MaxWait: mc.Retry.MaxWait, OnState: onState, Logger: log}
		if f := sharedFilter(mc, v); f != "" {
			// The topic Agents send to is subscribed to through f (a
			// shared subscription, or besides the reply topic); the
			// Client's own topic, put in the Response Topic [R-MQTT.23],
			// is the reply topic when there is one.
			o.Subscriptions = []string{f}
			if mc.ReplyTopic != "" {
				o.Topic = mc.ReplyTopic
			}
		}
		b.m.Transport = mqtt.NewClient(o)
		b.addr = mc.URL + " " + o.Topic
	case mc.Protocol == "STOMP":
		tc, err := clientTLSFile(mc.TLS, mc.TLS != nil)
		if err != nil {
			return b, err
		}
		out, in := 30*time.Second, 30*time.Second
		if mc.OutgoingHeartbeat != nil {
			out = *mc.OutgoingHeartbeat
		}
		if mc.IncomingHeartbeat != nil {
			in = *mc.IncomingHeartbeat
		}
		b.m.Transport = stomp.NewClient(&stomp.Options{Addr: mc.Addr, TLS: tc, VirtualHost: mc.VirtualHost, Username: mc.Username,
			Password: mc.Password, EndpointID: self, Destination: mc.Destination, OutgoingHeartbeat: out, IncomingHeartbeat: in, MaxRecord: mc.MaxRecord,
			MinWait: mc.Retry.MinWait, Multiplier: mc.Retry.Multiplier, MaxWait: mc.Retry.MaxWait, OnState: onState, Logger: log})
		b.addr = mc.Addr + " " + mc.Destination
	case mc.Protocol == "WebSocket" && mc.Listen != "":
		tc, err := mc.TLS.build(true)
		if err != nil {
			return b, err
		}
		srv, err := ws.Listen(ctx, mc.Listen, &ws.Options{EndpointID: self, Path: mc.Path, TLS: tc, MaxRecord: mc.MaxRecord,
			MaxConns: mc.MaxConns, MaxConnsPerSource: mc.MaxConnsPerSource, Authenticate: mc.auth, OnState: onState, Logger: log})
		if err != nil {
			return b, fmt.Errorf("listen: %w", err)
		}
		scheme := "ws"
		if tc != nil {
			scheme = "wss"
		}
		b.m.Transport, b.addr = srv, scheme+"://"+srv.Addr().String()+mc.Path
	case mc.Protocol == "WebSocket":
		t, err := newWSAgents(self, mc, onState, log)
		if err != nil {
			return b, err
		}
		b.m.Transport, b.addr = t, fmt.Sprintf("%d agents", len(mc.Agents))
	case mc.Protocol == "UDS":
		b.m.Transport = uds.NewServer(&uds.Options{Path: mc.Socket, EndpointID: self, MaxRecord: mc.MaxRecord, OnState: onState, Logger: log})
		b.addr = mc.Socket
	}
	return b, nil
}

// sharedFilter is the Topic Filter through which an MQTT MTP receives what
// Agents send to its topic, when that is not simply the topic itself:
// "$share/GROUP/topic" for a shared subscription, or the topic when the
// Response Topic is another one. On MQTT 3.1.1 the filter covers the
// "/reply-to=" names below the topic [R-MQTT.24].
func sharedFilter(mc *ctrlMTPConfig, v mqtt.Version) string {
	if mc.SharedGroup == "" && (mc.ReplyTopic == "" || mc.ReplyTopic == mc.Topic) {
		return ""
	}
	f := mc.Topic
	if v == mqtt.V311 {
		f += "/#"
	}
	if mc.SharedGroup != "" {
		f = "$share/" + mc.SharedGroup + "/" + f
	}
	return f
}

// runningController is a Controller with its API and listeners.
type runningController struct {
	c    *controller.Controller
	api  string // http://host:port
	ws   string // ws://host:port/usp of the top-level WebSocket server, if any
	mtps []string
	// ups are closed when the broker client MTPs (MQTT, STOMP) are first
	// connected and subscribed.
	ups    []chan struct{}
	token  string // path of the admin token
	fresh  bool
	run    func(ctx context.Context) error
	closer func()
}

// startController opens the store, the transports of cfg and those extra
// makes (given the Controller's StateFunc for an MTP name), the Controller
// and its REST API.
func startController(ctx context.Context, cfg *controllerConfig, log *slog.Logger, extra ...func(onState func(string) mtp.StateFunc) controller.MTP) (*runningController, error) {
	if err := privateDir(cfg.Data, log); err != nil {
		return nil, err
	}
	tokens, tokenPath, fresh, err := api.LoadTokens(cfg.Data)
	if err != nil {
		return nil, err
	}
	var db interface {
		controller.Store
		Close() error
	}
	if cfg.Postgres != "" {
		db, err = postgres.Open(ctx, cfg.Postgres)
	} else {
		db, err = sqlite.Open(ctx, filepath.Join(cfg.Data, "controller.db"))
	}
	if err != nil {
		return nil, err
	}
	var c *controller.Controller
	onState := func(name string) mtp.StateFunc {
		return func(ctx context.Context, p mtp.Peer, s mtp.State, err error) {
			if c != nil {
				c.OnState(name)(ctx, p, s, err)
			}
		}
	}
	rc := &runningController{token: tokenPath, fresh: fresh}
	var built []builtMTP
	fail := func(err error) (*runningController, error) {
		for _, b := range built {
			b.m.Transport.Close()
		}
		db.Close()
		return nil, err
	}
	if cfg.WebSocket != "" {
		// Only /usp is served [R-WS.2]; other paths get 404.
		top := ctrlMTPConfig{Name: "WebSocket", mtpConfig: mtpConfig{Protocol: "WebSocket", Listen: cfg.WebSocket, Path: "/usp", TLS: cfg.TLS},
			connLimits: cfg.WebSocketLimits, auth: cfg.wsAuth, Identity: cfg.wsIdentity}
		b, err := buildControllerMTP(ctx, cfg.EndpointID, &top, onState(top.Name), log)
		if err != nil {
			return fail(fmt.Errorf("websocket: %w", err))
		}
		built, rc.ws = append(built, b), b.addr
	}
	for i := range cfg.MTPs {
		f := onState(cfg.MTPs[i].Name)
		if p := cfg.MTPs[i].Protocol; p == "MQTT" || p == "STOMP" {
			up := make(chan struct{})
			rc.ups, f = append(rc.ups, up), signalUp(f, up)
		}
		cfg.MTPs[i].auth = cfg.wsAuth
		b, err := buildControllerMTP(ctx, cfg.EndpointID, &cfg.MTPs[i], f, log)
		if err != nil {
			return fail(fmt.Errorf("mtps[%d] (%s): %w", i, cfg.MTPs[i].Name, err))
		}
		built = append(built, b)
	}
	var mtps []controller.MTP
	for _, b := range built {
		mtps = append(mtps, b.m)
		rc.mtps = append(rc.mtps, fmt.Sprintf("%s %s %s", b.m.Name, b.m.Protocol, b.addr))
	}
	for _, mk := range extra {
		mtps = append(mtps, mk(onState))
	}
	admission, _ := controller.ParseAdmission(cfg.Admission)
	c, err = controller.New(ctx, controller.Options{EndpointID: cfg.EndpointID, Store: db, MTPs: mtps, Admission: admission,
		MaxPending: cfg.MaxPending, Profiles: cfg.Profiles, Sessions: cfg.E2E.settings(""), E2ETLS: cfg.E2E.tls(), Logger: log})
	if err != nil {
		return fail(err)
	}
	cfg.E2E.apply(c)
	files, err := filestore.Open(filepath.Join(cfg.Data, "files"), log)
	if err != nil {
		return fail(fmt.Errorf("files: %w", err))
	}
	tel, stopTelemetry, err := startTelemetry(ctx, cfg.Telemetry, cfg.Data, cfg.Postgres, c, log)
	if err != nil {
		return fail(fmt.Errorf("telemetry: %w", err))
	}
	if stopTelemetry, err = withBulkMQTT(ctx, cfg, tel, stopTelemetry, log); err != nil {
		stopTelemetry()
		return fail(err)
	}
	// The web UI is served at / next to the API (webui.Mount).
	hs, ln, apiURL, err := apiServer(cfg.HTTP, cfg.API, cfg.Data, webui.Mount(api.New(api.Options{Controller: c, Tokens: tokens, Logger: log, Accounts: cfg.accounts,
		Files: files, FilesURL: cfg.API.filesURL(),
		Telemetry: tel, CollectorURL: cfg.Telemetry.collectorURL()})), log)
	if err != nil {
		stopTelemetry()
		return fail(fmt.Errorf("http: %w", err))
	}
	rc.c, rc.api = c, apiURL
	rc.run = func(ctx context.Context) error {
		errc := make(chan error, 2)
		go func() { errc <- c.Run(ctx) }()
		go func() {
			if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- err
			}
		}()
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		hs.Shutdown(sctx)
		return <-errc
	}
	stopAdvertise, err := startAdvertise(ctx, cfg.Advertise, cfg.EndpointID, controllerURLs(cfg, built), log)
	if err != nil {
		ln.Close()
		stopTelemetry()
		return fail(err)
	}
	rc.closer = func() { stopAdvertise(); stopTelemetry(); db.Close() }
	return rc, nil
}

func runController(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "controller", "")
	config := fs.String("config", "", "configuration `file` (YAML; the keys are listed below)")
	usage := fs.Usage
	fs.Usage = func() {
		usage()
		fmt.Fprint(e.stderr, controllerHelp)
	}
	if err := parse(fs, args); err != nil {
		return err
	}
	var b []byte
	if *config != "" {
		var err error
		if b, err = os.ReadFile(*config); err != nil {
			return err
		}
	}
	cfg, err := loadControllerConfig(b)
	if err != nil {
		return fmt.Errorf("%s: %w", *config, err)
	}
	if cfg.Data == "" {
		cfg.Data = dataDir()
	}
	log := newLogger(e.stderr, cfg.LogLevel)
	var ebUp chan struct{} // closed once subscribed at the embedded broker
	if cfg.EmbeddedBroker != nil {
		ebUp = make(chan struct{})
	}
	eb, extra, err := withEmbeddedBroker(ctx, cfg, cfg.EmbeddedBroker, log, ebUp)
	if err != nil {
		return err
	}
	if eb != nil {
		defer eb.close()
	}
	rc, err := startController(ctx, cfg, log, extra...)
	if err != nil {
		return err
	}
	defer rc.closer()
	if ebUp != nil {
		rc.ups = append(rc.ups, ebUp)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- rc.run(ctx) }()
	// Ready once subscribed at every broker, so that what Agents send
	// from then on finds the Controller listening; a broker that is not
	// reached in time is retried in the background.
	deadline := time.After(15 * time.Second)
	for _, up := range rc.ups {
		select {
		case <-up:
		case err := <-errc:
			return err
		case <-deadline:
		}
	}
	// The client verbs find this API as they find `usp up`'s.
	unpublish, err := publishAPI(cfg.Data, rc.api)
	if err != nil {
		return err
	}
	defer unpublish()
	fmt.Fprintf(e.stdout, "controller %s\napi %s\n", cfg.EndpointID, rc.api)
	for _, m := range rc.mtps {
		fmt.Fprintf(e.stdout, "mtp %s\n", m)
	}
	if rc.ws != "" {
		fmt.Fprintf(e.stdout, "websocket %s\n", rc.ws)
	}
	if eb != nil {
		eb.describe(e.stdout)
	}
	fmt.Fprintf(e.stdout, "token %s\nready\n", rc.token)
	return <-errc
}

// mtpLabel is how `usp agents` shows the MTP an Agent was last heard on:
// its protocol, then its name when that is not the protocol
// ("MQTT/fleet").
func mtpLabel(a controller.Agent) string {
	if a.MTP == "" || a.MTP == a.Protocol {
		return a.Protocol
	}
	return a.Protocol + "/" + a.MTP
}

// externalMQTTFlags adds `usp up`'s flags for an external MQTT broker that
// the Controller also subscribes at, beside its embedded one; the
// function returned, called after parsing, gives the MTP they configure
// (none without --mqtt-external).
func externalMQTTFlags(fs *flag.FlagSet) func() ([]ctrlMTPConfig, error) {
	url := fs.String("mqtt-external", "", "`URL` of an external MQTT 5 broker the controller also subscribes at, as MTP \"external\" "+
		"(tcp://, or ssl:// with the system roots; logins, client certificates, 3.1.1 or STOMP: usp controller --config)")
	topic := fs.String("mqtt-external-topic", "usp/controller/uspkit", "the controller's `topic` on the external broker")
	return func() ([]ctrlMTPConfig, error) {
		if *url == "" {
			return nil, nil
		}
		m := ctrlMTPConfig{Name: "external", mtpConfig: mtpConfig{Protocol: "MQTT", URL: *url, Topic: *topic}}
		if err := m.check(); err != nil {
			return nil, fmt.Errorf("%w: --mqtt-external: %w", errUsage, err)
		}
		return []ctrlMTPConfig{m}, nil
	}
}

// refuseAgentTLSKeys refuses the tls keys that only an Agent takes:
// no_absolute_time is for a device without a clock, and a Controller
// always checks its peers' certificate dates.
func (c *controllerConfig) refuseAgentTLSKeys() error {
	tlsAt := map[string]*tlsConfig{"tls": c.TLS}
	if c.E2E != nil {
		tlsAt["e2e.tls"] = c.E2E.TLS
	}
	for i := range c.MTPs {
		tlsAt[fmt.Sprintf("mtps[%d].tls", i)] = c.MTPs[i].TLS
	}
	for at, t := range tlsAt {
		if t != nil && t.NoAbsoluteTime {
			return fmt.Errorf("%s: no_absolute_time: an Agent key (a device without a clock); a Controller always checks certificate dates", at)
		}
	}
	return nil
}
