//go:build !usp_device

package cli

import (
	"context"
	"log/slog"

	"github.com/uspkit/uspkit/datamodel"
	"github.com/uspkit/uspkit/schema"
	"github.com/uspkit/uspkit/tr181/ipdiag"
)

// serviceDiagnostics adds Device.IP.Diagnostics and Device.DNS.Diagnostics
// (tr181/ipdiag: IPPing(), TraceRoute(), NSLookupDiagnostics() and the
// rest) to a `usp service`'s model, serves them on mux until ctx ends, and
// returns the paths the Service registers for them. An Interface argument
// is ignored (the Service has no Device.IP.Interface): routing decides.
func serviceDiagnostics(ctx context.Context, m *schema.Model, mux *datamodel.Mux, log *slog.Logger) []string {
	ipdiag.Define(m)
	d := ipdiag.New(&ipdiag.Options{Log: log})
	d.Register(mux)
	context.AfterFunc(ctx, func() { d.Close() })
	return []string{"Device.IP.Diagnostics.", "Device.DNS.Diagnostics."}
}
