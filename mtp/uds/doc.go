// Package uds is the Unix Domain Socket MTP of TR-369 1.3 (section "UNIX
// Domain Socket Binding"): USP Records between processes of one device,
// for instance a USP Service and the USP Broker's Agent or Controller
// socket.
//
// It owns three layers:
//
//   - the frame codec: a Header of "_USP" and a 4-byte length, then one or
//     more Type-Length-Value fields [R-UDS.6]–[R-UDS.14] (AppendFrame,
//     ParseFrame, and Reader for a stream however it is split);
//   - the Handshake: each side sends its Endpoint ID in a Type 1 field, the
//     client first [R-UDS.16], the server in answer [R-UDS.17], and no
//     Record counts before it [R-UDS.20]; the other side's Endpoint ID
//     becomes Peer.EndpointID and the address to Send to;
//   - the transports: Server listens on a socket path [R-UDS.2], Client
//     connects to one [R-UDS.4] and reconnects after a random wait
//     [R-UDS.5], queueing Records meanwhile. Both are mtp.Transports.
//
// A frame that cannot be parsed, a Handshake that cannot be processed, or a
// Record over Options.MaxRecord, is answered with a Type 2 Error frame and
// the connection is closed [R-UDS.21], [R-UDS.23], [R-UDS.24]; an Error
// frame from the peer closes it too [R-UDS.25]. Fields of unknown Types are
// ignored [R-UDS.15]. The MTP carries no encryption: the socket never
// leaves the device.
//
//	srv := uds.NewServer(&uds.Options{Path: "/var/run/usp/broker_controller_path", EndpointID: "os::012345-broker"})
//	go srv.Serve(ctx, handler)
//	cli := uds.NewClient(&uds.Options{Path: "/var/run/usp/broker_controller_path", EndpointID: "os::012345-service"})
//	go cli.Serve(ctx, handler)
//	err := cli.Send(ctx, "os::012345-broker", rec) // or "" for whichever server answers
//
// The Handshake carries only the Endpoint ID: the UDS binding has no
// version negotiation of its own (USP versions are agreed with
// GetSupportedProtocol above the MTP).
package uds
