package cli

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync/atomic"

	"go.yaml.in/yaml/v3"

	"github.com/uspkit/uspkit/agent"
	"github.com/uspkit/uspkit/datamodel"
	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/mtp/mqtt"
	"github.com/uspkit/uspkit/mtp/uds"
	"github.com/uspkit/uspkit/record"
	"github.com/uspkit/uspkit/schema"
	"github.com/uspkit/uspkit/tr181/deviceinfo"
	"github.com/uspkit/uspkit/tr181/gatewayinfo"
)

// agentConfig is the file `usp agent --config` reads.
type agentConfig struct {
	EndpointID string `yaml:"endpoint_id"`
	Data       string `yaml:"data"`
	// Store is the driver keeping the data directory's store: journal
	// (default; sqlite where agent.db is there already), sqlite or bolt
	// (internal/cli/agentstore.go).
	Store    string      `yaml:"store"`
	LogLevel string      `yaml:"log_level"`
	MTPs     []mtpConfig `yaml:"mtps"`
	// Factory is the factory configuration: controllers and roles.
	Factory agent.Config `yaml:"factory"`
	// Discovery turns on mDNS advertisement and browsing and DHCP
	// discovery (internal/cli/discovery.go).
	Discovery *discoveryConfig `yaml:"discovery"`
	// USPBroker makes the Agent a USP Broker for USP Services
	// (internal/cli/uspbroker.go).
	USPBroker *uspBrokerConfig `yaml:"usp_broker"`
	// SoftwareModules turns on Device.SoftwareModules (internal/cli/smm.go).
	SoftwareModules *softwareConfig `yaml:"software_modules"`
	// BulkData configures Device.BulkData (internal/cli/bulkdata.go).
	BulkData *bulkDataConfig `yaml:"bulk_data"`
	// Host serves the host's own objects (internal/cli/host.go).
	Host *hostConfig `yaml:"host"`
	// Firmware turns on Device.DeviceInfo.FirmwareImage with image banks
	// in the data directory (internal/cli/agentfirmware.go).
	Firmware *firmwareConfig `yaml:"firmware"`
	// Platform runs the device's reboot and factory reset and reads its
	// identity (internal/cli/platform.go).
	Platform *platformConfig `yaml:"platform"`
	// Log sends the log to syslog (internal/cli/devicelog.go).
	Log *logConfig `yaml:"log"`
	// E2ETLS is the Agent's certificate and key for E2E sessions with
	// TLS12 payload security, and the CA of Controllers' certificates
	// (internal/cli/agente2e.go).
	E2ETLS *e2eTLSConfig `yaml:"e2e_tls"`
}

// mtpConfig is one transport of the agent.
type mtpConfig struct {
	// Protocol is WebSocket, MQTT, STOMP or UDS.
	Protocol string `yaml:"protocol"`
	// Alias names the Device.LocalAgent.MTP entry this becomes at the
	// first start ("cpe-mtp-N" by default); the settings of this file that
	// TR-181 does not hold (tls, listen address, socket) stay bound to it.
	Alias string `yaml:"alias"`
	// WebSocket: Listen makes the agent a server; URL a client.
	Listen string `yaml:"listen"`
	URL    string `yaml:"url"`
	Path   string `yaml:"path"`
	// STOMP: the server, destination and credentials.
	Addr        string `yaml:"addr"`
	Destination string `yaml:"destination"`
	VirtualHost string `yaml:"vhost"`
	Username    string `yaml:"username"`
	Password    string `yaml:"password"`
	// UDS: the socket path.
	Socket string `yaml:"socket"`
	// MQTT: the broker (url: tcp://, ssl:// or ws://), the agent's own
	// topic, the MQTT version ("5", the default, or "3.1.1"), and the topic
	// to answer a controller that names none.
	Topic           string `yaml:"topic"`
	MQTTVersion     string `yaml:"mqtt_version"`
	ControllerTopic string `yaml:"controller_topic"`
	// TLS: certificate and key of this side, CA to verify the peer.
	TLS *tlsConfig `yaml:"tls"`
	// MaxRecord is the largest USP Record the transport carries, in bytes;
	// 0 means the MTP's default, 5 MiB. A response over it is answered
	// with an Error instead. On MQTT 5.0 a smaller Maximum Packet Size of
	// the broker's (CONNACK) or of the data model's
	// (Device.MQTT.Client.{i}.MaximumPacketSize) wins.
	MaxRecord int `yaml:"max_record"`
}

// minMaxRecord is the smallest max_record: the Agent's connect Records
// and its Errors must fit.
const minMaxRecord = 1024

type tlsConfig struct {
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
	CA   string `yaml:"ca"`
	// ClientAuth, for a server, requires and verifies client certificates.
	ClientAuth bool `yaml:"client_auth"`
	// NoAbsoluteTime is for a device that cannot obtain absolute time (no
	// real-time clock): the peer's certificate is verified without its
	// validity dates [R-SEC.19] (agent.WithoutAbsoluteTime).
	NoAbsoluteTime bool `yaml:"no_absolute_time"`
}

// loadAgentConfig reads and checks a configuration file; an error names
// the line and key at fault.
func loadAgentConfig(r io.Reader) (*agentConfig, error) {
	dec := yaml.NewDecoder(r)
	dec.KnownFields(true)
	var c agentConfig
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	if c.EndpointID == "" {
		return nil, errors.New("endpoint_id: missing")
	}
	if err := validateEndpointID(c.EndpointID); err != nil {
		return nil, fmt.Errorf("endpoint_id: %w", err)
	}
	if err := c.Factory.Validate(); err != nil {
		return nil, fmt.Errorf("factory.%w", err)
	}
	aliases := map[string]bool{}
	for i, m := range c.MTPs {
		where := fmt.Sprintf("mtps[%d]", i)
		if m.Alias != "" {
			if aliases[m.Alias] || strings.HasPrefix(m.Alias, "cpe-") {
				return nil, fmt.Errorf("%s.alias: %q is used twice or starts with the reserved \"cpe-\"", where, m.Alias)
			}
			if err := checkAlias(m.Alias); err != nil {
				return nil, fmt.Errorf("%s.alias: %w", where, err)
			}
			aliases[m.Alias] = true
		}
		if m.MaxRecord != 0 && m.MaxRecord < minMaxRecord {
			return nil, fmt.Errorf("%s.max_record: %d is under %d bytes", where, m.MaxRecord, minMaxRecord)
		}
		switch m.Protocol {
		case "WebSocket":
			if (m.Listen == "") == (m.URL == "") {
				return nil, fmt.Errorf("%s: a WebSocket MTP has either listen or url", where)
			}
		case "STOMP":
			if m.Addr == "" {
				return nil, fmt.Errorf("%s.addr: missing", where)
			}
		case "UDS":
			if m.Socket == "" {
				return nil, fmt.Errorf("%s.socket: missing", where)
			}
		case "MQTT":
			if m.URL == "" {
				return nil, fmt.Errorf("%s.url: missing", where)
			}
			if m.MQTTVersion != "" && m.MQTTVersion != "5" && m.MQTTVersion != "3.1.1" {
				return nil, fmt.Errorf("%s.mqtt_version: %q is not 5 or 3.1.1", where, m.MQTTVersion)
			}
		default:
			return nil, fmt.Errorf("%s.protocol: %q is not WebSocket, MQTT, STOMP or UDS", where, m.Protocol)
		}
	}
	switch c.LogLevel {
	case "", "debug", "info", "warn", "error":
	default:
		return nil, fmt.Errorf("log_level: %q is not debug, info, warn or error", c.LogLevel)
	}
	if err := c.Discovery.check(); err != nil {
		return nil, err
	}
	if err := c.SoftwareModules.check(); err != nil {
		return nil, err
	}
	if err := errors.Join(c.Platform.check(), c.Log.check()); err != nil {
		return nil, err
	}
	return &c, nil
}

// checkAlias applies TR-181's Alias rules: at most 64 characters, starting
// with a letter.
func checkAlias(a string) error {
	if len(a) > 64 || a == "" || !(a[0] >= 'a' && a[0] <= 'z' || a[0] >= 'A' && a[0] <= 'Z') {
		return fmt.Errorf("%q is not an Alias (a letter, then at most 63 more characters)", a)
	}
	return nil
}

func (t *tlsConfig) build(server bool) (*tls.Config, error) {
	if t == nil {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if t.Cert != "" {
		cert, err := tls.LoadX509KeyPair(t.Cert, t.Key)
		if err != nil {
			return nil, fmt.Errorf("tls.cert: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	if t.CA != "" {
		pem, err := os.ReadFile(t.CA)
		if err != nil {
			return nil, fmt.Errorf("tls.ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls.ca: no certificate in %s", t.CA)
		}
		if server {
			cfg.ClientCAs = pool
		} else {
			cfg.RootCAs = pool
		}
	}
	if server && t.ClientAuth {
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	if t.NoAbsoluteTime {
		cfg = agent.WithoutAbsoluteTime(cfg, server)
	}
	return cfg, nil
}

func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(strings.ToUpper(level)))
	if level == "" {
		l = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l}))
}

func runAgent(ctx context.Context, e *env, args []string) error {
	if len(args) > 0 && args[0] == "dhcp-options" {
		return runAgentDHCPOptions(ctx, e, args[1:])
	}
	fs := newFlags(e, "agent", "")
	config := fs.String("config", "", "configuration `file` (YAML)")
	data := fs.String("data", "", "data `directory`, overriding the file's")
	pprofAddr := fs.String("pprof", "", "serve net/http/pprof profiles on this loopback `address` (127.0.0.1:6060); empty: none")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *config == "" {
		return fmt.Errorf("%w: --config is required", errUsage)
	}
	b, err := os.ReadFile(*config)
	if err != nil {
		return err
	}
	cfg, err := loadAgentConfig(bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("%s: %w", *config, err)
	}
	if *data != "" {
		cfg.Data = *data
	}
	log, closeLog := cfg.Log.logger(e.stderr, cfg.LogLevel)
	defer closeLog()
	memProfiling(*pprofAddr != "")
	if *pprofAddr != "" {
		if err := servePprof(ctx, *pprofAddr, log); err != nil {
			return err
		}
	}
	reboot := make(chan string, 1)
	ra, err := startAgent(ctx, cfg, log, func(cause string) { reboot <- cause })
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "agent %s ready\n", cfg.EndpointID)
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go releaseMemory(rctx)
	done := make(chan error, 1)
	go func() { done <- ra.run(rctx) }()
	select {
	case err = <-done:
		ra.close()
		return err
	case cause := <-reboot:
		cancel()
		<-done
		ra.close()
		log.Info("restarting", "cause", cause)
		return cfg.Platform.restart(ctx, cause, ra.fw, log)
	}
}

// runningAgent is an Agent with the resources it owns.
type runningAgent struct {
	a     *agent.Agent
	fw    *agentFirmware
	db    agentStore
	close func()
}

func (r *runningAgent) run(ctx context.Context) error { return r.a.Run(ctx) }

// startAgent builds an Agent from its configuration: the data model
// (Device.LocalAgent and Device.DeviceInfo), SQLite in the data
// directory, and the transports.
func startAgent(ctx context.Context, cfg *agentConfig, log *slog.Logger, onReboot func(string)) (*runningAgent, error) {
	dir := cfg.Data
	if dir == "" {
		dir = "."
	}
	if cfg.Data == "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, err
		}
	} else if err := privateDir(dir, log); err != nil {
		return nil, err
	}
	fw, err := setupFirmware(cfg.Firmware, dir, log, onReboot) // may start another image in place of this process
	if err != nil {
		return nil, err
	}
	db, err := openAgentStore(ctx, cfg.Store, dir)
	if err != nil {
		return nil, err
	}
	m := schema.New()
	agent.Define(m)
	cfg.USPBroker.define(m)
	deviceinfo.Define(m)
	gatewayinfo.Define(m)
	defineBulkData(m) // feature_bulk.go; none with usp_nobulk
	fw.define(m)
	bd, err := newBulkData(cfg.BulkData, dir, log)
	if err != nil {
		db.Close()
		return nil, err
	}
	hs, err := setupHost(cfg.Host, dir, m, log)
	if err != nil {
		db.Close()
		return nil, err
	}
	sw, err := setupSoftware(ctx, cfg.SoftwareModules, dir, m, log)
	if err != nil {
		db.Close()
		return nil, err
	}
	if cfg.USPBroker.ownDiagnostics(m) {
		defineDiagnostics(m)
	}
	vf, log := defineVendorFiles(m, log)
	st, err := sealStore(ctx, db, dir, m, log) // passwords encrypted at rest
	if err != nil {
		db.Close()
		return nil, err
	}
	mux := datamodel.NewMux(m)
	deviceinfo.Register(mux, cfg.Platform.identity(ctx, deviceinfo.Host("uspkit", buildVersion()), log))
	gw := &gatewayinfo.Info{}
	gatewayinfo.Register(mux, gw)
	bd.Register(mux)
	hs.register(mux)
	sw.register(mux)
	fw.register(mux)
	var ag atomic.Pointer[agent.Agent]
	if m.Object("Device.IP.Diagnostics.") != nil {
		startDiagnostics(ctx, mux, &ag, dir, log)
	}
	vf.register(mux, db, onReboot, log)
	sw.publishLogs(vf) // smmlogs.go: each Execution Unit's log is a VendorLogFile row
	onState := func(protocol string) mtp.StateFunc {
		return func(ctx context.Context, p mtp.Peer, s mtp.State, err error) {
			if a := ag.Load(); a != nil {
				a.OnState(protocol)(ctx, p, s, err)
			}
		}
	}
	var mtps []agent.MTP
	factory := cfg.Factory
	trust := agent.NewTrustStore() // AddCertificate()'s trust anchors, for every MTP's TLS
	d := &dialer{self: cfg.EndpointID, log: log, local: map[string]mtpConfig{}, mdns: cfg.Discovery.mdnsOptions(log), trust: trust}
	bd.SetMQTT(&d.mqtt) // Bulk Data over MQTT publishes through the dialled MQTT clients
	for i := range cfg.MTPs {
		mc := &cfg.MTPs[i]
		fm, dialled, err := factoryMTP(i, mc)
		if err != nil {
			db.Close()
			return nil, fmt.Errorf("mtps[%d].%w", i, err)
		}
		if dialled {
			factory.MTPs = append(factory.MTPs, fm)
			d.local[mc.Alias] = *mc
			continue
		}
		m, err := buildMTP(ctx, cfg.EndpointID, *mc, onState(mc.Protocol), trust, log)
		if err != nil {
			for _, x := range mtps {
				x.Transport.Close()
			}
			db.Close()
			return nil, fmt.Errorf("mtps[%d]: %w", i, err)
		}
		mtps = append(mtps, m)
	}
	mtps = append(mtps, cfg.USPBroker.agentMTP(cfg.EndpointID, onState, log)...)
	aopt := agent.Options{EndpointID: cfg.EndpointID, Mux: mux, Store: st, MTPs: mtps, Dialer: d, Factory: &factory,
		SoftwareVersion: buildVersion(), Logger: log, OnReboot: onReboot, Trust: trust}
	fw.options(&aopt)
	hs.options(&aopt)
	if err = cfg.E2ETLS.options(&aopt); err != nil {
		for _, x := range mtps {
			x.Transport.Close()
		}
		db.Close()
		return nil, err
	}
	a, err := agent.New(ctx, aopt)
	if err != nil {
		for _, x := range mtps {
			x.Transport.Close()
		}
		db.Close()
		return nil, err
	}
	ag.Store(a)
	stopDiscovery, err := startDiscovery(ctx, cfg.Discovery, a, gw, log)
	if err != nil {
		for _, x := range mtps {
			x.Transport.Close()
		}
		db.Close()
		return nil, err
	}
	stopBroker := cfg.USPBroker.start(ctx, a, sw.deploymentUnitOf, log)
	sw.start(ctx, a)
	fw.start(ctx, a)
	stopBulkData := runBulkData(ctx, bd, a)
	stopHost := hs.start(ctx, a)
	return &runningAgent{a: a, fw: fw, db: db, close: func() {
		stopHost()
		stopBulkData()
		stopBroker()
		stopDiscovery()
		sw.close()
		db.Close()
	}}, nil
}

// buildMTP opens a transport of the configuration file that the data
// model cannot express; its TLS also trusts the certificates added with
// Device.LocalAgent.AddCertificate() (trust).
func buildMTP(ctx context.Context, self string, mc mtpConfig, onState mtp.StateFunc, trust *agent.TrustStore, log *slog.Logger) (agent.MTP, error) {
	m := agent.MTP{Protocol: mc.Protocol}
	switch mc.Protocol {
	case "WebSocket":
		return wsMTP(ctx, self, mc, onState, trust, log) // mtp_ws.go; an error with usp_nows
	case "STOMP":
		return stompMTP(self, mc, onState, trust, log) // mtp_stomp.go; an error with usp_nostomp
	case "UDS":
		m.Transport = uds.NewClient(&uds.Options{Path: mc.Socket, EndpointID: self, MaxRecord: mc.MaxRecord, OnState: onState, Logger: log})
		m.Connect = func(to string) *record.Record { return record.NewUDSConnect(to, self) }
	case "MQTT":
		tc, err := mc.TLS.build(false)
		if err != nil {
			return m, err
		}
		tc = trust.ClientTLS(tc)
		v, rv := mqtt.V5, record.MQTTVersion5
		if mc.MQTTVersion == "3.1.1" {
			v, rv = mqtt.V311, record.MQTTVersion311
		}
		cli := mqtt.NewClient(&mqtt.Options{URL: mc.URL, TLS: tc, Version: v, EndpointID: self, Username: mc.Username, Password: mc.Password,
			Topic: mc.Topic, DefaultPeerTopic: mc.ControllerTopic, MaxRecord: mc.MaxRecord, OnState: onState, Logger: log})
		m.Transport = cli
		m.Connect = func(to string) *record.Record { return record.NewMQTTConnect(to, self, rv, cli.Topic()) }
	}
	return m, nil
}
