package mqtt_test

import (
	"context"
	"log"
	"sync"

	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/mtp/mqtt"
)

// A Handler that keeps its senders' Records in order with a lock, and
// answers where it gets each one: once it holds its place it calls
// HandOff, so that a slow answer does not hold back the Records behind it.
func ExampleClient_HandOff() {
	c := mqtt.NewClient(&mqtt.Options{URL: "tcp://127.0.0.1:1883", EndpointID: "os::012345-0001", Topic: "usp/agent/os::012345-0001"})
	defer c.Close()
	var order sync.RWMutex // reads together, writes alone, in order of arrival
	go c.Serve(context.Background(), mtp.HandlerFunc(func(ctx context.Context, in mtp.Inbound) {
		order.RLock() // its place, taken before the next Record is read
		defer order.RUnlock()
		c.HandOff()
		reply := in.Record // decode and answer here, however long it takes
		if err := c.Send(ctx, in.From.Address, reply); err != nil {
			log.Print(err)
		}
	}))
}
