package agent_test

import (
	"context"
	"log"

	"github.com/uspkit/uspkit/agent"
	"github.com/uspkit/uspkit/datamodel"
	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/schema"
)

// An Agent that is a USP Broker: DefineBroker adds Device.USPServices and
// Device.UnixDomainSockets, and ServeServices takes USP Services on the
// Broker's Controller socket (a Unix domain socket server from mtp/uds in a
// real device, whose OnState is ServiceState).
func ExampleAgent_ServeServices() {
	ctx := context.Background()
	m := schema.New()
	agent.Define(m)
	agent.DefineBroker(m)
	a, err := agent.New(ctx, agent.Options{EndpointID: "os::012345-broker", Mux: datamodel.NewMux(m)})
	if err != nil {
		log.Fatal(err)
	}
	var services mtp.Transport // uds.NewServer(&uds.Options{Path: "/var/run/usp/broker_controller_path", EndpointID: "os::012345-broker", OnState: a.ServiceState})
	go a.Run(ctx)
	log.Fatal(a.ServeServices(ctx, agent.BrokerOptions{Transport: services, ControllerSocket: "/var/run/usp/broker_controller_path"}))
}
