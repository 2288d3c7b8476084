// Package agentbench measures what a USP Agent costs per message: it
// drives any Agent, ours or another, over MQTT or WebSocket with a lean
// USP client that keeps a fixed number of requests in flight, and reports
// throughput, latency percentiles, the Agent process's CPU time per
// request and its resident memory.
//
// Targets are measured interleaved: every (workload, requests in flight)
// cell runs once per target per round, so that targets compared in one run
// share the machine's load. Each cell is bounded by a request count and a
// duration.
//
// Over WebSocket the load client either dials an Agent's WebSocket server
// (WebSocketTarget.URL) or is itself the WebSocket server an Agent dials,
// as it would dial its Controller (WebSocketTarget.Listen), so that Agents
// can be compared with the connection in the same direction.
//
//	res, err := agentbench.Run(ctx, []agentbench.Target{{
//		Name: "usp agent", EndpointID: "os::012345-BENCH", PID: pid,
//		MQTT: &agentbench.MQTTTarget{URL: "tcp://127.0.0.1:1883", AgentTopic: "usp/agent/bench"},
//	}}, &agentbench.Options{ControllerID: "proto::bench"})
//	agentbench.Print(os.Stdout, res)
//
// The CPU and RSS figures come from /proc/<pid>/stat and /proc/<pid>/status
// of the Agent's process (Linux), so the Agent must run on this machine;
// without a PID they are left out.
package agentbench
