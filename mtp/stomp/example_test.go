package stomp_test

import (
	"bytes"
	"context"
	"fmt"
	"log"
	"time"

	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/mtp/stomp"
)

// A USP Agent on a STOMP server: it subscribes to its destination, answers
// each Record at the sender's reply-to-dest, and sends a Notify to its
// Controller's destination.
func ExampleNewClient() {
	c := stomp.NewClient(&stomp.Options{
		Addr:        "127.0.0.1:61613",
		VirtualHost: "/",
		Username:    "agent-1",
		Password:    "secret",
		EndpointID:  "proto::agent-1",
		Destination: "/queue/agent-1",
		// Offer heart-beats both ways every 30 seconds.
		OutgoingHeartbeat: 30 * time.Second,
		IncomingHeartbeat: 30 * time.Second,
	})
	defer c.Close()
	ctx := context.Background()
	go c.Serve(ctx, mtp.HandlerFunc(func(ctx context.Context, in mtp.Inbound) {
		reply := in.Record // decode and answer here
		if err := c.Send(ctx, in.From.Address, reply); err != nil {
			log.Print(err)
		}
	}))
	// Sent at once when connected, else queued until the connection is up.
	if err := c.Send(ctx, "/queue/controller-1", []byte("notify record")); err != nil {
		log.Print(err)
	}
}

// Writing and reading a frame with the codec.
func ExampleReader() {
	f := stomp.Frame{Command: "SEND", Headers: []stomp.Header{
		{Key: "destination", Value: "/queue/a"},
		{Key: "reply-to-dest", Value: "/queue/b:1"},
		{Key: "content-length", Value: "3"},
	}, Body: []byte{1, 0, 2}}
	wire, err := stomp.AppendFrame(nil, &f)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%q\n", wire)

	r := stomp.NewReader(bytes.NewReader(append([]byte("\n\n"), wire...)), 0, 0)
	var got stomp.Frame
	if err := r.ReadFrame(&got); err != nil {
		log.Fatal(err)
	}
	replyTo, _ := got.Get("reply-to-dest")
	fmt.Println(got.Command, replyTo, got.Body)
	// Output:
	// "SEND\ndestination:/queue/a\nreply-to-dest:/queue/b\\c1\ncontent-length:3\n\n\x01\x00\x02\x00"
	// SEND /queue/b:1 [1 0 2]
}
