//go:build !usp_device

package cli

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"slices"
	"time"

	"github.com/uspkit/uspkit/broker"
	"github.com/uspkit/uspkit/controller"
	"github.com/uspkit/uspkit/controller/api"
	"github.com/uspkit/uspkit/endpoint"
	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/mtp/mqtt"
	"github.com/uspkit/uspkit/pki"
)

// embeddedBrokerConfig is the `embedded_broker:` section of a
// Controller's configuration: an MQTT broker in the Controller's process,
// whose Agent accounts live in the data directory (usp agents
// add/revoke). `usp up` fills it from its flags.
type embeddedBrokerConfig struct {
	// Listen is the plain TCP listener (password logins);
	// 127.0.0.1:1883 by default.
	Listen string `yaml:"listen"`
	// TLSListen, if set, adds a TLS listener that also takes client
	// certificates from the Controller's CA (usp agents add --cert).
	TLSListen string `yaml:"tls_listen"`
	// Cert and Key are the TLS listener's certificate files; by default
	// the Controller's CA issues one for Hosts (default localhost,
	// 127.0.0.1, ::1 and TLSListen's host).
	Cert  string   `yaml:"cert"`
	Key   string   `yaml:"key"`
	Hosts []string `yaml:"hosts"`
	// AllowAnonymous lets clients without credentials connect (off by
	// default); under the USP topic policy they get no Agent topic.
	AllowAnonymous bool `yaml:"allow_anonymous"`
	// MaxClients caps connected clients (0: broker.DefaultMaxClients).
	MaxClients int `yaml:"max_clients"`
	// reportTopic is the broker's ReportTopicPattern: where Agents
	// publish Bulk Data reports (telemetrymqtt.go).
	reportTopic string
}

// Files of the embedded broker in the data directory.
const (
	brokerAccountsFile = "broker-accounts.json" // Agent accounts, 0600
	pkiDir             = "pki"                  // the Controller's CA
)

// embeddedControllerUser is the local Controller's account on the
// embedded broker; its topic is usp/controller/controller/#.
const embeddedControllerUser = "controller"

// embeddedBroker is a running embedded broker with its accounts and CA.
type embeddedBroker struct {
	brk     *broker.Broker
	accts   *broker.Accounts
	ca      *pki.CA
	ctlPass string // the local Controller's password, made for this run
}

// startEmbeddedBroker opens the accounts and the CA in dir and starts the
// broker under the USP topic policy.
func startEmbeddedBroker(ctx context.Context, dir string, c *embeddedBrokerConfig, log *slog.Logger) (*embeddedBroker, error) {
	cfg := *c
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:1883"
	}
	accts, err := broker.OpenAccounts(filepath.Join(dir, brokerAccountsFile))
	if err != nil {
		return nil, err
	}
	ca, err := pki.Open(filepath.Join(dir, pkiDir))
	if err != nil {
		return nil, err
	}
	eb := &embeddedBroker{accts: accts, ca: ca, ctlPass: randomToken()}
	o := &broker.Options{Addr: cfg.Listen, Users: map[string]string{embeddedControllerUser: eb.ctlPass},
		Controllers: []string{embeddedControllerUser}, USPPolicy: true, Accounts: accts,
		AllowAnonymous: cfg.AllowAnonymous, MaxClients: cfg.MaxClients, ReportTopicPattern: cfg.reportTopic, Logger: log}
	if cfg.TLSListen != "" {
		if o.TLS, err = eb.serverTLS(&cfg); err != nil {
			return nil, err
		}
		o.TLSAddr = cfg.TLSListen
	}
	if eb.brk, err = broker.New(o); err != nil {
		return nil, err
	}
	if err := eb.brk.Start(ctx); err != nil {
		return nil, fmt.Errorf("mqtt: %w", err)
	}
	return eb, nil
}

// serverTLS is the TLS listener's configuration: its certificate, and
// client certificates verified against the Controller's CA when given.
func (eb *embeddedBroker) serverTLS(c *embeddedBrokerConfig) (*tls.Config, error) {
	var cert tls.Certificate
	var err error
	switch {
	case c.Cert != "" || c.Key != "":
		cert, err = tls.LoadX509KeyPair(c.Cert, c.Key)
	default:
		hosts := c.Hosts
		if len(hosts) == 0 {
			hosts = []string{"localhost", "127.0.0.1", "::1"}
			if h, _, err := net.SplitHostPort(c.TLSListen); err == nil && h != "" && !slices.Contains(hosts, h) {
				hosts = append(hosts, h)
			}
		}
		cert, err = eb.ca.ServerCertificate(hosts)
	}
	if err != nil {
		return nil, fmt.Errorf("embedded_broker: %w", err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, ClientCAs: eb.ca.Pool(),
		ClientAuth: tls.VerifyClientCertIfGiven, MinVersion: tls.VersionTLS12}, nil
}

// url is the plain listener's URL, tlsURL the TLS one's ("" if none).
func (eb *embeddedBroker) url() string { return "tcp://" + eb.brk.Addrs().TCP }

func (eb *embeddedBroker) tlsURL() string {
	if a := eb.brk.Addrs().TLS; a != "" {
		return "tls://" + a
	}
	return ""
}

func (eb *embeddedBroker) close() { eb.brk.Close() }

// controllerMTP is the local Controller's MQTT client to the broker,
// listening on topic (under usp/controller/controller/). The broker
// gives each Agent account its Endpoint ID's topic and binds its reply-to
// to it, so the Controller may require that an Agent's from_id is the
// Endpoint ID of its reply-to topic (AgentTopic).
func (eb *embeddedBroker) controllerMTP(endpointID, topic string, onState mtp.StateFunc, log *slog.Logger) controller.MTP {
	return controller.MTP{Protocol: "MQTT", AgentTopic: agentTopic("{eid}"),
		Transport: mqtt.NewClient(&mqtt.Options{URL: eb.url(), EndpointID: endpointID,
			Username: embeddedControllerUser, Password: eb.ctlPass, Topic: topic, OnState: onState, Logger: log, MinWait: 200 * time.Millisecond})}
}

// agentTopic is an Agent's own topic on the embedded broker: the USP
// topic policy's usp/agent/{user} with its account, its Endpoint ID.
func agentTopic(endpointID string) string { return "usp/agent/" + endpointID }

// accountsAPI serves the REST API's /api/v1/accounts.
func (eb *embeddedBroker) accountsAPI() api.Accounts { return brokerAccounts{eb} }

// brokerAccounts is api.Accounts over the embedded broker's accounts and
// the Controller's CA.
type brokerAccounts struct{ eb *embeddedBroker }

func (a brokerAccounts) List(context.Context) ([]api.Account, error) {
	var out []api.Account
	for _, x := range a.eb.accts.List() {
		out = append(out, api.Account{EndpointID: x.Name, Created: x.Created, Password: x.Password, Certificates: x.Certificates})
	}
	return out, nil
}

func (a brokerAccounts) AddPassword(_ context.Context, id string) (*api.Credentials, error) {
	if err := endpoint.Validate(id); err != nil {
		return nil, err
	}
	pass, err := a.eb.accts.SetPassword(id)
	if err != nil {
		return nil, err
	}
	return &api.Credentials{EndpointID: id, Username: id, Password: pass, Topic: agentTopic(id)}, nil
}

func (a brokerAccounts) AddCertificate(_ context.Context, id string) (*api.Credentials, error) {
	is, err := a.eb.ca.IssueAgent(id, 0)
	if err != nil {
		return nil, err
	}
	if err := a.eb.accts.AddCertificate(id, is.Cert); err != nil {
		return nil, err
	}
	return &api.Credentials{EndpointID: id, Certificate: string(is.CertPEM), Key: string(is.KeyPEM),
		CA: string(a.eb.ca.CertPEM()), Topic: agentTopic(id)}, nil
}

func (a brokerAccounts) Revoke(_ context.Context, id string) error {
	err := a.eb.accts.Revoke(id)
	if errors.Is(err, broker.ErrNoAccount) {
		return fmt.Errorf("%w: %s", api.ErrNoAccount, id)
	}
	return err
}

// embeddedControllerTopic is the Controller's own topic on its embedded
// broker, inside usp/controller/controller/#; Agents send to it.
const embeddedControllerTopic = "usp/controller/" + embeddedControllerUser + "/uspkit"

// withEmbeddedBroker starts the broker of an `embedded_broker:` section
// (nil: none, and a nil *embeddedBroker) for the Controller configured by
// cfg, and sets cfg's accounts for the REST API. It returns the broker,
// to close after the Controller has stopped, and the Controller's MQTT
// transport to it, for startController; up, if not nil, is closed once
// the Controller is subscribed there.
//
//	eb, extra, err := withEmbeddedBroker(ctx, cfg, cfg.EmbeddedBroker, log, nil)
//	defer eb.close() // if not nil
//	rc, err := startController(ctx, cfg, log, extra...)
func withEmbeddedBroker(ctx context.Context, cfg *controllerConfig, bc *embeddedBrokerConfig, log *slog.Logger, up chan struct{}) (*embeddedBroker, []func(func(string) mtp.StateFunc) controller.MTP, error) {
	if bc == nil {
		return nil, nil, nil
	}
	if err := privateDir(cfg.Data, log); err != nil {
		return nil, nil, err
	}
	if !cfg.Telemetry.disabled() {
		bc = bc.withReports(cfg.Telemetry.bulkMQTTTopic())
	}
	eb, err := startEmbeddedBroker(ctx, cfg.Data, bc, log)
	if err != nil {
		return nil, nil, fmt.Errorf("embedded_broker: %w", err)
	}
	if !cfg.Telemetry.disabled() {
		cfg.bulkMQTT = &bulkMQTTConn{url: eb.url(), username: embeddedControllerUser, password: eb.ctlPass}
	}
	cfg.accounts = eb.accountsAPI()
	cfg.wsAuth = accountAuth(eb.accts, eb.ca)
	mk := func(onState func(string) mtp.StateFunc) controller.MTP {
		st := onState("MQTT")
		if up != nil {
			st = signalUp(st, up)
		}
		return eb.controllerMTP(cfg.EndpointID, embeddedControllerTopic, st, log)
	}
	return eb, []func(func(string) mtp.StateFunc) controller.MTP{mk}, nil
}

// describe prints the broker's "mqtt URL" and "mqtts URL" lines.
func (eb *embeddedBroker) describe(w io.Writer) {
	fmt.Fprintf(w, "mqtt %s\n", eb.url())
	if u := eb.tlsURL(); u != "" {
		fmt.Fprintf(w, "mqtts %s\n", u)
	}
}
