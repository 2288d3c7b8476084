//go:build !usp_device

package cli

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	neturl "net/url"
	"os"
	"strings"
	"time"

	"github.com/uspkit/uspkit/conformance"
	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/mtp/mqtt"
	"github.com/uspkit/uspkit/mtp/stomp"
	"github.com/uspkit/uspkit/mtp/uds"
	"github.com/uspkit/uspkit/mtp/ws"
)

func runConformance(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "conformance", "")
	list := fs.Bool("list", false, "list every TP-469 case and exit")
	agentID := fs.String("agent", "", "the agent's Endpoint `ID`")
	selfID := fs.String("id", "proto::uspkit-conformance", "the runner's Endpoint `ID` (the agent must trust it with full access)")
	second := fs.String("second-id", "", "a second controller's Endpoint `ID`, for cases that need one (with -mtp ws, mqtt or stomp; not uds or ws-server)")
	proto := fs.String("mtp", "ws", "how to reach the agent: ws (agent is a WebSocket server), ws-server (agent connects to us), mqtt, stomp, uds")
	topic := fs.String("topic", "usp/controller/conformance", "mqtt: the runner's `topic`")
	agentTopic := fs.String("agent-topic", "", "mqtt: the agent's `topic`")
	mqttVersion := fs.String("mqtt-version", "5", "mqtt: 5 or 3.1.1")
	url := fs.String("url", "", "ws: the agent's WebSocket `URL`; mqtt: the broker's (tcp://host:port)")
	listen := fs.String("listen", "127.0.0.1:0", "ws-server: `address` to listen on")
	addr := fs.String("addr", "", "stomp: the STOMP server `host:port`")
	dest := fs.String("dest", "/queue/usp.conformance", "stomp: the runner's `destination`")
	agentDest := fs.String("agent-dest", "", "stomp: the agent's `destination`")
	user := fs.String("user", "", "stomp, mqtt: login")
	pass := fs.String("pass", "", "stomp, mqtt: password")
	socket := fs.String("socket", "", "uds: the socket `path` the agent connects to")
	ca := fs.String("ca", "", "CA `file` to verify the peer (TLS)")
	cert := fs.String("cert", "", "certificate `file` of the runner (TLS)")
	key := fs.String("key", "", "key `file` of the runner (TLS)")
	secondCert := fs.String("second-cert", "", "certificate `file` of the second controller (TLS), naming --second-id, for an agent that checks the Endpoint ID of the certificate it sees (WebSocket with mutual TLS); default --cert")
	secondKey := fs.String("second-key", "", "key `file` of --second-cert")
	pattern := fs.String("run", "", "run only the cases matching these comma-separated `patterns` (\"1.*,2.1\")")
	skipPattern := fs.String("skip", "", "leave out the cases matching these comma-separated `patterns` (\"4.*,11.1[0-7]\")")
	timeout := fs.Duration("timeout", 60*time.Second, "time limit per case")
	vcWait := fs.Duration("value-change-wait", conformance.DefaultValueChangeWait, "how long ValueChange cases wait for the Notify (an Agent may detect changes by polling)")
	long := fs.Bool("long", false, "run the cases that wait more than 20 seconds")
	reboot := fs.Bool("reboot", false, "run the cases that reboot the agent")
	probeHost := fs.String("probe-host", "", "1.92, 4.1, 6.*, 11.*: an IP `address` of this host the agent reaches, where the runner watches its TraceRoute probes and its MQTT and STOMP servers listen (default 127.0.0.1)")
	mdnsIf := fs.String("mdns-interface", "", "section 8: the network `interface` on which the agent runs mDNS")
	mdnsPort := fs.Int("mdns-port", 0, "section 8: the mDNS `port` (5353)")
	lease := fs.String("dhcp-lease", "", "section 8: the DHCP lease `file` the agent reads (usp agent's discovery.dhcp_lease), written by case 8.2")
	dhcpIf := fs.String("dhcp-interface", "", "8.1-8.3: serve DHCPv4 on this network `interface` of the agent's link, and DNS on its address (port 53, given in option 6)")
	bulk := bulkDataFlags(fs)
	e2eFl := e2eFlags(fs)
	fwImage := fs.String("firmware-image", "", "9.3-9.8: an image `file` the agent accepts, which the runner serves over HTTP (for usp agent: a usp binary)")
	fwVersion := fs.String("firmware-version", "", "9.3-9.8: the SoftwareVersion the agent reports running --firmware-image (default: the downloaded image's Version)")
	fwHost := fs.String("firmware-host", "", "9.3-9.8: the IP `address` of this host where the agent reaches the image server (default 127.0.0.1)")
	mtpCert := fs.String("mtp-cert", "", "4.1, 6.11, 11.3: server certificate `file` (PEM, with its chain) the agent trusts, for the runner's MQTT and STOMP servers")
	mtpKey := fs.String("mtp-key", "", "4.1, 6.11, 11.3: the key `file` of --mtp-cert")
	mtpExpired := fs.String("mtp-expired-cert", "", "4.1: an expired server certificate `file` of the same trusted issuer, which the agent must refuse")
	mtpExpiredKey := fs.String("mtp-expired-key", "", "4.1: the key `file` of --mtp-expired-cert")
	altCert := fs.String("alt-cert", "", "9.2: an alternate certificate `file` of the runner (PEM), naming --id, from a CA the agent does not trust yet")
	altKey := fs.String("alt-key", "", "9.2: the key `file` of --alt-cert")
	altCA := fs.String("alt-ca", "", "9.2: the certificate `file` (PEM) the runner adds with Device.LocalAgent.AddCertificate(), the CA of --alt-cert (default: the last certificate of --alt-cert)")
	expiredCert := fs.Bool("expired-cert", false, "2.6: the --cert certificate has expired and the agent has no absolute time (its tls no_absolute_time)")
	jsonOut := fs.String("json", "", "write a JSON report to `file`")
	junitOut := fs.String("junit", "", "write a JUnit XML report to `file`")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *list {
		return conformance.WriteList(e.stdout)
	}
	if *agentID == "" {
		return fmt.Errorf("%w: --agent is required", errUsage)
	}
	if *expiredCert {
		if err := checkExpired(*cert, *key, time.Now()); err != nil {
			return err
		}
	}
	var tc *tlsConfig
	if *ca != "" || *cert != "" {
		tc = &tlsConfig{CA: *ca, Cert: *cert, Key: *key}
	}
	var wsSetup *conformance.WebSocketSetup
	build := func(id string, destination string, primary bool) (mtp.Transport, string, error) {
		tc := tc
		if !primary && *secondCert != "" {
			tc = &tlsConfig{CA: *ca, Cert: *secondCert, Key: *secondKey}
		}
		switch *proto {
		case "ws":
			cfg, err := tc.build(false)
			if err != nil {
				return nil, "", err
			}
			if !primary {
				return ws.NewClient(&ws.Options{URL: *url, EndpointID: id, TLS: cfg, MinWait: time.Second}), "", nil
			}
			// The runner reaches the agent through a gate that the
			// WebSocket cases control.
			gateURL, cfg, err := gateAgentURL(*url, cfg)
			if err != nil {
				return nil, "", err
			}
			gate, err := conformance.ListenGate(ctx, "127.0.0.1:0", gateURL.target)
			if err != nil {
				return nil, "", err
			}
			gateURL.u.Host = gate.Addr().String()
			wsSetup = &conformance.WebSocketSetup{Gate: gate, URL: *url, TLS: cfg}
			return ws.NewClient(&ws.Options{URL: gateURL.u.String(), EndpointID: id, TLS: cfg, MinWait: time.Second}), "", nil
		case "ws-server":
			cfg, err := tc.build(true)
			if err != nil {
				return nil, "", err
			}
			// The agent connects to a gate that the WebSocket cases
			// control, which relays to the runner's server.
			srv, err := ws.Listen(ctx, "127.0.0.1:0", &ws.Options{EndpointID: id, TLS: cfg})
			if err != nil {
				return nil, "", err
			}
			gate, err := conformance.ListenGate(ctx, *listen, srv.Addr().String())
			if err != nil {
				srv.Close()
				return nil, "", err
			}
			wsSetup = &conformance.WebSocketSetup{Gate: gate, TLS: cfg}
			fmt.Fprintf(e.stderr, "listening on %s\n", gate.Addr())
			return srv, *agentID, nil
		case "stomp":
			cfg, err := tc.build(false)
			if err != nil {
				return nil, "", err
			}
			return stomp.NewClient(&stomp.Options{Addr: *addr, TLS: cfg, EndpointID: id, Destination: destination, Username: *user, Password: *pass,
				MinWait: time.Second}), *agentDest, nil
		case "uds":
			return uds.NewServer(&uds.Options{Path: *socket, EndpointID: id}), *agentID, nil
		case "mqtt":
			cfg, err := tc.build(false)
			if err != nil {
				return nil, "", err
			}
			v := mqtt.V5
			if *mqttVersion == "3.1.1" {
				v = mqtt.V311
			}
			t := *topic
			if id != *selfID {
				t += "/second"
			}
			return mqtt.NewClient(&mqtt.Options{URL: *url, TLS: cfg, Version: v, EndpointID: id, Username: *user, Password: *pass, Topic: t,
				MinWait: time.Second}), *agentTopic, nil
		}
		return nil, "", fmt.Errorf("%w: --mtp %q is not ws, ws-server, mqtt, stomp or uds", errUsage, *proto)
	}
	tr, agentAddr, err := build(*selfID, *dest, true)
	if err != nil {
		return err
	}
	o := conformance.Options{AgentID: *agentID, ControllerID: *selfID, Transport: tr, AgentAddr: agentAddr, WebSocket: wsSetup,
		CaseTimeout: *timeout, ValueChangeWait: *vcWait, Long: *long, Reboot: *reboot, ProbeHost: *probeHost, ExpiredCert: *expiredCert, Logger: newLogger(e.stderr, "warn")}
	o.Discovery = discoverySetup(*mdnsIf, *mdnsPort, *lease)
	var stopDHCP func()
	if o.Discovery, stopDHCP, err = dhcpSetup(ctx, o.Discovery, *dhcpIf, e.stderr); err != nil {
		return err
	}
	defer stopDHCP()
	if *fwImage != "" {
		o.Firmware = &conformance.FirmwareSetup{Image: *fwImage, Version: *fwVersion, Host: *fwHost}
	}
	if o.MTPTLS, err = mtpTLSSetup(*mtpCert, *mtpKey, *mtpExpired, *mtpExpiredKey); err != nil {
		return err
	}
	if o.AltCert, err = altCertSetup(*altCert, *altKey, *altCA); err != nil { // conformancecert.go
		return err
	}
	if o.BulkData, err = bulk.setup(); err != nil {
		return err
	}
	if *proto == "mqtt" && o.BulkData != nil { // 10.13 watches the agent's MQTT server
		cfg, err := tc.build(false)
		if err != nil {
			return err
		}
		o.BulkData.MQTTSubscribe = bulkMQTTSubscriber(*url, cfg, *user, *pass)
	}
	if o.E2E, err = e2eFl.setup(); err != nil {
		return err
	}
	if *second != "" && *proto != "uds" && *proto != "ws-server" {
		// A second controller gets its own connection (and, on MQTT, topic).
		tr2, addr2, err := build(*second, *dest+".second", false)
		if err != nil {
			return err
		}
		o.Second = &conformance.Peer{ID: *second, Transport: tr2, AgentAddr: addr2}
	}
	res, err := conformance.Run(ctx, o, runFilter(*pattern, *skipPattern))
	if err != nil {
		return err
	}
	if err := conformance.WriteTable(e.stdout, res); err != nil {
		return err
	}
	for _, out := range []struct {
		path  string
		write func(*os.File) error
	}{
		{*jsonOut, func(f *os.File) error { return conformance.WriteJSON(f, res) }},
		{*junitOut, func(f *os.File) error { return conformance.WriteJUnit(f, "TP-469", res) }},
	} {
		if out.path == "" {
			continue
		}
		f, err := os.Create(out.path)
		if err != nil {
			return err
		}
		if err := out.write(f); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
	}
	if _, failed, _ := conformance.Counts(res); failed > 0 {
		return errFailed{summary: strings.TrimSpace(conformance.Summary(res))}
	}
	return nil
}

// gatedURL is the agent's WebSocket URL to be rewritten to a gate's
// address, and the agent's address the gate relays to.
type gatedURL struct {
	u      *neturl.URL
	target string
}

// gateAgentURL parses the agent's WebSocket URL and returns it with the
// host:port the gate relays to. The TLS configuration gets the agent's
// host name as ServerName, since the client dials the gate.
func gateAgentURL(raw string, cfg *tls.Config) (gatedURL, *tls.Config, error) {
	u, err := neturl.Parse(raw)
	if err != nil {
		return gatedURL{}, nil, fmt.Errorf("--url: %w", err)
	}
	port := "80"
	switch u.Scheme {
	case "ws":
	case "wss":
		port = "443"
		if cfg == nil {
			cfg = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		if cfg.ServerName == "" {
			cfg = cfg.Clone()
			cfg.ServerName = u.Hostname()
		}
	default:
		return gatedURL{}, nil, fmt.Errorf("%w: --url %q is not ws:// or wss://", errUsage, raw)
	}
	if u.Port() != "" {
		port = u.Port()
	}
	return gatedURL{u: u, target: net.JoinHostPort(u.Hostname(), port)}, cfg, nil
}

// runFilter accepts the case ids that match run ("" for all) and do not
// match skip ("" for none).
func runFilter(run, skip string) func(id string) bool {
	in := conformance.Match(run)
	if skip == "" {
		return in
	}
	out := conformance.Match(skip)
	return func(id string) bool { return in(id) && !out(id) }
}
