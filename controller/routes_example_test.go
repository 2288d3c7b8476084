package controller_test

import (
	"context"
	"fmt"

	"github.com/uspkit/uspkit/controller"
	"github.com/uspkit/uspkit/mtp/mtptest"
)

// A Controller on two MQTT brokers: MTPs of one protocol need names, which
// the registry then records per Agent (Agent.MTP, Agent.Routes).
func ExampleMTP_name() {
	brokerA, _ := mtptest.NewPipe("controller", "agents-a", nil)
	brokerB, _ := mtptest.NewPipe("controller", "agents-b", nil)
	_, err := controller.New(context.Background(), controller.Options{EndpointID: "proto::acs.example.net", MTPs: []controller.MTP{
		{Name: "broker-a", Protocol: "MQTT", Transport: brokerA},
		{Name: "broker-b", Protocol: "MQTT", Transport: brokerB},
	}})
	fmt.Println("named:", err)
	_, err = controller.New(context.Background(), controller.Options{EndpointID: "proto::acs.example.net", MTPs: []controller.MTP{
		{Protocol: "MQTT", Transport: brokerA},
		{Protocol: "MQTT", Transport: brokerB},
	}})
	fmt.Println("unnamed:", err)
	// Output:
	// named: <nil>
	// unnamed: controller: two MTPs are named "MQTT"
}
