package controller_test

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/uspkit/uspkit/controller"
	"github.com/uspkit/uspkit/store"
	"github.com/uspkit/uspkit/wire"
)

// registered returns a Controller whose store already knows three Agents,
// as a restarted Controller would.
func registered() *controller.Controller {
	ctx := context.Background()
	st := store.NewMemory()
	for i, model := range []string{"Alpha", "Beta", "Alpha"} {
		a := controller.Agent{ID: fmt.Sprintf("os::012345-ex%d", i), Info: map[string]string{"ModelName": model, "SoftwareVersion": "1.0"},
			LastSeen: time.Date(2026, 1, 1, i, 0, 0, 0, time.UTC)}
		data, _ := json.Marshal(a)
		st.Apply(ctx, &store.Batch{PutItems: []store.Item{{Kind: "agent", ID: a.ID, Data: data}}})
	}
	c, err := controller.New(ctx, controller.Options{EndpointID: "proto::example-controller", Store: st})
	if err != nil {
		panic(err)
	}
	return c
}

// Tag an Agent, then search by model and tag, newest contact first.
func ExampleController_SearchAgents() {
	ctx := context.Background()
	c := registered()
	c.SetTags(ctx, "os::012345-ex2", []string{"lab"})
	agents, total, _ := c.SearchAgents(ctx, controller.AgentSearch{AgentFilter: controller.AgentFilter{Model: "Alpha"}, Sort: "last_seen", Order: "desc"})
	fmt.Println(total)
	for _, a := range agents {
		fmt.Println(a.ID, a.Tags)
	}
	// Output:
	// 2
	// os::012345-ex2 [lab]
	// os::012345-ex0 []
}

// A dynamic group is a filter, evaluated at each use.
func ExampleController_PutGroup() {
	ctx := context.Background()
	c := registered()
	g, _ := c.PutGroup(ctx, controller.Group{ID: "beta", Filter: &controller.AgentFilter{Model: "Beta"}})
	agents, _, _ := c.SearchAgents(ctx, controller.AgentSearch{AgentFilter: controller.AgentFilter{Group: g.ID}})
	fmt.Println(g.Name, len(agents), agents[0].ID)
	// Output:
	// beta 1 os::012345-ex1
}

// A job sends one request to every member of a group, as each comes
// online; here none is, so all three wait.
func ExampleController_CreateJob() {
	ctx := context.Background()
	c := registered()
	g, _ := c.PutGroup(ctx, controller.Group{ID: "all", Filter: &controller.AgentFilter{Q: "ex"}})
	req := &wire.Request{ReqType: &wire.Request_Get{Get: &wire.Get{ParamPaths: []string{"Device.DeviceInfo.SoftwareVersion"}}}}
	j, err := c.CreateJob(ctx, controller.JobSpec{Group: g.ID, Kind: controller.JobGet, Concurrency: 10, RetryFor: controller.Duration(time.Hour)}, req)
	if err != nil {
		panic(err)
	}
	fmt.Println(j.State, j.Counts.Total, j.Counts.OfflineWaiting)
	// Output:
	// running 3 3
}
