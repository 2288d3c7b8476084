package agent_test

import (
	"context"
	"fmt"

	"github.com/uspkit/uspkit/agent"
	"github.com/uspkit/uspkit/datamodel"
	"github.com/uspkit/uspkit/schema"
	"github.com/uspkit/uspkit/store"
)

// A provider of a live table tells the Agent that a row appeared, so that
// Controllers subscribed to ObjectCreation on the table hear of it.
func ExampleAgent_Announce() {
	m := schema.New()
	agent.Define(m)
	m.Define("Device.X_EXAMPLE_Port.{i}.", schema.Keys("Name")).Param("Name", schema.String())
	mux := datamodel.NewMux(m)
	mux.HandleFunc("Device.X_EXAMPLE_Port.{i}.", func(ctx context.Context, w datamodel.ResponseWriter, r *datamodel.Request) error { return nil })
	a, err := agent.New(context.Background(), agent.Options{EndpointID: "os::012345-EX2", Mux: mux, Store: store.NewMemory()})
	if err != nil {
		fmt.Println(err)
		return
	}
	a.Announce(context.Background(), []datamodel.Change{
		{Op: datamodel.OpAdd, Path: "Device.X_EXAMPLE_Port.1.", Params: map[string]string{"Name": "eth0"}},
	})
	fmt.Println("announced")
	// Output: announced
}
