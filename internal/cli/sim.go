//go:build !usp_device

package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/mtp/mqtt"
	"github.com/uspkit/uspkit/mtp/ws"
	"github.com/uspkit/uspkit/record"
	"github.com/uspkit/uspkit/sim"
)

// runSim connects a fleet of light agents to a controller and keeps them
// connected until interrupted.
func runSim(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "sim", "")
	n := fs.Int("n", 100, "number of agents")
	url := fs.String("ws", "", "the controller's WebSocket `URL` (the simulated agents carry no credentials: the controller must take claimed identities, as usp up --lab does)")
	broker := fs.String("mqtt", "", "or the MQTT broker's `URL` (tcp://host:port)")
	user := fs.String("user", "", "mqtt: user name")
	pass := fs.String("pass", "", "mqtt: password")
	ctlTopic := fs.String("controller-topic", "", "mqtt: the controller's topic")
	topicPrefix := fs.String("topic-prefix", "usp/agent/", "mqtt: each agent's topic is this prefix and its Endpoint ID")
	v311 := fs.Bool("v311", false, "mqtt: speak MQTT 3.1.1 rather than 5")
	pace := fs.Duration("pace", 0, "pause between starting one agent and the next")
	ctrl := fs.String("controller", "proto::uspkit-controller", "the controller's Endpoint `ID`")
	prefix := fs.String("prefix", "os::012345-SIM", "Endpoint ID prefix (an index is appended)")
	fw := fs.Bool("firmware", false, "the agents answer firmware upgrades and software installs (FirmwareImage Download()/Activate(), InstallDU())")
	fwVersion := fs.String("firmware-version", "1.0.0", "with --firmware: the SoftwareVersion the agents start with")
	fwNew := fs.String("firmware-new-version", "", "with --firmware: the SoftwareVersion after an upgrade (default: the old one with -new)")
	fwFail := fs.Float64("fail-fraction", 0, "with --firmware: the share of agents (0-1, spread evenly) whose downloads and installs fail")
	fwDelay := fs.Duration("firmware-delay", 0, "with --firmware: how long a download or install takes (default 20ms)")
	fwFetch := fs.Bool("fetch", false, "with --firmware: fetch each Download()'s URL and check its size and SHA-256")
	bulk := newSimBulkFlags(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	o := sim.Options{N: *n, Prefix: *prefix, Controller: *ctrl, ControllerAddr: *ctrl, Pace: *pace}
	if *fw {
		if *fwFail < 0 || *fwFail > 1 {
			return fmt.Errorf("%w: --fail-fraction %v: want 0 to 1", errUsage, *fwFail)
		}
		o.Firmware = &sim.Firmware{Version: *fwVersion, NewVersion: *fwNew, FailFraction: *fwFail, Delay: *fwDelay, Fetch: *fwFetch}
	}
	switch {
	case *url != "":
		o.Dial = func(id string, onState mtp.StateFunc) mtp.Transport {
			return ws.NewClient(&ws.Options{URL: *url, EndpointID: id, OnState: onState, PingInterval: 5 * time.Minute, QueueLen: 16, MinWait: time.Second})
		}
	case *broker != "":
		version, rv := mqtt.V5, record.MQTTVersion5
		if *v311 {
			version, rv = mqtt.V311, record.MQTTVersion311
		}
		o.ControllerAddr = *ctlTopic
		o.Connect = func(to, from string) *record.Record { return record.NewMQTTConnect(to, from, rv, *topicPrefix+from) }
		o.Dial = func(id string, onState mtp.StateFunc) mtp.Transport {
			return mqtt.NewClient(&mqtt.Options{URL: *broker, Version: version, EndpointID: id, Username: *user, Password: *pass, Topic: *topicPrefix + id,
				DefaultPeerTopic: *ctlTopic, OnState: onState, QueueLen: 16, MinWait: time.Second, KeepAlive: 5 * time.Minute})
		}
	default:
		return fmt.Errorf("%w: give --ws or --mqtt", errUsage)
	}
	f, err := sim.Start(ctx, o)
	if err != nil {
		return err
	}
	defer f.Close()
	start := time.Now()
	for f.Up() < *n {
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(50 * time.Millisecond):
		}
	}
	fmt.Fprintf(e.stdout, "up %d in %v\n", *n, time.Since(start).Round(time.Millisecond))
	stopBulk, err := bulk.start(ctx, f, *n, e.stdout)
	if err != nil {
		return err
	}
	<-ctx.Done()
	stopBulk()
	return nil
}
