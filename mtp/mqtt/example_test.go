package mqtt_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"log"
	"time"

	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/mtp/mqtt"
)

// A USP Agent on an MQTT 5.0 server: it subscribes to its Topic, answers
// each Record at the sender's "reply to" Topic, sends its
// MQTTConnectRecord from the StateUp call (so that it goes before any
// queued Record) and a Notify to its Controller's Topic.
func ExampleNewClient() {
	var c *mqtt.Client
	c = mqtt.NewClient(&mqtt.Options{
		URL:              "ssl://broker.example:8883",
		TLS:              &tls.Config{ /* client certificate, roots */ },
		EndpointID:       "os::012345-0001",
		Topic:            "usp/agent/os::012345-0001",
		DefaultPeerTopic: "usp/controller", // for peers that name no reply-to topic
		KeepAlive:        30 * time.Second,
		OnState: func(ctx context.Context, _ mtp.Peer, s mtp.State, err error) {
			if s == mtp.StateUp {
				// Build the MQTTConnectRecord with c.Topic() as subscribed_topic.
				_ = c.Send(ctx, "usp/controller", []byte("connect record"))
			}
		},
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
	if err := c.Send(ctx, "usp/controller", []byte("notify record")); err != nil {
		log.Print(err)
	}
}

// The "reply to" convention of MQTT 3.1.1, where the Topic Name carries
// the sender's Topic.
func ExampleReplyTopic() {
	name := mqtt.ReplyTopic("usp/agents/cid:3AA3F8:my-unique-usp-id-42", "usp/controllers/oui:00256D:my-unique-bbf-id-42")
	fmt.Println(name)
	dest, replyTo, ok := mqtt.ParseReplyTopic(name)
	fmt.Println(dest, replyTo, ok)
	// Output:
	// usp/agents/cid:3AA3F8:my-unique-usp-id-42/reply-to=usp%2Fcontrollers%2Foui:00256D:my-unique-bbf-id-42
	// usp/agents/cid:3AA3F8:my-unique-usp-id-42 usp/controllers/oui:00256D:my-unique-bbf-id-42 true
}
