//go:build !usp_device

package cli

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/uspkit/uspkit/internal/agentbench"
)

// runBench measures the cost per message of a running Agent, ours or
// another, over MQTT or WebSocket (see internal/agentbench).
func runBench(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "bench", "")
	id := fs.String("agent", "", "the Agent's Endpoint `ID` (or use --target)")
	pid := fs.Int("pid", 0, "the Agent's process `ID`, for CPU time per request and RSS (0: leave them out)")
	broker := fs.String("mqtt", "", "the MQTT broker's `URL` (tcp://host:port)")
	topic := fs.String("topic", "", "mqtt: the Agent's topic")
	ctlTopic := fs.String("controller-topic", "usp/controller/agentbench", "mqtt: the load client's own topic")
	user := fs.String("user", "", "mqtt: user name")
	pass := fs.String("pass", "", "mqtt: password")
	v311 := fs.Bool("v311", false, "mqtt: speak MQTT 3.1.1 rather than 5")
	url := fs.String("ws", "", "or the Agent's WebSocket server `URL` (ws://host:port/path)")
	ctrl := fs.String("controller", "proto::agentbench", "the load client's Endpoint `ID`: a Controller the Agent lets Add, Set, Delete and Operate")
	name := fs.String("name", "agent", "the `label` of the target's rows")
	workloads := fs.String("workloads", strings.Join(agentbench.Workloads, ","), "comma-separated `list` of workloads")
	inflight := fs.String("inflight", "1,8,64", "comma-separated `numbers` of requests in flight")
	requests := fs.Int("n", 2000, "at most this many requests per cell")
	duration := fs.Duration("t", 3*time.Second, "at most this long per cell")
	rounds := fs.Int("rounds", 1, "repeat every cell this many times")
	var more []string
	fs.Func("target", "a further Agent, measured interleaved with the first: `name=N,agent=ID,pid=P,mqtt=URL,topic=T` or name=N,agent=ID,pid=P,ws=URL, or name=N,agent=ID,pid=P,ws-listen=HOST:PORT (a WebSocket server the Agent dials) (repeatable)",
		func(s string) error { more = append(more, s); return nil })
	if err := parse(fs, args); err != nil {
		return err
	}
	var targets []agentbench.Target
	if *id != "" {
		tg, err := benchTarget(map[string]string{"name": *name, "agent": *id, "pid": strconv.Itoa(*pid), "mqtt": *broker, "topic": *topic, "ws": *url}, *v311, *ctlTopic, *user, *pass)
		if err != nil {
			return err
		}
		targets = append(targets, tg)
	}
	for _, s := range more {
		kv := map[string]string{}
		for f := range strings.SplitSeq(s, ",") {
			k, v, _ := strings.Cut(f, "=")
			kv[k] = v
		}
		tg, err := benchTarget(kv, *v311, *ctlTopic, *user, *pass)
		if err != nil {
			return err
		}
		targets = append(targets, tg)
	}
	if len(targets) == 0 {
		return fmt.Errorf("%w: --agent or --target is required", errUsage)
	}
	o := &agentbench.Options{ControllerID: *ctrl, Workloads: strings.Split(*workloads, ","), Requests: *requests, Duration: *duration, Rounds: *rounds}
	for s := range strings.SplitSeq(*inflight, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 || n > 1024 {
			return fmt.Errorf("%w: --inflight: %q is not a number from 1 to 1024", errUsage, s)
		}
		o.InFlight = append(o.InFlight, n)
	}
	rep, err := agentbench.Run(ctx, targets, o)
	if rep != nil {
		agentbench.Print(e.stdout, rep)
	}
	return err
}

// benchTarget builds a target from its fields: name, agent, pid, and mqtt
// with topic, or ws.
func benchTarget(kv map[string]string, v311 bool, ctlTopic, user, pass string) (agentbench.Target, error) {
	tg := agentbench.Target{Name: kv["name"], EndpointID: kv["agent"]}
	if tg.Name == "" {
		tg.Name = tg.EndpointID
	}
	if p := kv["pid"]; p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return tg, fmt.Errorf("%w: pid %q", errUsage, p)
		}
		tg.PID = n
	}
	switch {
	case tg.EndpointID == "":
		return tg, fmt.Errorf("%w: a target needs the Agent's Endpoint ID", errUsage)
	case kv["mqtt"] != "" && kv["topic"] != "":
		tg.MQTT = &agentbench.MQTTTarget{URL: kv["mqtt"], V311: v311, AgentTopic: kv["topic"], ControllerTopic: ctlTopic, Username: user, Password: pass}
	case kv["ws"] != "":
		tg.WebSocket = &agentbench.WebSocketTarget{URL: kv["ws"]}
	case kv["ws-listen"] != "":
		tg.WebSocket = &agentbench.WebSocketTarget{Listen: kv["ws-listen"]}
	default:
		return tg, fmt.Errorf("%w: %s: give an MQTT broker with the Agent's topic, a WebSocket URL, or a ws-listen address", errUsage, tg.Name)
	}
	return tg, nil
}
