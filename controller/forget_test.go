package controller_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/uspkit/uspkit/controller"
	"github.com/uspkit/uspkit/store"
)

// TestDeleteAgentForgetsEverything: deleting an Agent deletes what the
// Controller kept for it, in memory and in every store, and none of it
// comes back at a restart: its registry entry and tags (and the fleet
// index rows of a store that has one), its queued requests, its E2E
// session settings, its exchange log and its place in static groups.
func TestDeleteAgentForgetsEverything(t *testing.T) { eachStore(t, testDeleteAgentForgetsEverything) }

func testDeleteAgentForgetsEverything(t *testing.T, st controller.Store) {
	const other = "os::012345-OTHER"
	ctx := context.Background()
	r := startController(t, st)
	stopAgent := startAgent(t, r.url, store.NewMemory())
	waitOnline(t, r.c, true)
	if _, err := r.c.Do(ctx, agentID, get("Device.DeviceInfo.SerialNumber")); err != nil {
		t.Fatal(err)
	}
	prefer := controller.SessionSettings{Policy: controller.SessionsPrefer}
	if err := r.c.SaveSessions(ctx, agentID, prefer); err != nil {
		t.Fatal(err)
	}
	if err := r.c.SaveSessions(ctx, other, prefer); err != nil {
		t.Fatal(err)
	}
	if _, err := r.c.SetTags(ctx, agentID, []string{"lab"}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.c.PutGroup(ctx, controller.Group{ID: "g1", Static: []string{agentID, other}}); err != nil {
		t.Fatal(err)
	}
	stopAgent()
	waitOnline(t, r.c, false)
	qctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if _, err := r.c.Do(qctx, agentID, get("Device.DeviceInfo.")); !errors.Is(err, controller.ErrQueued) {
		t.Fatalf("offline request: %v", err)
	}

	if err := r.c.DeleteAgent(ctx, agentID); err != nil {
		t.Fatal(err)
	}
	if err := r.c.DeleteAgent(ctx, agentID); !errors.Is(err, controller.ErrUnknownAgent) {
		t.Errorf("second delete: %v, want ErrUnknownAgent", err)
	}
	check := func(t *testing.T, c *controller.Controller) {
		t.Helper()
		if _, ok := c.Agent(agentID); ok {
			t.Error("agent still registered")
		}
		if s, _ := c.Sessions(agentID); s.Policy != controller.SessionsOff {
			t.Errorf("E2E policy %v kept for the deleted agent", s.Policy)
		}
		if s, _ := c.Sessions(other); s.Policy != controller.SessionsPrefer {
			t.Errorf("another agent's E2E policy became %v", s.Policy)
		}
		if g, err := c.Group("g1"); err != nil || !slices.Equal(g.Static, []string{other}) {
			t.Errorf("group g1: %+v %v, want only %s", g, err, other)
		}
		if s := c.Stats(); s.Queued != 0 {
			t.Errorf("%d requests still queued", s.Queued)
		}
	}
	check(t, r.c)
	if x := r.c.Exchange(agentID, 0); len(x) != 0 {
		t.Errorf("%d records of the exchange log kept", len(x))
	}
	if idx, ok := st.(store.AgentIndex); ok {
		ids, _, err := idx.SearchAgents(ctx, store.AgentQuery{})
		if err != nil || slices.Contains(ids, agentID) {
			t.Errorf("fleet index still lists the agent: %v %v", ids, err)
		}
		ids, _, err = idx.SearchAgents(ctx, store.AgentQuery{Filters: []store.AgentFilter{{Tag: "lab"}}})
		if err != nil || len(ids) != 0 {
			t.Errorf("fleet index still has the agent's tag: %v %v", ids, err)
		}
	}
	snap, err := st.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range snap.Items {
		switch it.Kind {
		case "agent", "queue", "e2e", "group":
			if it.ID == agentID || strings.Contains(string(it.Data), agentID) {
				t.Errorf("stored %s %s still names the agent: %s", it.Kind, it.ID, it.Data)
			}
		}
	}
	r.stop()
	again, err := controller.New(ctx, controller.Options{EndpointID: ctrlID, Store: st})
	if err != nil {
		t.Fatal(err)
	}
	t.Run("after a restart", func(t *testing.T) { check(t, again) })
}

// TestDeleteAgentE2EOnly: E2E settings stored for an Endpoint ID that
// never connected are deleted too.
func TestDeleteAgentE2EOnly(t *testing.T) {
	ctx := context.Background()
	st := store.NewMemory()
	c, err := controller.New(ctx, controller.Options{EndpointID: ctrlID, Store: st})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SaveSessions(ctx, agentID, controller.SessionSettings{Policy: controller.SessionsRequire}); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteAgent(ctx, agentID); err != nil {
		t.Fatal(err)
	}
	if s, _ := c.Sessions(agentID); s.Policy != controller.SessionsOff {
		t.Errorf("policy %v after delete", s.Policy)
	}
	if snap, _ := st.Load(ctx); countKind(snap, "e2e") != 0 {
		t.Error("E2E settings still stored")
	}
}
