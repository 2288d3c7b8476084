package cli_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/uspkit/uspkit/internal/testenv"
)

// TestControllerSharedSubscription runs two `usp controller` processes,
// each with its own SQLite, that share the MQTT 5 topic Agents send to
// through a shared subscription (shared_group), each with its own reply
// topic, and one `usp agent` that knows only the shared topic. Requests
// from both Controllers are answered, each response reaching the one
// that asked (no "response" event for a request of the other); every
// Notify of the Agent is handled by exactly one of them, stored once and
// acknowledged (never sent again although NotifRetry is on), and the
// broker spreads them over both.
func TestControllerSharedSubscription(t *testing.T) {
	bin := buildUSP(t)
	mosq := testenv.StartMosquitto(t)
	dir := t.TempDir()
	common := []string{"tcp://mqtt.example.net:1883", "tcp://" + mosq.Plain, "/var/lib/", dir + "/", "http: 127.0.0.1:8080", "http: 127.0.0.1:0"}
	files := deployFiles(t, []string{"controller-shared.yaml", "agent-shared.yaml"}, common...)
	second := deployFiles(t, []string{"controller-shared.yaml"}, append(common, "acs-1", "acs-2", "usp-controller-1", "usp-controller-2")...)
	ctls := []*restAPI{
		apiOf(t, startConfigured(t, bin, "controller", dir, "controller-1.yaml", files[0])),
		apiOf(t, startConfigured(t, bin, "controller", dir, "controller-2.yaml", second[0])),
	}
	agentID := endpointLine.FindStringSubmatch(files[1])[1]

	// The Agent's connect Record goes to one of the two; it reconnects
	// until both have heard of it (the broker hands the shared topic's
	// messages out in turn).
	agent := startConfigured(t, bin, "agent", dir, "agent.yaml", files[1])
	for attempt := 0; ; attempt++ {
		known := 0
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline) && known < 2; time.Sleep(50 * time.Millisecond) {
			known = 0
			for _, c := range ctls {
				if code, out := c.call(t, "GET", "/api/v1/agents/"+agentID, nil); code == 200 && strings.Contains(out, `"online": true`) {
					known++
				}
			}
		}
		if known == 2 {
			break
		}
		if attempt == 8 {
			t.Fatalf("after %d connections the agent is known to %d of the 2 controllers", attempt+1, known)
		}
		agent.stop()
		agent = startConfigured(t, bin, "agent", dir, "agent.yaml", files[1])
	}
	for _, c := range ctls {
		c.waitOnline(t, agentID, 20*time.Second)
	}

	setFastRetry(t, ctls[0], agentID)
	ctls[1].usp(t, agentID, "add", vcSubscription(), "instantiated_path")
	const sets = 8
	base := 2000 + int(time.Now().UnixNano()%10000)*10
	for i := range sets {
		setInterval(t, ctls[i%2], agentID, base+i)
	}
	// Every Notify stored by exactly one Controller.
	per := make([]int, len(ctls))
	var missing []int
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		seen := map[int]int{}
		for i, c := range ctls {
			per[i] = 0
			for _, e := range c.notifies(t, "PeriodicNotifInterval") {
				for v := base; v < base+sets; v++ {
					if strings.Contains(string(e.Msg), fmt.Sprintf(`"%d"`, v)) {
						seen[v]++
						per[i]++
					}
				}
			}
		}
		missing = missing[:0]
		for v := base; v < base+sets; v++ {
			if seen[v] > 1 {
				t.Fatalf("the Notify of %d was handled by both controllers", v)
			}
			if seen[v] == 0 {
				missing = append(missing, v)
			}
		}
		if len(missing) == 0 || time.Now().After(deadline) {
			break
		}
	}
	if len(missing) > 0 {
		t.Fatalf("no controller stored the Notify of %v", missing)
	}
	t.Logf("Notify messages handled: %d by the first controller, %d by the second", per[0], per[1])
	if per[0] == 0 || per[1] == 0 {
		t.Errorf("Notify messages per controller %v: the topic was not shared", per)
	}
	// Acknowledged: no Notify came again (the agent retries after 1 to 2
	// s); and no response went to the controller that did not ask.
	time.Sleep(2500 * time.Millisecond)
	for i, c := range ctls {
		if got, stored := c.notifyCount(t), len(c.notifies(t, "")); got != stored {
			t.Errorf("controller %d: %d Notify messages received for %d stored: one was not acknowledged", i+1, got, stored)
		}
		for _, e := range c.events(t) {
			if e.Kind == "response" {
				t.Errorf("controller %d got a response it did not wait for: %s", i+1, e.Msg)
			}
		}
	}
}
