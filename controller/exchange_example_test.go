package controller_test

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/uspkit/uspkit/controller"
	"github.com/uspkit/uspkit/mtp/mtptest"
	"github.com/uspkit/uspkit/record"
)

// Exchange shows the last Records sent to and received from an Agent,
// decoded, for troubleshooting: here the WebSocketConnect Record an Agent
// sent.
func ExampleController_Exchange() {
	const ctrlID, agentID = "proto::acs.example.net", "os::012345-EXAMPLE"
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ctrlEnd, agentEnd := mtptest.NewPipe(ctrlID, agentID, nil)
	c, err := controller.New(ctx, controller.Options{EndpointID: ctrlID, MTPs: []controller.MTP{{Protocol: "UDS", Transport: ctrlEnd}}})
	if err != nil {
		fmt.Println(err)
		return
	}
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	defer func() { cancel(); <-done }()
	b, _ := record.NewWebSocketConnect(ctrlID, agentID).MarshalBinary()
	agentEnd.Send(ctx, ctrlID, b)
	for range 200 { // bounded: at most 2 s
		for _, x := range c.Exchange(agentID, 0) {
			if x.Direction == "received" && strings.Contains(string(x.Record), "websocket_connect") {
				fmt.Println(x.Direction, x.MTP, x.Size, "bytes")
				return
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	fmt.Println("no record")
	// Output:
	// received UDS 51 bytes
}
