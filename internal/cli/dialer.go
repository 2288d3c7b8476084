package cli

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"time"

	"github.com/uspkit/uspkit/agent"
	"github.com/uspkit/uspkit/discovery"
	"github.com/uspkit/uspkit/mtp/mqtt"
	"github.com/uspkit/uspkit/mtp/uds"
	"github.com/uspkit/uspkit/record"
)

// dialer opens the agent's transports from its data model. What TR-181
// does not hold comes from the configuration file, by the MTP's Alias:
// certificates, the address to listen on, the socket path, the topic to
// answer a Controller that names none.
type dialer struct {
	self  string
	log   *slog.Logger
	local map[string]mtpConfig // by Alias
	mdns  *discovery.Options   // resolves ".local." hosts when set (discovery.go)
	// mqtt are the MQTT clients opened, for Bulk Data (bulkdatamqtt.go).
	mqtt mqttClients
	// trust holds the certificates added with
	// Device.LocalAgent.AddCertificate(), trusted by the TLS of the
	// transports opened.
	trust *agent.TrustStore
}

// errNoLocal is returned for a transport that needs local settings the
// configuration file does not give (a socket path, a server certificate).
var errNoLocal = errors.New("not in the configuration file")

func (d *dialer) Dial(ctx context.Context, c *agent.Connection) (agent.MTP, error) {
	m := agent.MTP{Protocol: c.Protocol}
	local, hasLocal := d.local[c.Alias]
	self := d.self
	switch {
	case c.MQTT != nil:
		cm := c.MQTT
		scheme := "tcp"
		switch {
		case cm.TransportProtocol == "WebSocketTLS", cm.TransportProtocol == "WebSocket" && cm.EnableEncryption:
			scheme = "wss"
		case cm.TransportProtocol == "WebSocket":
			scheme = "ws"
		case cm.TransportProtocol == "TLS" || cm.EnableEncryption:
			scheme = "ssl"
		}
		u := &url.URL{Scheme: scheme, Host: net.JoinHostPort(cm.BrokerAddress, strconv.Itoa(int(cm.BrokerPort)))}
		if scheme == "ws" || scheme == "wss" {
			u.Path = "/mqtt"
			if hasLocal {
				if lu, err := url.Parse(local.URL); err == nil && lu.Path != "" {
					u.Path = lu.Path
				}
			}
		}
		tc, err := d.clientTLS(local.TLS, scheme == "ssl" || scheme == "wss", cm.BrokerAddress)
		if err != nil {
			return m, err
		}
		v, rv := mqtt.V5, record.MQTTVersion5
		if cm.ProtocolVersion == "3.1.1" {
			v, rv = mqtt.V311, record.MQTTVersion311
		}
		cli := mqtt.NewClient(&mqtt.Options{URL: u.String(), TLS: tc, Version: v, EndpointID: self, ClientID: cm.ClientID,
			Username: cm.Username, Password: cm.Password, Topic: cm.ResponseTopic, DefaultPeerTopic: local.ControllerTopic, Subscriptions: cm.Subscriptions, SubscriptionQoS: subscriptionQoS(cm.SubscriptionQoS),
			KeepAlive: cm.KeepAlive, KeepSession: !cm.CleanSession, PublishQoS: mqtt.QoS(min(cm.PublishQoS, 2) + 1),
			MaxRecord: local.MaxRecord, MaxPacketSize: cm.MaxPacketSize,
			MinWait: cm.Retry.MinWait, Multiplier: cm.Retry.Multiplier, MaxWait: cm.Retry.MaxWait, Will: mqttWill(self, cm), OnState: c.OnState, Logger: d.log})
		m.Transport = cli
		m.Connect = func(to string) *record.Record { return record.NewMQTTConnect(to, self, rv, cli.Topic()) }
		d.mqtt.add(cm.Client, cli, v == mqtt.V311)
	case c.STOMP != nil:
		return d.dialSTOMP(c, local) // mtp_stomp.go; an error with usp_nostomp
	case c.WebSocket != nil && c.WebSocket.Controller != "":
		return d.dialWSClient(c, local) // mtp_ws.go; an error with usp_nows
	case c.WebSocket != nil:
		return d.dialWSServer(ctx, c, local, hasLocal) // mtp_ws.go
	case c.Protocol == "UDS":
		if !hasLocal || local.Socket == "" {
			return m, fmt.Errorf("the socket path (socket): %w", errNoLocal)
		}
		m.Transport = uds.NewClient(&uds.Options{Path: local.Socket, EndpointID: self, MaxRecord: local.MaxRecord, OnState: c.OnState, Logger: d.log})
		m.Connect = func(to string) *record.Record { return record.NewUDSConnect(to, self) }
	default:
		return m, fmt.Errorf("protocol %q is not supported", c.Protocol)
	}
	return m, nil
}

// clientTLS is the TLS configuration of a client connection: the file's,
// else the system's roots, or none when the data model asks for none;
// either way with the certificates added by AddCertificate() so far.
func (d *dialer) clientTLS(t *tlsConfig, encrypt bool, host string) (*tls.Config, error) {
	if !encrypt {
		return nil, nil
	}
	if t != nil {
		c, err := t.build(false)
		return d.trust.ClientTLS(c), err
	}
	return d.trust.ClientTLS(&tls.Config{MinVersion: tls.VersionTLS12, ServerName: host}), nil
}

// factoryMTP turns one transport of the configuration file into the
// factory Device.LocalAgent.MTP entry that the data model starts with. A
// WebSocket client (url) and a server on port 0 are not expressible in
// TR-181 and stay fixed: ok is false.
func factoryMTP(i int, mc *mtpConfig) (m agent.MTPConfig, ok bool, err error) {
	if mc.Alias == "" {
		mc.Alias = "cpe-mtp-" + strconv.Itoa(i+1)
	}
	m = agent.MTPConfig{Alias: mc.Alias, Protocol: mc.Protocol}
	encrypted := strconv.FormatBool(mc.TLS != nil)
	switch mc.Protocol {
	case "WebSocket":
		if mc.Listen == "" {
			return m, false, nil
		}
		_, port, err := net.SplitHostPort(mc.Listen)
		if err != nil {
			return m, false, fmt.Errorf("listen: %w", err)
		}
		if port == "0" {
			return m, false, nil
		}
		path := mc.Path
		if path == "" {
			path = "/"
		}
		m.Params = map[string]string{"WebSocket.Port": port, "WebSocket.Path": path, "WebSocket.EnableEncryption": encrypted}
	case "MQTT":
		u, err := url.Parse(mc.URL)
		if err != nil {
			return m, false, fmt.Errorf("url: %w", err)
		}
		transport, enc, port := "TCP/IP", "false", "1883"
		switch u.Scheme {
		case "tcp", "mqtt":
		case "ssl", "tls", "mqtts":
			transport, enc, port = "TLS", "true", "8883"
		case "ws":
			transport, port = "WebSocket", "80"
		case "wss":
			transport, enc, port = "WebSocketTLS", "true", "443"
		default:
			return m, false, fmt.Errorf("url: scheme %q is not tcp, ssl, ws or wss", u.Scheme)
		}
		if u.Port() != "" {
			port = u.Port()
		}
		version := "5.0"
		if mc.MQTTVersion == "3.1.1" {
			version = "3.1.1"
		}
		m.Connection = map[string]string{"BrokerAddress": u.Hostname(), "BrokerPort": port, "TransportProtocol": transport,
			"EnableEncryption": enc, "ProtocolVersion": version, "Username": mc.Username, "Password": mc.Password,
			// A broker restart is retried within seconds, not the
			// minute of TR-181's defaults.
			"ConnectRetryTime": "5", "ConnectRetryMaxInterval": "300"}
		m.Params = map[string]string{"MQTT.PublishQoS": "1"}
		if mc.Topic != "" {
			m.Params["MQTT.ResponseTopicConfigured"] = mc.Topic
		}
	case "STOMP":
		host, port, err := net.SplitHostPort(mc.Addr)
		if err != nil {
			return m, false, fmt.Errorf("addr: %w", err)
		}
		heartbeat := strconv.Itoa(int((30 * time.Second).Milliseconds()))
		m.Connection = map[string]string{"Host": host, "Port": port, "Username": mc.Username, "Password": mc.Password,
			"VirtualHost": mc.VirtualHost, "EnableEncryption": encrypted, "EnableHeartbeats": "true",
			"OutgoingHeartbeat": heartbeat, "IncomingHeartbeat": heartbeat,
			"ServerRetryInitialInterval": "5", "ServerRetryMaxInterval": "300"}
		m.Params = map[string]string{"STOMP.Destination": mc.Destination}
	case "UDS":
	default:
		return m, false, nil
	}
	return m, true, nil
}

// mqttWill is the Will of an MQTT client: a Disconnect Record for the
// first Controller that uses it, so that a Controller learns at once of an
// Agent that died [R-MTP.7].
func mqttWill(self string, cm *agent.MQTTConnection) *mqtt.Will {
	if cm.WillController == "" {
		return nil
	}
	b, err := record.NewDisconnect(cm.WillController, self, 0, "MQTT connection lost").MarshalBinary()
	if err != nil {
		return nil
	}
	return &mqtt.Will{Topic: cm.WillTopic, Record: b}
}

// subscriptionQoS is the data model's QoS (0 to 2) of each subscription
// as the MQTT client's.
func subscriptionQoS(m map[string]uint32) map[string]mqtt.QoS {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]mqtt.QoS, len(m))
	for f, q := range m {
		out[f] = mqtt.QoS(min(q, 2) + 1)
	}
	return out
}
