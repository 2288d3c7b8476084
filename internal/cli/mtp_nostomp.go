//go:build usp_nostomp

package cli

import (
	"errors"
	"log/slog"

	"github.com/uspkit/uspkit/agent"
	"github.com/uspkit/uspkit/mtp"
)

// An agent built with usp_nostomp has no STOMP MTP: a STOMP transport of
// its configuration file stops it at start, and a STOMP connection of its
// data model fails to open, with errNoSTOMP. The data model's STOMP
// objects stay (they are Device.LocalAgent's).
var errNoSTOMP = errors.New("STOMP: not in this build (usp_nostomp)")

func stompMTP(string, mtpConfig, mtp.StateFunc, *agent.TrustStore, *slog.Logger) (agent.MTP, error) {
	return agent.MTP{}, errNoSTOMP
}

func (*dialer) dialSTOMP(*agent.Connection, mtpConfig) (agent.MTP, error) {
	return agent.MTP{}, errNoSTOMP
}
