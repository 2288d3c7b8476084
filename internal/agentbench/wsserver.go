package agentbench

import (
	"context"
	"fmt"
	"time"

	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/mtp/ws"
)

// AgentDialWait is the least time the load client, as a WebSocket server,
// waits for an Agent to connect.
const AgentDialWait = 90 * time.Second

// webSocketTransport returns the load client's transport to tg's
// WebSocket MTP and the Agent's address on it.
//
// With WebSocketTarget.Listen the load client is the WebSocket server
// [R-WS.6] and the Agent dials it, as an Agent dials its Controller: the
// Agent's Controller entry points at ws://<Listen>/<any path>. The server
// offers only the v1.usp subprotocol [R-WS.12a], names the Agent by the
// Endpoint ID of its handshake (eid query parameter [R-WS.10b] or the
// bbf-usp-protocol extension [R-WS.10a]) and addresses it by that ID;
// onState hears only that Agent's connection. Otherwise the load client
// dials the Agent's server at WebSocketTarget.URL.
//
// wait is how long to wait for the connection: o.Timeout when dialling,
// at least AgentDialWait when the Agent dials, since an Agent started
// before the load client retries with its back-off (TR-369 [R-WS.19]:
// 5 s, then 10 s, ... by default).
func webSocketTransport(ctx context.Context, tg Target, o *Options, onState mtp.StateFunc) (t mtp.Transport, addr string, wait time.Duration, err error) {
	if tg.WebSocket.Listen == "" {
		return ws.NewClient(&ws.Options{URL: tg.WebSocket.URL, EndpointID: o.ControllerID, MinWait: 100 * time.Millisecond, OnState: onState,
			Logger: o.Logger}), "", o.Timeout, nil
	}
	agent := tg.EndpointID
	srv, err := ws.Listen(ctx, tg.WebSocket.Listen, &ws.Options{EndpointID: o.ControllerID, Logger: o.Logger,
		OnState: func(ctx context.Context, p mtp.Peer, s mtp.State, err error) {
			if p.EndpointID == agent {
				onState(ctx, p, s, err)
			}
		}})
	if err != nil {
		return nil, "", 0, fmt.Errorf("agentbench: %s: %w", tg.Name, err)
	}
	return srv, agent, max(o.Timeout, AgentDialWait), nil
}
