//go:build !usp_device

package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/eclipse/paho.golang/autopaho"
	"github.com/eclipse/paho.golang/paho"

	"github.com/uspkit/uspkit/endpoint"
	"github.com/uspkit/uspkit/telemetry"
)

// defaultBulkMQTTTopic is the topic filter the Controller takes Bulk Data
// reports from by default: an Agent's profile publishes to
// usp/bulkdata/<EndpointID> or below it (MQTT.PublishTopic).
const defaultBulkMQTTTopic = "usp/bulkdata/+/#"

// bulkMQTTConn is the broker connection the MQTT report ingest uses: the
// embedded broker's, or that of the first MQTT MTP of the configuration,
// with the Controller's credentials.
type bulkMQTTConn struct {
	url, username, password string
	tls                     *tlsConfig
	// share is the MTP's shared subscription group: Controllers that
	// share one also share the reports, each stored once.
	share string
}

// bulkSubscription is the SUBSCRIBE filter of the report filter f: a
// shared subscription "$share/<group>/f" when the MTP has a group.
func bulkSubscription(f, group string) string {
	if group == "" {
		return f
	}
	return "$share/" + group + "/" + f
}

// bulkMQTTTopic is the ingest's topic filter ("" when off).
func (t *telemetryConfig) bulkMQTTTopic() string {
	switch {
	case t == nil || t.MQTTTopic == "":
		return defaultBulkMQTTTopic
	case t.MQTTTopic == "off":
		return ""
	}
	return t.MQTTTopic
}

// checkBulkMQTTTopic checks telemetry.mqtt_topic: a topic filter with a
// "+" level, where each report's topic names its Agent.
func checkBulkMQTTTopic(f string) error {
	if f == "" || f == "off" {
		return nil
	}
	if _, err := agentLevel(f); err != nil {
		return fmt.Errorf("telemetry.mqtt_topic: %w", err)
	}
	return nil
}

// agentLevel is the index of filter f's first "+" level: the level of a
// report's topic that is the Endpoint ID of the Agent that sent it.
func agentLevel(f string) (int, error) {
	levels := strings.Split(f, "/")
	at := -1
	for i, l := range levels {
		switch {
		case l == "#" && i != len(levels)-1, l != "+" && l != "#" && strings.ContainsAny(l, "+#"):
			return 0, fmt.Errorf("%q is not a topic filter", f)
		case l == "+" && at < 0:
			at = i
		}
	}
	if at < 0 || strings.HasPrefix(f, "$") {
		return 0, fmt.Errorf("%q has no \"+\" level for the Agent's Endpoint ID", f)
	}
	return at, nil
}

// reportAgent maps the topic of a report received through filter f to the
// Agent that sent it: the topic level where f has its first "+", which
// must be an Endpoint ID.
func reportAgent(f, topic string) (string, error) {
	at, err := agentLevel(f)
	if err != nil {
		return "", err
	}
	levels := strings.Split(topic, "/")
	if at >= len(levels) {
		return "", fmt.Errorf("topic %q has no level %d", topic, at+1)
	}
	id := levels[at]
	if err := endpoint.Validate(id); err != nil {
		return "", fmt.Errorf("topic %q: level %d: %w", topic, at+1, err)
	}
	return id, nil
}

// reportPattern is the embedded broker's ReportTopicPattern for filter
// f: f with its Agent level as {user}, so that an Agent publishes only
// under its own Endpoint ID.
func reportPattern(f string) string {
	at, err := agentLevel(f)
	if err != nil {
		return ""
	}
	levels := strings.Split(f, "/")
	levels[at] = "{user}"
	return strings.Join(levels, "/")
}

// bulkMQTTIngest takes the Bulk Data reports Agents publish to MQTT
// (TR-181 Device.BulkData.Profile.{i}.MQTT) into svc.
type bulkMQTTIngest struct {
	svc    *telemetry.Service
	filter string
	log    *slog.Logger
}

// handle stores one received report; one whose Agent or content cannot be
// told is logged and dropped.
func (b *bulkMQTTIngest) handle(ctx context.Context, topic string, payload []byte, contentType string) {
	agent, err := reportAgent(b.filter, topic)
	if err != nil {
		b.log.WarnContext(ctx, "MQTT bulk data report refused: no Agent", "topic", topic, "err", err)
		return
	}
	if _, err := b.svc.IngestReport(ctx, agent, payload, contentType); err != nil {
		b.log.WarnContext(ctx, "MQTT bulk data report not stored", "agent", agent, "topic", topic, "err", err)
	}
}

// startBulkMQTT subscribes to the report topic filter f on the broker of
// conn, with the Controller's credentials, and stores what comes until
// ctx ends or the returned stop is called. The client speaks MQTT 5.0, so
// that reports carry their Content Type; one without is told by its
// first byte. It reconnects and subscribes again after a lost connection
// (reports published meanwhile at QoS 1 or 2 are lost unless retained).
// up, if not nil, is closed once the first subscription is acknowledged.
func startBulkMQTT(ctx context.Context, conn *bulkMQTTConn, f string, svc *telemetry.Service, up chan struct{}, log *slog.Logger) (func(), error) {
	u, err := url.Parse(conn.url)
	if err != nil {
		return nil, fmt.Errorf("telemetry: mqtt: %w", err)
	}
	secure, err := mqttURLSecure(conn.url)
	if err != nil {
		return nil, fmt.Errorf("telemetry: mqtt: %w", err)
	}
	tc, err := clientTLSFile(conn.tls, secure)
	if err != nil {
		return nil, fmt.Errorf("telemetry: mqtt: %w", err)
	}
	rnd := make([]byte, 8)
	rand.Read(rnd)
	log = log.With("bulkdata_topic", f)
	in := &bulkMQTTIngest{svc: svc, filter: f, log: log}
	ctx, cancel := context.WithCancel(ctx)
	var once sync.Once
	cfg := autopaho.ClientConfig{
		ServerUrls:                    []*url.URL{u},
		TlsCfg:                        tc,
		KeepAlive:                     60,
		CleanStartOnInitialConnection: true,
		ConnectUsername:               conn.username,
		ConnectPassword:               []byte(conn.password),
		ReconnectBackoff:              func(int) time.Duration { return time.Second },
		ConnectTimeout:                10 * time.Second,
		OnConnectionUp: func(cm *autopaho.ConnectionManager, _ *paho.Connack) {
			go func() {
				sa, err := cm.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: bulkSubscription(f, conn.share), QoS: 1}}})
				if err == nil && (len(sa.Reasons) != 1 || sa.Reasons[0] >= 0x80) {
					err = fmt.Errorf("refused: %v", sa.Reasons)
				}
				if err != nil {
					log.Error("MQTT bulk data reports: subscription failed", "err", err)
					return
				}
				log.Info("MQTT bulk data reports: subscribed")
				if up != nil {
					once.Do(func() { close(up) })
				}
			}()
		},
		OnConnectError: func(err error) { log.Warn("MQTT bulk data reports: connection failed", "err", err) },
		ClientConfig: paho.ClientConfig{
			ClientID: "uspkit-bulkdata-" + hex.EncodeToString(rnd),
			OnPublishReceived: []func(paho.PublishReceived) (bool, error){func(pr paho.PublishReceived) (bool, error) {
				var ct string
				if pr.Packet.Properties != nil {
					ct = pr.Packet.Properties.ContentType
				}
				in.handle(ctx, pr.Packet.Topic, pr.Packet.Payload, ct)
				return true, nil
			}},
		},
	}
	cm, err := autopaho.NewConnection(ctx, cfg)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("telemetry: mqtt: %w", err)
	}
	return func() {
		dctx, dcancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer dcancel()
		if err := cm.Disconnect(dctx); err != nil && !errors.Is(err, context.Canceled) {
			log.Debug("MQTT bulk data reports: disconnect", "err", err)
		}
		cancel()
		<-cm.Done()
	}, nil
}

// withBulkMQTT starts the MQTT report ingest of cfg, when telemetry is on,
// its topic is not "off" and the Controller has a broker (the embedded
// one, or an MQTT MTP), and returns stop extended to stop it too.
func withBulkMQTT(ctx context.Context, cfg *controllerConfig, svc *telemetry.Service, stop func(), log *slog.Logger) (func(), error) {
	f := cfg.Telemetry.bulkMQTTTopic()
	if svc == nil || f == "" {
		if cfg.bulkMQTTUp != nil {
			close(cfg.bulkMQTTUp) // nothing to wait for
		}
		return stop, nil
	}
	conn := cfg.bulkMQTT
	if conn == nil {
		for _, m := range cfg.MTPs {
			if m.Protocol == "MQTT" {
				conn = &bulkMQTTConn{url: m.URL, username: m.Username, password: m.Password, tls: m.TLS, share: m.SharedGroup}
				break
			}
		}
	}
	if conn == nil {
		return stop, nil
	}
	stopMQTT, err := startBulkMQTT(ctx, conn, f, svc, cfg.bulkMQTTUp, log)
	if err != nil {
		return stop, err
	}
	return func() { stopMQTT(); stop() }, nil
}

// disabled reports whether telemetry is off.
func (t *telemetryConfig) disabled() bool { return t != nil && t.Disabled }

// withReports returns a copy of c whose broker lets each Agent publish
// reports to filter f under its own Endpoint ID ("" f: none).
func (c *embeddedBrokerConfig) withReports(f string) *embeddedBrokerConfig {
	x := *c
	x.reportTopic = reportPattern(f)
	return &x
}
