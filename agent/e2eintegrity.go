package agent

import (
	"context"

	"github.com/uspkit/uspkit/e2e"
	"github.com/uspkit/uspkit/record"
)

// recordIntact checks the integrity of a Record outside a session that
// carries a mac_signature: the signature method, against its sender_cert
// [R-E2E.30], [R-E2E.31]. A Record that fails is ignored [R-E2E.23]
// (TP-469 2.7). Session Records are checked by their session.
func (a *Agent) recordIntact(ctx context.Context, rec *record.Record) bool {
	if rec.Type == record.TypeSessionContext || len(rec.MACSignature) == 0 {
		return true
	}
	if err := e2e.VerifySignature(rec); err != nil {
		a.log.WarnContext(ctx, "record with an invalid signature ignored", "from", rec.FromID, "err", err)
		return false
	}
	return true
}
