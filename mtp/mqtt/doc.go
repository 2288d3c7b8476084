// Package mqtt is the MQTT Message Transfer Protocol of TR-369 (USP 1.3),
// for the Agent and the Controller alike: an endpoint connects to an MQTT
// server (a broker such as mosquitto), subscribes to its own Topic and
// exchanges USP Records with other endpoints through the server.
//
// The package speaks MQTT 5.0 [R-MQTT.1] and MQTT 3.1.1 [R-MQTT.2] with a
// packet codec of its own (packet.go): one goroutine per connection reads
// packets through a buffer and answers acknowledgements; each packet is
// written in one write, together with the packets other goroutines
// queued meanwhile; QoS 0, 1 and 2 both ways. (The WebSocket dialer is
// Eclipse paho.mqtt.golang's, which offers the "mqtt" subprotocol.) The
// Client, an mtp.Transport:
//
//   - dials tcp://, ssl:// (TLS 1.2 or later [R-MQTT.48]) or ws:// URLs
//     [R-MQTT.3] and sends CONNECT [R-MQTT.6] with the configured
//     credentials [R-MQTT.7] and Keep Alive [R-MQTT.14]; its ClientId is
//     the configured one, else empty on 5.0 (the server assigns one, kept
//     for later connections [R-MQTT.9], [R-MQTT.11]) and the Endpoint ID
//     on 3.1.1 [R-MQTT.8]; on 5.0 it asks for Response Information and
//     names its Endpoint ID in the "usp-endpoint-id" User Property
//     [R-MQTT.12], [R-MQTT.13];
//   - subscribes after every CONNACK to the configured filters, the
//     CONNACK's "subscribe-topic" User Properties and its own "reply to"
//     Topic [R-MQTT.15], and disconnects when nothing is granted
//     [R-MQTT.17] or there is no "reply to" Topic [R-MQTT.16];
//   - publishes each Record [R-MQTT.18] with its "reply to" Topic
//     [R-MQTT.22]: on 5.0 in the Response Topic property, with Content
//     Type "usp.msg" [R-MQTT.23], [R-MQTT.27]; on 3.1.1
//     after "/reply-to=" in the Topic Name [R-MQTT.24] (see ReplyTopic);
//     at QoS 1 and 2 Send does not wait for the acknowledgement: the
//     Client keeps the publication in flight (no more than the server's
//     Receive Maximum, the rest waiting in order), ends a connection whose
//     acknowledgement does not come within Options.WriteTimeout, and sends
//     what is unacknowledged again on the next connection, with DUP and
//     the same Packet Identifiers when the server kept the session
//     [MQTT-4.4.0-1];
//   - hands each received Record to the Handler, from the connection's
//     reader, one at a time and in order, with the sender's "reply to"
//     Topic as Peer.Address [R-MQTT.25], [R-MQTT.26], or
//     Options.DefaultPeerTopic when the sender gave none; a Handler that
//     answers where it gets its Record may call Client.HandOff so that, if
//     it runs long, another goroutine goes on reading; what Handlers send
//     while the reader handles packets that arrived together leaves in
//     one write once it has handled the last of them (or after a
//     millisecond);
//   - reconnects with the retry algorithm of TR-369 [R-MQTT.10],
//     [R-MQTT.33], queues Records while disconnected, and says DISCONNECT
//     when closed [R-MQTT.35].
//
// Records are carried whole: the Client never looks inside them. The
// MQTTConnectRecord that TR-369 asks for after a connection comes up is
// the business of the layer above, which learns of the connection through
// Options.OnState and of the Topic to put in it through Client.Topic.
//
//	c := mqtt.NewClient(&mqtt.Options{
//		URL:        "ssl://broker.example:8883",
//		TLS:        &tls.Config{Certificates: []tls.Certificate{cert}},
//		EndpointID: "os::012345-0001",
//		Topic:      "usp/agent/os::012345-0001",
//	})
//	go c.Serve(ctx, mtp.HandlerFunc(func(ctx context.Context, in mtp.Inbound) {
//		// decode in.Record; answer with c.Send(ctx, in.From.Address, reply)
//	}))
//	err := c.Send(ctx, "usp/controller", record)
package mqtt
