package cli

import (
	"context"
	"log/slog"
	"sync/atomic"

	"github.com/uspkit/uspkit/agent"
	"github.com/uspkit/uspkit/datamodel"
	"github.com/uspkit/uspkit/schema"
	"github.com/uspkit/uspkit/tr181/ipdiag"
)

// defineDiagnostics adds Device.IP.Diagnostics and
// Device.DNS.Diagnostics to usp agent's data model (docs/diagnostics.md).
func defineDiagnostics(m *schema.Model) { ipdiag.Define(m) }

// startDiagnostics serves the diagnostics commands and the UDP echo
// server on mux; an Interface argument is resolved through the agent's
// data model once it exists. The echo server stops when ctx ends.
func startDiagnostics(ctx context.Context, mux *datamodel.Mux, ag *atomic.Pointer[agent.Agent], log *slog.Logger) {
	d := ipdiag.New(&ipdiag.Options{Log: log, InterfaceName: ipdiag.EngineInterfaces(func() *datamodel.Engine {
		if a := ag.Load(); a != nil {
			return a.Engine()
		}
		return nil
	})})
	d.Register(mux)
	context.AfterFunc(ctx, func() { d.Close() })
}
