package cli_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/uspkit/uspkit/controller"
	"github.com/uspkit/uspkit/internal/testenv"
	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/mtp/mqtt"
	"github.com/uspkit/uspkit/mtp/stomp"
	"github.com/uspkit/uspkit/mtp/uds"
	"github.com/uspkit/uspkit/mtp/ws"
)

// TestControllerEachMTP runs `usp agent` as a process and a Controller
// over every MTP of testenv.EachMTP and checks a Get, a Set with its
// ValueChange Notify stored and acknowledged, and an error path.
func TestControllerEachMTP(t *testing.T) {
	bin := buildUSP(t)
	testenv.EachMTP(t, func(t *testing.T, m testenv.MTP) {
		c, e := startPair(t, bin, m, nil)
		exercise(t, c, e.agentID)
	})
}

// mtpEnds are the names of an Agent and a Controller on one MTP, unique
// to a test so that durable broker queues of earlier tests do not
// interfere.
type mtpEnds struct {
	agentID, ctrlID string
	// agentAddr and ctrlAddr are the MQTT topics or STOMP destinations.
	agentAddr, ctrlAddr string
}

func newMTPEnds(m testenv.MTP, ctrlID string) mtpEnds {
	name := strings.Map(func(r rune) rune {
		if r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, m.Name)
	e := mtpEnds{agentID: "os::012345-" + name, ctrlID: ctrlID}
	if m.Protocol == "WebSocket" && m.TLS != nil && !m.AgentListens {
		// The agent's client certificate names its Endpoint ID, which
		// the Controller checks [R-SEC.0a].
		e.agentID = m.TLS.PKI.ClientID
	}
	n := time.Now().UnixNano()
	switch m.Protocol {
	case "MQTT":
		e.agentAddr, e.ctrlAddr = fmt.Sprintf("usp/agent/%s/%d", name, n), fmt.Sprintf("usp/controller/%s/%d", name, n)
	case "STOMP":
		e.agentAddr, e.ctrlAddr = fmt.Sprintf("/queue/usp.agent.%s.%d", name, n), fmt.Sprintf("/queue/usp.ctl.%s.%d", name, n)
	}
	return e
}

// agentMTPYAML returns, for `usp agent`'s configuration, the mtps entry
// for m and the factory controllers entry for the Controller of e.
func agentMTPYAML(m testenv.MTP, e mtpEnds) (mtps, controllers string) {
	var b strings.Builder
	fmt.Fprintf(&b, "  - protocol: %s\n", m.Protocol)
	ctrlMTP := ""
	switch m.Protocol {
	case "WebSocket":
		if m.AgentListens {
			fmt.Fprintf(&b, "    listen: %s\n    path: %s\n", m.Addr, m.Path)
		} else {
			fmt.Fprintf(&b, "    url: %s\n", m.URL)
		}
	case "MQTT":
		fmt.Fprintf(&b, "    url: %s\n    topic: %s\n    mqtt_version: %q\n    controller_topic: %s\n", m.URL, e.agentAddr, m.MQTTVersion, e.ctrlAddr)
		ctrlMTP = fmt.Sprintf("          topic: %s\n", e.ctrlAddr)
	case "STOMP":
		fmt.Fprintf(&b, "    addr: %s\n    vhost: %s\n    username: %s\n    password: %s\n    destination: %s\n", m.Addr, m.VirtualHost, m.Username,
			m.Password, e.agentAddr)
		ctrlMTP = fmt.Sprintf("          destination: %s\n", e.ctrlAddr)
	case "UDS":
		fmt.Fprintf(&b, "    socket: %s\n", m.Socket)
	}
	if f := m.TLS; f != nil {
		if m.AgentListens {
			fmt.Fprintf(&b, "    tls:\n      cert: %s\n      key: %s\n      ca: %s\n      client_auth: true\n", f.ServerCert, f.ServerKey, f.CA)
		} else {
			fmt.Fprintf(&b, "    tls:\n      cert: %s\n      key: %s\n      ca: %s\n", f.ClientCert, f.ClientKey, f.CA)
		}
	}
	controllers = fmt.Sprintf("    - endpoint_id: %s\n      mtps:\n        - protocol: %s\n%s", e.ctrlID, m.Protocol, ctrlMTP)
	return b.String(), controllers
}

// controllerTransport makes the Controller's side of m; retry is its
// reconnect back-off.
func controllerTransport(t *testing.T, m testenv.MTP, e mtpEnds, onState mtp.StateFunc, retry mtp.Retry) mtp.Transport {
	t.Helper()
	var clientTLS, serverTLS *tls.Config
	if m.TLS != nil {
		clientTLS, serverTLS = m.TLS.PKI.ClientConfig(), m.TLS.PKI.ServerConfig()
	}
	switch m.Protocol {
	case "WebSocket":
		if m.AgentListens {
			return ws.NewClient(&ws.Options{URL: m.URL, EndpointID: e.ctrlID, TLS: clientTLS, OnState: onState,
				MinWait: retry.MinWait, Multiplier: retry.Multiplier})
		}
		srv, err := ws.Listen(context.Background(), m.Addr, &ws.Options{EndpointID: e.ctrlID, Path: m.Path, TLS: serverTLS, OnState: onState})
		if err != nil {
			t.Fatal(err)
		}
		return srv
	case "MQTT":
		v := mqtt.V5
		if m.MQTTVersion == "3.1.1" {
			v = mqtt.V311
		}
		return mqtt.NewClient(&mqtt.Options{URL: m.URL, TLS: clientTLS, Version: v, EndpointID: e.ctrlID, Topic: e.ctrlAddr,
			OnState: onState, MinWait: retry.MinWait, Multiplier: retry.Multiplier})
	case "STOMP":
		return stomp.NewClient(&stomp.Options{Addr: m.Addr, TLS: clientTLS, Username: m.Username, Password: m.Password,
			EndpointID: e.ctrlID, Destination: e.ctrlAddr, OnState: onState, MinWait: retry.MinWait, Multiplier: retry.Multiplier})
	case "UDS":
		return uds.NewServer(&uds.Options{Path: m.Socket, EndpointID: e.ctrlID, OnState: onState})
	}
	t.Fatalf("no Controller transport for %s", m.Protocol)
	return nil
}

// ctrlRetry returns the reconnect back-off of the Controller's clients: a
// fifth of a second, again and again, so that after a broker's failure
// the Controller is back before the agent, whose back-off is the spec's
// default.
func ctrlRetry() mtp.Retry { return mtp.Retry{MinWait: 200 * time.Millisecond, Multiplier: 1000} }

// startPair runs a Controller and `usp agent` over m and waits until the
// Controller has the agent online. With log not nil the agent logs at
// level info to it, else errors only to our stderr.
func startPair(t *testing.T, bin string, m testenv.MTP, log io.Writer) (*controller.Controller, mtpEnds) {
	t.Helper()
	e := newMTPEnds(m, mtpCtrlID)
	c := runController(t, m.Protocol, func(onState mtp.StateFunc) mtp.Transport {
		return controllerTransport(t, m, e, onState, ctrlRetry())
	})
	mtps, ctrls := agentMTPYAML(m, e)
	if log == nil {
		startAgentProcessWith(t, bin, e.agentID, mtps, ctrls)
	} else {
		startAgentProcessLogged(t, bin, e.agentID, mtps, ctrls, "info", log)
	}
	waitAgent(t, c, e.agentID, true)
	return c, e
}
