//go:build !usp_device

package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/uspkit/uspkit/agent"
	"github.com/uspkit/uspkit/controller"
	"github.com/uspkit/uspkit/datamodel"
	"github.com/uspkit/uspkit/mtp"
)

// runUp runs the controller, its API, the WebSocket MTP and a local agent
// in one process, with everything in one data directory.
func runUp(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "up", "")
	httpAddr := fs.String("http", "127.0.0.1:8080", "`address` of the REST API (127.0.0.1:0 picks a port)")
	wsAddr := fs.String("ws", "127.0.0.1:8081", "`address` of the WebSocket MTP")
	mqttAddr := fs.String("mqtt", "127.0.0.1:1883", "`address` of the embedded MQTT broker")
	mqttTLS := fs.String("mqtt-tls", "", "`address` of a TLS listener of the embedded MQTT broker, for agents with certificates from `usp agents add --cert` (default none)")
	anonymous := fs.Bool("mqtt-anonymous", false, "let MQTT clients without credentials connect to the embedded broker")
	data := fs.String("data", "", "data `directory` (default $USP_DATA or ~/.local/share/uspkit)")
	level := fs.String("log-level", "warn", "log level: debug, info, warn, error")
	lab := fs.Bool("lab", false, "a lab: agents on the WebSocket MTP are taken at their word (no certificate or account needed) and every new agent is admitted, as `usp sim` needs")
	external := externalMQTTFlags(fs)
	apiTLS := apiTLSFlags(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	externalMTPs, err := external()
	if err != nil {
		return err
	}
	dir := *data
	if dir == "" {
		dir = dataDir()
	}
	log := newLogger(e.stderr, *level)
	// The embedded broker, with the Agent accounts of the data directory
	// (usp agents add/revoke) and the controller's CA. The controller logs
	// in with a password made for this run; the local agent's account is
	// its Endpoint ID, so the USP topic policy gives it the topic
	// usp/agent/<EndpointID>, and it gets a new password every run.
	if err := privateDir(dir, log); err != nil {
		return err
	}
	eb, err := startEmbeddedBroker(ctx, dir, &embeddedBrokerConfig{Listen: *mqttAddr, TLSListen: *mqttTLS, AllowAnonymous: *anonymous,
		reportTopic: reportPattern(defaultBulkMQTTTopic)}, log)
	if err != nil {
		return err
	}
	defer eb.close()
	mqttURL := eb.url()
	const ctlTopic = "usp/controller/" + embeddedControllerUser + "/uspkit"
	cfg := &controllerConfig{EndpointID: "proto::uspkit-controller", Data: dir, HTTP: *httpAddr, API: apiTLS(), WebSocket: *wsAddr,
		accounts: eb.accountsAPI(), wsAuth: accountAuth(eb.accts, eb.ca)}
	cfg.MTPs = externalMTPs
	cfg.bulkMQTT, cfg.bulkMQTTUp = &bulkMQTTConn{url: mqttURL, username: embeddedControllerUser, password: eb.ctlPass}, make(chan struct{})
	if *lab {
		cfg.wsIdentity, cfg.Admission = "claimed", "all"
	}
	// The agent starts once the controller has subscribed, so that the
	// agent's MQTTConnect record finds it listening.
	ctlUp := make(chan struct{})
	rc, err := startController(ctx, cfg, log, func(onState func(string) mtp.StateFunc) controller.MTP {
		return eb.controllerMTP(cfg.EndpointID, ctlTopic, signalUp(onState("MQTT"), ctlUp), log)
	})
	if err != nil {
		return err
	}
	defer rc.closer()
	agentID := "os::000000-" + hostSerial()
	agentPass, err := eb.accts.SetPassword(agentID)
	if err != nil {
		return err
	}
	factory := agentFactory(cfg.EndpointID)
	factory.Controllers[0].MTPs = []agent.ControllerMTPConf{{Protocol: "MQTT", Topic: ctlTopic}, {Protocol: "WebSocket"}}
	ra, err := startAgent(ctx, &agentConfig{EndpointID: agentID, Data: filepath.Join(dir, "agent"),
		MTPs: []mtpConfig{{Protocol: "MQTT", URL: mqttURL, Username: agentID, Password: agentPass, Topic: agentTopic(agentID),
			ControllerTopic: ctlTopic}},
		Factory: factory}, log, func(string) {})
	if err != nil {
		return err
	}
	defer ra.close()
	// The broker's address and the agent's password are this run's, and
	// the agent's data directory may come from an earlier run: point its
	// stored MQTT client and topic at them.
	if err := pinBroker(ctx, ra.a, eb.brk.Addrs().TCP, agentID, agentPass, agentTopic(agentID)); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, serverFile), []byte(rc.api+"\n"), 0o600); err != nil {
		return err
	}
	defer os.Remove(filepath.Join(dir, serverFile))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 2)
	go func() { errc <- rc.run(ctx) }()
	select {
	case <-ctlUp:
	case err := <-errc:
		return err
	case <-time.After(15 * time.Second):
		return errors.New("the controller did not reach the MQTT broker")
	}
	// Bulk Data reports the agent publishes from now on are taken.
	select {
	case <-cfg.bulkMQTTUp:
	case <-time.After(15 * time.Second):
		return errors.New("the controller did not subscribe to Bulk Data reports")
	}
	go func() { errc <- ra.run(ctx) }()
	// Ready when the agent has reached the controller.
	deadline := time.After(15 * time.Second)
	for {
		if a, ok := rc.c.Agent(agentID); ok && a.Online {
			break
		}
		select {
		case err := <-errc:
			return err
		case <-deadline:
			return errors.New("the local agent did not reach the controller")
		case <-time.After(20 * time.Millisecond):
		}
	}
	created := ""
	if rc.fresh {
		created = " (created)"
	}
	mqtts := ""
	if u := eb.tlsURL(); u != "" {
		mqtts = "mqtts " + u + "\n"
	}
	fmt.Fprintf(e.stdout, "controller %s\napi %s\nwebsocket %s\nmqtt %s\n%sagent %s (MQTT)\ntoken %s%s\ndata %s\nready\n",
		cfg.EndpointID, rc.api, rc.ws, mqttURL, mqtts, agentID, rc.token, created, dir)
	running := 2
	err = nil
	select {
	case <-ctx.Done():
	case err = <-errc:
		running--
	}
	// Stop the controller and the agent before the broker they use.
	cancel()
	for ; running > 0; running-- {
		select {
		case <-errc:
		case <-time.After(10 * time.Second):
			return errors.New("the controller or the agent did not stop")
		}
	}
	return err
}

// randomToken returns 24 random bytes in hex.
func randomToken() string {
	var b [24]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// hostSerial derives a serial number for the local agent's Endpoint ID
// from the machine ID.
func hostSerial() string {
	b, _ := os.ReadFile("/etc/machine-id")
	s := strings.ToUpper(strings.TrimSpace(string(b)))
	if len(s) > 12 {
		s = s[:12]
	}
	if s == "" {
		s = "LOCAL"
	}
	return s
}

// agentFactory is the local agent's factory configuration: the local
// controller, trusted with full access, over WebSocket.
func agentFactory(ctrl string) agent.Config {
	return agent.Config{Controllers: []agent.ControllerConfig{{EndpointID: ctrl, Alias: "local",
		MTPs: []agent.ControllerMTPConf{{Protocol: "WebSocket"}}}}}
}

// pinBroker sets the local agent's first MQTT client (the factory one,
// Alias cpe-mtp-1) to reach addr with these credentials, and its MTP's
// own topic to topic.
func pinBroker(ctx context.Context, a *agent.Agent, addr, user, pass, topic string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	var settings []datamodel.ParamSetting
	for _, kv := range [][2]string{{"BrokerAddress", host}, {"BrokerPort", port}, {"Username", user}, {"Password", pass}} {
		settings = append(settings, datamodel.ParamSetting{Param: kv[0], Value: kv[1], Required: true})
	}
	_, err = a.Engine().Set(ctx, datamodel.Caller{}, false, []datamodel.UpdateObject{{Path: `Device.MQTT.Client.[Alias=="cpe-mtp-1"].`, Params: settings},
		{Path: `Device.LocalAgent.MTP.[Alias=="cpe-mtp-1"].`, Params: []datamodel.ParamSetting{{Param: "MQTT.ResponseTopicConfigured", Value: topic, Required: true}}}})
	if err != nil {
		return fmt.Errorf("local agent's MQTT client: %w", err)
	}
	return nil
}

// signalUp is f that also closes up the first time a connection comes up.
func signalUp(f mtp.StateFunc, up chan struct{}) mtp.StateFunc {
	var once sync.Once
	return func(ctx context.Context, p mtp.Peer, s mtp.State, err error) {
		f(ctx, p, s, err)
		if s == mtp.StateUp {
			once.Do(func() { close(up) })
		}
	}
}
