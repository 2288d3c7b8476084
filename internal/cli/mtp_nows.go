//go:build usp_nows

package cli

import (
	"context"
	"errors"
	"log/slog"

	"github.com/uspkit/uspkit/agent"
	"github.com/uspkit/uspkit/mtp"
)

// An agent built with usp_nows has no WebSocket MTP, client or server: a
// WebSocket transport of its configuration file stops it at start, and a
// WebSocket connection of its data model fails to open, with errNoWS.
// MQTT over WebSocket (ws:// and wss:// broker URLs) is the MQTT MTP's
// and stays.
var errNoWS = errors.New("WebSocket: not in this build (usp_nows)")

func wsMTP(context.Context, string, mtpConfig, mtp.StateFunc, *agent.TrustStore, *slog.Logger) (agent.MTP, error) {
	return agent.MTP{}, errNoWS
}

func (*dialer) dialWSClient(*agent.Connection, mtpConfig) (agent.MTP, error) {
	return agent.MTP{}, errNoWS
}

func (*dialer) dialWSServer(context.Context, *agent.Connection, mtpConfig, bool) (agent.MTP, error) {
	return agent.MTP{}, errNoWS
}
