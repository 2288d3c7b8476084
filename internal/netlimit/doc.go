// Package netlimit bounds what a listener's peers can hold open: a
// net.Listener wrapper that caps the connections of the whole listener and
// of each source address, and that backs off when Accept fails (as
// net/http's Server does), so that a flood of idle sockets from one host
// neither exhausts the process's file descriptors nor locks other clients
// out.
//
//	ln, _ := net.Listen("tcp", ":8080")
//	ln = netlimit.Wrap(ln, &netlimit.Options{MaxConns: 512, MaxPerSource: 64})
//	http.Serve(ln, h)
//
// Connections over a limit are accepted and closed at once (the kernel's
// backlog would otherwise keep them waiting), with a log line. When the
// whole listener is full, a connection from a source holding fewer
// connections takes the place of the oldest connection of the busiest
// source that has not sent a byte yet, so that idle sockets from many
// addresses cannot lock out a client that talks. The limits count open
// connections; how long an idle one may stay is the server's business
// (http.Server's timeouts, WebSocket keep-alives).
package netlimit
