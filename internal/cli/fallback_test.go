package cli_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/uspkit/uspkit/internal/testenv"
)

// TestControllerRouteFallback: an Agent heard on two MTPs of the
// Controller (the Controller's WebSocket connection to it, and an MQTT
// broker) stays reachable when the WebSocket connection is cut: its route
// is dropped, the MQTT one becomes current, and requests are answered
// over it.
func TestControllerRouteFallback(t *testing.T) {
	bin := buildUSP(t)
	mosq := testenv.StartMosquitto(t)
	dir := t.TempDir()
	agentWS := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	const id = "os::00D09E-TWOROUTES"
	proxy := testenv.NewProxy(t, agentWS)
	ctl := startConfigured(t, bin, "controller", dir, "controller.yaml", fmt.Sprintf(`endpoint_id: proto::acs.example.net
data: %s/controller
http: 127.0.0.1:0
log_level: error
admission: all
mtps:
  - name: fleet
    protocol: MQTT
    url: tcp://%s
    topic: usp/controller/two-routes
  - name: dial
    protocol: WebSocket
    identity: claimed
    agents:
      - endpoint_id: %s
        url: ws://%s/usp
    retry:
      min_wait: 1s
      multiplier: 1000
`, dir, mosq.Plain, id, proxy.Addr()))
	// The Controller first, subscribed at the broker, so that the
	// Agent's MQTTConnect record finds it; its WebSocket client reaches
	// the Agent at its next attempt.
	startConfigured(t, bin, "agent", dir, "agent.yaml", fmt.Sprintf(`endpoint_id: %s
data: %s/agent
log_level: warn
mtps:
  - protocol: WebSocket
    listen: %s
    path: /usp
  - protocol: MQTT
    url: tcp://%s
    topic: usp/agent/00D09E-TWOROUTES
    controller_topic: usp/controller/two-routes
factory:
  controllers:
    - endpoint_id: proto::acs.example.net
      mtps:
        - protocol: WebSocket
        - protocol: MQTT
          topic: usp/controller/two-routes
`, id, dir, agentWS, mosq.Plain))
	api := apiOf(t, ctl)
	api.waitOnline(t, id, 30*time.Second)
	routes := func() (cur string, names []string) {
		_, out := api.call(t, "GET", "/api/v1/agents/"+id, nil)
		var a struct {
			MTP    string `json:"mtp_name"`
			Routes []struct {
				MTP string `json:"mtp"`
			} `json:"routes"`
		}
		json.Unmarshal([]byte(out), &a)
		for _, r := range a.Routes {
			names = append(names, r.MTP)
		}
		return a.MTP, names
	}
	// Heard on both: the WebSocket connection came up, and the Agent's
	// MQTTConnect record arrived over the broker.
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if _, names := routes(); len(names) == 2 {
			break
		}
		if time.Now().After(deadline) {
			_, names := routes()
			t.Fatalf("routes %v, want fleet and dial", names)
		}
	}
	api.usp(t, id, "get", map[string]any{"paths": []string{"Device.LocalAgent.EndpointID"}}, id)
	if cur, _ := routes(); cur != "dial" {
		t.Fatalf("current route %q before the cut; the Get was answered over the WebSocket, want dial", cur)
	}

	proxy.Cut()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		cur, names := routes()
		if cur == "fleet" && len(names) == 1 && names[0] == "fleet" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the WebSocket was cut: current %q, routes %v; want fleet alone", cur, names)
		}
	}
	for range 3 {
		api.usp(t, id, "get", map[string]any{"paths": []string{"Device.LocalAgent.EndpointID"}}, id)
	}
	if _, out := api.call(t, "GET", "/api/v1/agents/"+id, nil); !json.Valid([]byte(out)) || !containsAll(out, `"online": true`, `"mtp_name": "fleet"`) {
		t.Errorf("agent after the fallback: %s", out)
	}
}

func containsAll(s string, subs ...string) bool {
	for _, x := range subs {
		if !strings.Contains(s, x) {
			return false
		}
	}
	return true
}
