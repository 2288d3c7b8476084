// Package ws is the WebSocket MTP of TR-369 (USP 1.3, "WebSocket Binding"),
// both roles, over github.com/coder/websocket.
//
// A Client dials ws:// or wss:// with the v1.usp subprotocol [R-WS.10],
// its Endpoint ID in the eid query parameter [R-WS.10b] (and in the
// deprecated bbf-usp-protocol extension, for older servers), keeps the
// session alive with Pings [R-WS.17] and reconnects with the back-off of
// [R-WS.19], queueing Records while disconnected.
//
// A Server is an http.Handler (or, from Listen, its own listener, TLS and
// mutual TLS optional). It refuses handshakes that do not offer v1.usp
// [R-WS.12a], names each client by its Endpoint ID (query, else extension,
// else client certificate) and keeps one session per Endpoint ID, a new one
// replacing the old [R-WS.4]. Send addresses a peer by that Endpoint ID.
//
// Both roles carry each Record in one binary message [R-WS.14], close a
// connection that sends a text message with status 1003 [R-WS.16] and one
// that sends a message over Options.MaxRecord with status 1009, and report
// the peer's verified TLS chain in mtp.Peer.Certs.
//
// Identity: a Server refuses an Endpoint ID that is not valid [R-ARC.2a],
// and a client whose certificate names other USP Endpoints than the one it
// claims [R-SEC.12]; a Client with Options.PeerID drops a server whose
// certificate names other Endpoints [R-SEC.5]. mtp.Peer.Authenticated says
// a certificate or the Server's Authenticate hook (HTTP Basic credentials,
// say) proved the Endpoint ID, and an unproven client never replaces an
// authenticated session. A Server from Listen bounds the handshake
// (Options.HandshakeTimeout) and caps connections in all and per source
// address (Options.MaxConns, MaxConnsPerSource).
//
//	srv, err := ws.Listen(ctx, ":4443", &ws.Options{EndpointID: "doc::agent", TLS: cfg})
//	go srv.Serve(ctx, handler)
//	srv.Send(ctx, "doc::controller", rec)
//
//	cli := ws.NewClient(&ws.Options{URL: "wss://agent.example:4443/usp", EndpointID: "doc::controller"})
//	go cli.Serve(ctx, handler)
//	cli.Send(ctx, "", rec)
//
// The package moves Records as byte slices; it never decodes them.
package ws
