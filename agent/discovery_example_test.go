package agent_test

import (
	"context"
	"fmt"

	"github.com/uspkit/uspkit/agent"
	"github.com/uspkit/uspkit/datamodel"
	"github.com/uspkit/uspkit/discovery"
	"github.com/uspkit/uspkit/schema"
	"github.com/uspkit/uspkit/store"
)

// A Controller from a DHCP lease's BBF options becomes the "cpe-dhcp"
// Controller entry of the Agent.
func ExampleAgent_Discovered() {
	m := schema.New()
	agent.Define(m)
	a, err := agent.New(context.Background(), agent.Options{EndpointID: "os::012345-EX1", Mux: datamodel.NewMux(m), Store: store.NewMemory()})
	if err != nil {
		fmt.Println(err)
		return
	}
	d, _ := agent.FromDHCP(discovery.VendorInfo{ControllerURL: "ws://192.0.2.1:8081/usp", ProvisioningCode: "PROV-1", EndpointID: "proto::ctr"})
	path, err := a.Discovered(context.Background(), d)
	fmt.Println(path, err)
	// Output: Device.LocalAgent.Controller.1. <nil>
}

func ExampleFromDHCP() {
	d, _ := agent.FromDHCP(discovery.VendorInfo{ControllerURL: "mqtt://broker.example/usp/controller", ProvisioningCode: "PROV", EndpointID: "proto::ctr"})
	fmt.Println(d.Alias, d.EndpointID, d.Protocol, d.Host, d.Port, d.Path, d.ProvisioningCode)
	// Output: cpe-dhcp proto::ctr MQTT broker.example 1883 usp/controller PROV
}

func ExampleFromService() {
	d, _ := agent.FromService(discovery.Service{Instance: "proto::ctr", Type: discovery.ControllerWebSocket, Host: "ctr.local", Port: 8443,
		Path: "/usp", Encrypt: true})
	fmt.Println(d.EndpointID, d.Protocol, d.Host, d.Port, d.Path, d.Encrypt)
	// Output: proto::ctr WebSocket ctr.local 8443 /usp true
}
