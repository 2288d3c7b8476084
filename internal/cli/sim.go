package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/mtp/ws"
	"github.com/uspkit/uspkit/sim"
)

// runSim connects a fleet of light agents to a controller and keeps them
// connected until interrupted.
func runSim(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "sim", "")
	n := fs.Int("n", 100, "number of agents")
	url := fs.String("ws", "", "the controller's WebSocket `URL`")
	ctrl := fs.String("controller", "proto::uspkit-controller", "the controller's Endpoint `ID`")
	prefix := fs.String("prefix", "os::012345-SIM", "Endpoint ID prefix (an index is appended)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *url == "" {
		return fmt.Errorf("%w: --ws is required", errUsage)
	}
	f, err := sim.Start(ctx, sim.Options{N: *n, Prefix: *prefix, Controller: *ctrl, ControllerAddr: *ctrl,
		Dial: func(id string, onState mtp.StateFunc) mtp.Transport {
			return ws.NewClient(&ws.Options{URL: *url, EndpointID: id, OnState: onState, PingInterval: 5 * time.Minute, QueueLen: 16, MinWait: time.Second})
		}})
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
	<-ctx.Done()
	return nil
}
