package mqtt_test

import (
	"fmt"

	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/mtp/mqtt"
)

// A Client's send limit is Options.MaxRecord until an MQTT 5.0 server
// states its Maximum Packet Size in the CONNACK; MaxRecord reports the one
// in force, and Options.MaxPacketSize is what the Client announces in its
// CONNECT (the data model's MQTT.Client.{i}.MaximumPacketSize).
func ExampleClient_MaxRecord() {
	c := mqtt.NewClient(&mqtt.Options{URL: "tcp://127.0.0.1:1883", EndpointID: "os::012345-A1", Topic: "usp/agent/a1",
		MaxRecord: 1 << 20, MaxPacketSize: 2 << 20})
	var t mtp.Transport = c
	fmt.Println(t.(mtp.Limited).MaxRecord())
	// Output: 1048576
}
