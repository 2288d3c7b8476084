// Package stomp is the STOMP Message Transfer Protocol of TR-369 (USP 1.3),
// client role: a USP Agent or Controller connects to a STOMP 1.2 server
// (a message broker such as RabbitMQ), subscribes to its own destination
// and exchanges USP Records with other endpoints through the broker.
//
// It owns three layers, each usable alone:
//
//   - the frame codec: Frame, Reader (a streaming reader with limits, for
//     input however it is split) and AppendFrame, with the header escapes
//     of STOMP 1.2; no third-party STOMP library is used;
//   - the session over one connection: the STOMP frame with
//     accept-version, host, login, passcode, heart-beat and endpoint-id
//     headers [R-STOMP.2]-[R-STOMP.5], the subscription to the
//     subscribe-dest the server names or else the configured destination
//     [R-STOMP.6], [R-STOMP.12]-[R-STOMP.17], SEND frames with
//     content-type application/vnd.bbf.usp.msg, content-length and
//     reply-to-dest [R-STOMP.18]-[R-STOMP.22], and heart-beats
//     [R-STOMP.8]-[R-STOMP.11];
//   - the Client, an mtp.Transport that reconnects with the retry
//     algorithm of TR-369 after failures and ERROR frames [R-STOMP.7],
//     [R-STOMP.25] and queues Records while disconnected.
//
// The Client never sends BEGIN, COMMIT, ABORT, ACK or NACK [R-STOMP.26],
// [R-STOMP.27]; it subscribes with ack "auto" and says DISCONNECT when
// closed [R-STOMP.28]. An inbound MESSAGE becomes an mtp.Inbound whose
// Peer.Address is the message's reply-to-dest [R-STOMP.23], the
// destination to answer to with Send. Options are fixed for a Client's
// life: to move to another destination [R-STOMP.29], close it and make a
// new one, which subscribes afresh.
//
//	c := stomp.NewClient(&stomp.Options{
//		Addr:        "broker.example:61614",
//		TLS:         &tls.Config{},
//		Username:    "agent", Password: "secret",
//		EndpointID:  "os::012345-0001",
//		Destination: "/queue/agent-0001",
//	})
//	go c.Serve(ctx, mtp.HandlerFunc(func(ctx context.Context, in mtp.Inbound) {
//		// decode in.Record; answer with c.Send(ctx, in.From.Address, reply)
//	}))
//	err := c.Send(ctx, "/queue/controller", record)
package stomp
