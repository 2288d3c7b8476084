package cli_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/uspkit/uspkit/discovery"
	"github.com/uspkit/uspkit/internal/testenv"
)

// TestControllerAdvertiseMDNS: `usp controller` with advertise announces
// its WebSocket MTP as _usp-ctr-ws._tcp named by its Endpoint ID with the
// "path" TXT attribute [R-DIS.8] [R-DIS.11] [R-WS.3], and `usp agent`
// browsing on the same link finds it and connects.
func TestControllerAdvertiseMDNS(t *testing.T) {
	bin := buildUSP(t)
	iface, port := mdnsLoopback(t)
	wsPort := testenv.FreePort(t)
	extra := fmt.Sprintf("admission: all\nmtps:\n  - name: lab\n    protocol: WebSocket\n    listen: 127.0.0.1:%d\n    path: /usp\n    identity: claimed\n"+
		"advertise:\n  interface: %s\n  port: %d\n  urls: [ws://127.0.0.1:%d/usp]\n", wsPort, iface, port, wsPort)
	p := startControllerProc(t, bin, t.TempDir(), extra)

	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	var got discovery.Service
	discovery.Browse(ctx, &discovery.Options{Interface: iface, Port: port}, []string{discovery.ControllerWebSocket}, func(s discovery.Service) {
		got = s
		cancel()
	})
	if got.Instance != "proto::sec-ctl" || got.Path != "/usp" || int(got.Port) != wsPort || got.Encrypt {
		t.Fatalf("the controller's advertisement: %+v", got)
	}

	const id = "os::012345-ADVCTL"
	startAgentProcessWith(t, bin, id, "", fmt.Sprintf("discovery:\n  interface: %s\n  port: %d\n  browse: true\n  role: Full Access\n", iface, port))
	waitAPIAgent(t, p, id, "lab")
}

// TestControllerAdvertiseDefaults: without urls, `usp controller`
// advertises its own MTPs: the WebSocket server where it listens, and the
// topic it subscribes to at its MQTT broker, with the broker's address
// and port in the records [R-MQTT.37] [R-MQTT.38].
func TestControllerAdvertiseDefaults(t *testing.T) {
	bin := buildUSP(t)
	iface, port := mdnsLoopback(t)
	broker := testenv.Mosquitto(t)
	extra := fmt.Sprintf("mtps:\n  - protocol: MQTT\n    url: tcp://%s\n    topic: usp/controller/advertised\nadvertise:\n  interface: %s\n  port: %d\n",
		broker, iface, port)
	p := startControllerProc(t, bin, t.TempDir(), extra)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	got := map[string]discovery.Service{}
	discovery.Browse(ctx, &discovery.Options{Interface: iface, Port: port}, []string{discovery.ControllerMQTT, discovery.ControllerWebSocket},
		func(s discovery.Service) {
			got[s.Type] = s
			if len(got) == 2 {
				cancel()
			}
		})
	mq, ws := got[discovery.ControllerMQTT], got[discovery.ControllerWebSocket]
	_, brokerPort, _ := strings.Cut(broker, ":")
	if mq.Instance != "proto::sec-ctl" || mq.Path != "usp/controller/advertised" || fmt.Sprint(mq.Port) != brokerPort ||
		len(mq.Addrs) != 1 || mq.Addrs[0].String() != "127.0.0.1" {
		t.Errorf("MQTT advertisement %+v (broker %s)", mq, broker)
	}
	if want := p.ws; fmt.Sprintf("ws://127.0.0.1:%d%s", ws.Port, ws.Path) != want {
		t.Errorf("WebSocket advertisement %+v, want %s", ws, want)
	}
}

// TestAgentFindsMQTTControllerMDNS: `usp agent` finds a Controller
// advertised as _usp-ctr-mqtt._tcp, opens an MQTT client to the advertised
// broker [R-MQTT.38] and reaches the Controller at the advertised topic
// [R-MQTT.37], with no MQTT configured in its file.
func TestAgentFindsMQTTControllerMDNS(t *testing.T) {
	bin := buildUSP(t)
	iface, port := mdnsLoopback(t)
	broker := testenv.Mosquitto(t)
	extra := fmt.Sprintf("admission: all\nmtps:\n  - protocol: MQTT\n    url: tcp://%s\n    topic: usp/controller/found\n    identity: claimed\n"+
		"advertise:\n  interface: %s\n  port: %d\n", broker, iface, port)
	p := startControllerProc(t, bin, t.TempDir(), extra)
	const id = "os::012345-MQTTDISC"
	startAgentProcessWith(t, bin, id, "", fmt.Sprintf("discovery:\n  interface: %s\n  port: %d\n  browse: true\n  role: Full Access\n", iface, port))
	waitAPIAgent(t, p, id, "MQTT")
}

// waitAPIAgent waits until the Controller's REST API lists the Agent
// online over the named MTP.
func waitAPIAgent(t *testing.T, p *controllerProc, id, mtpName string) {
	t.Helper()
	var last string
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		req, _ := http.NewRequest("GET", p.api+"/api/v1/agents", nil)
		req.Header.Set("Authorization", "Bearer "+p.token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			last = err.Error()
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		last = string(b)
		var list struct {
			Agents []struct {
				ID      string `json:"id"`
				Online  bool   `json:"online"`
				MTPName string `json:"mtp_name"`
			} `json:"agents"`
		}
		if json.Unmarshal(b, &list) == nil {
			for _, a := range list.Agents {
				if a.ID == id && a.Online && a.MTPName == mtpName {
					return
				}
			}
		}
	}
	t.Fatalf("the controller does not list %s online over %s: %s", id, mtpName, last)
}
