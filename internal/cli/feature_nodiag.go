//go:build usp_nodiag

package cli

import (
	"context"
	"log/slog"
	"sync/atomic"

	"github.com/uspkit/uspkit/agent"
	"github.com/uspkit/uspkit/datamodel"
	"github.com/uspkit/uspkit/schema"
)

// An agent built with the usp_nodiag tag has no Device.IP.Diagnostics
// and Device.DNS.Diagnostics (tr181/ipdiag: ping, traceroute, download
// and upload tests, UDP echo, NSLookup); a USP Service may still
// register them with the Broker (usp_broker.leave_diagnostics).

// defineDiagnostics defines nothing: the diagnostics are not in this
// build, and startDiagnostics is never called for a model without them.
func defineDiagnostics(*schema.Model) {}

func startDiagnostics(context.Context, *datamodel.Mux, *atomic.Pointer[agent.Agent], string, *slog.Logger) {
}
