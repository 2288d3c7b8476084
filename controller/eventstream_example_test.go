package controller_test

import (
	"context"
	"fmt"
	"time"

	"github.com/uspkit/uspkit/controller"
	"github.com/uspkit/uspkit/mtp/mtptest"
	"github.com/uspkit/uspkit/record"
)

// SubscribeLag and EventsAfter: a reader passes events on in Seq order,
// catching up from the events kept when one is not the next it expects
// or when it is told it fell behind. Here the "online" event of an Agent
// that connects.
func ExampleController_SubscribeLag() {
	const ctrlID, agentID = "proto::acs.example.net", "os::012345-EXAMPLE"
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ctrlEnd, agentEnd := mtptest.NewPipe(ctrlID, agentID, nil)
	c, err := controller.New(ctx, controller.Options{EndpointID: ctrlID, MTPs: []controller.MTP{{Protocol: "UDS", Transport: ctrlEnd}},
		Admission: controller.AdmitAll, RequestTimeout: 100 * time.Millisecond})
	if err != nil {
		fmt.Println(err)
		return
	}
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	defer func() { cancel(); <-done }()
	events, lagged, stop := c.SubscribeLag()
	defer stop()
	_, _, last := c.EventsAfter("", ^uint64(0)) // the newest Seq so far
	b, _ := record.NewWebSocketConnect(ctrlID, agentID).MarshalBinary()
	agentEnd.Send(ctx, ctrlID, b)
	catchUp := func() {
		kept, oldest, newest := c.EventsAfter("", last)
		if oldest > last+1 {
			fmt.Println("missed", oldest-1-last)
		}
		for _, e := range kept {
			fmt.Println(e.Kind, e.Agent)
		}
		last = newest
	}
	select {
	case e := <-events:
		if e.Seq == last+1 {
			fmt.Println(e.Kind, e.Agent)
		} else if e.Seq > last {
			catchUp()
		}
	case <-lagged:
		catchUp()
	case <-time.After(2 * time.Second):
		fmt.Println("no event")
	}
	// Output:
	// online os::012345-EXAMPLE
}
