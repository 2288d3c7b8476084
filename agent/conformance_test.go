//go:build !usp_noproto

package agent_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/uspkit/uspkit/agent"
	"github.com/uspkit/uspkit/conformance"
	"github.com/uspkit/uspkit/datamodel"
	"github.com/uspkit/uspkit/mtp/mtptest"
	"github.com/uspkit/uspkit/schema"
	"github.com/uspkit/uspkit/store"
	"github.com/uspkit/uspkit/tr181/deviceinfo"
)

// TestTP469 holds the Agent to TP-469 sections 1, 2, 3 and 9 over the
// in-memory transport: each case is a subtest named by its TP-469 id, run
// by the conformance runner as a black box. Cases that wait long or reboot
// (here the Agent restarts in place) run only with USP_CONFORMANCE_LONG=1.
func TestTP469(t *testing.T) {
	m := schema.New()
	agent.Define(m)
	deviceinfo.Define(m)
	mux := datamodel.NewMux(m)
	deviceinfo.Register(mux, deviceinfo.Info{Manufacturer: "uspkit", ManufacturerOUI: "00D09E", ModelName: "test", ProductClass: "uspkit",
		SerialNumber: "TP469", SoftwareVersion: "test"})
	agentEnd, runnerEnd := mtptest.NewPipe(agentID, ctrlID, nil)
	agentEnd2, secondEnd := mtptest.NewPipe(agentID, "proto::second-controller", nil)
	st := store.NewMemory()
	a, err := agent.New(context.Background(), agent.Options{EndpointID: agentID, Mux: mux, Store: st, SoftwareVersion: "test",
		MTPs: []agent.MTP{{Protocol: "UDS", Transport: agentEnd}, {Protocol: "WebSocket", Transport: agentEnd2}},
		Factory: &agent.Config{Controllers: []agent.ControllerConfig{{EndpointID: ctrlID, Alias: "runner",
			MTPs: []agent.ControllerMTPConf{{Protocol: "UDS"}}}}},
		PollInterval: 200 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()
	long := os.Getenv("USP_CONFORMANCE_LONG") == "1"
	res, err := conformance.Run(ctx, conformance.Options{AgentID: agentID, ControllerID: ctrlID, Transport: runnerEnd, AgentAddr: agentID,
		Second: &conformance.Peer{ID: "proto::second-controller", Transport: secondEnd, AgentAddr: agentID},
		Long:   long, Reboot: long, ReplyTimeout: 5 * time.Second}, conformance.Match("1.*,2.*,3.1,9.*"))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		t.Run(r.ID, func(t *testing.T) {
			switch r.Status {
			case conformance.Fail:
				t.Errorf("%s %s: %s", r.ID, r.Title, r.Reason)
			case conformance.Skip:
				t.Skipf("%s: %s", r.Title, r.Reason)
			}
		})
	}
	t.Log(conformance.Summary(res))
}
