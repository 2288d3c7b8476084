package agentbench_test

import (
	"context"
	"os"
	"time"

	"github.com/uspkit/uspkit/internal/agentbench"
)

// Compare two Agents on one broker, interleaved: a Get of EndpointID and a
// Set, 8 requests in flight, at most 500 requests or 2 seconds a cell. The
// PIDs give CPU time per request and RSS.
func ExampleRun() {
	ctx := context.Background()
	broker := "tcp://127.0.0.1:1883"
	rep, err := agentbench.Run(ctx, []agentbench.Target{
		{Name: "ours", EndpointID: "os::012345-OURS", PID: 4242,
			MQTT: &agentbench.MQTTTarget{URL: broker, AgentTopic: "usp/agent/ours"}},
		{Name: "theirs", EndpointID: "os::012345-THEIRS", PID: 4343,
			MQTT: &agentbench.MQTTTarget{URL: broker, AgentTopic: "usp/agent/theirs"}},
	}, &agentbench.Options{
		ControllerID: "proto::agentbench",
		Workloads:    []string{"get-endpointid", "set"},
		InFlight:     []int{8},
		Requests:     500,
		Duration:     2 * time.Second,
	})
	if err != nil {
		return
	}
	agentbench.Print(os.Stdout, rep)
}
