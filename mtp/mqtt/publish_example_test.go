package mqtt_test

import (
	"context"
	"log"

	"github.com/uspkit/uspkit/mtp/mqtt"
)

// A Bulk Data report goes to its own topic at QoS 2, retained for the
// collectors that subscribe later, with its media type.
func ExampleClient_Publish() {
	c := mqtt.NewClient(&mqtt.Options{URL: "tcp://127.0.0.1:1883", Version: mqtt.V5, EndpointID: "os::012345-AGENT", Topic: "usp/agent"})
	defer c.Close()
	// ... once c.Serve has connected:
	err := c.Publish(context.Background(), mqtt.Message{
		Topic:       "bulkdata/reports",
		Payload:     []byte(`{"Report":[{"Device.DeviceInfo.UpTime":42}]}`),
		QoS:         mqtt.QoS2,
		Retain:      true,
		ContentType: "application/json; charset=UTF-8",
	})
	if err != nil {
		log.Print(err) // mtp.ErrNoPeer while disconnected
	}
}
