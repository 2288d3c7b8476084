package cli_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/uspkit/uspkit/internal/testenv"
)

// TestUpExternalBroker: `usp up --mqtt-external URL` also subscribes the
// Controller at an external MQTT broker, as the MTP named "external", and
// an Agent of that broker is managed through it.
func TestUpExternalBroker(t *testing.T) {
	bin := buildUSP(t)
	mosq := testenv.StartMosquitto(t)
	dir := t.TempDir()
	up := startUSP(t, bin, "up", "--data", dir, "--http", "127.0.0.1:0", "--ws", "127.0.0.1:0", "--mqtt", "127.0.0.1:0",
		"--mqtt-external", "tcp://"+mosq.Plain)
	api := apiOf(t, up)
	const id = "os::00D09E-EXTERNAL"
	conf := fmt.Sprintf(`endpoint_id: %s
data: %s/agent-external
log_level: warn
mtps:
  - protocol: MQTT
    url: tcp://%s
    topic: usp/agent/00D09E-EXTERNAL
    controller_topic: usp/controller/uspkit
factory:
  controllers:
    - endpoint_id: proto::uspkit-controller
      mtps:
        - protocol: MQTT
          topic: usp/controller/uspkit
`, id, dir, mosq.Plain)
	startConfigured(t, bin, "agent", dir, "agent-external.yaml", conf)
	if ag := api.waitOnline(t, id, 30*time.Second); ag.MTP != "external" || ag.Protocol != "MQTT" {
		t.Errorf("the agent was heard on %s/%s, want MQTT/external", ag.Protocol, ag.MTP)
	}
	api.usp(t, id, "get", map[string]any{"paths": []string{"Device.LocalAgent.EndpointID"}}, id)
	if _, stderr, code := run(t, nil, "up", "--mqtt-external", "http://x"); code != 2 || stderr == "" {
		t.Errorf("a bad --mqtt-external URL: status %d, %q", code, stderr)
	}
}
