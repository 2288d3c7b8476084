package agent

import (
	"context"

	"github.com/uspkit/uspkit/e2e"
	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/record"
)

// recordIntact checks the integrity of a Record's non-payload fields
// [R-E2E.30]. A Record outside a session that carries a mac_signature is
// checked by the signature method against its sender_cert [R-E2E.31], and
// ignored when that fails [R-E2E.23] (TP-469 2.7); session Records are
// checked by their session. With Options.RequireIntegrity, a Record with
// a payload that carries no mac_signature is ignored unless the MTP
// protects it [R-E2E.28], [R-E2E.29] (TP-469 3.2).
func (a *Agent) recordIntact(ctx context.Context, in mtp.Inbound, rec *record.Record) bool {
	switch rec.Type {
	case record.TypeNoSessionContext, record.TypeSessionContext:
	default:
		return true // connect and Disconnect Records carry nothing to process
	}
	if len(rec.MACSignature) == 0 {
		if a.opt.RequireIntegrity && !mtpProtects(in, rec) {
			a.log.WarnContext(ctx, "record without integrity protection ignored", "from", rec.FromID, "type", rec.Type.String())
			return false
		}
		return true
	}
	if rec.Type == record.TypeSessionContext {
		return true
	}
	if err := e2e.VerifySignature(rec); err != nil {
		a.log.WarnContext(ctx, "record with an invalid signature ignored", "from", rec.FromID, "err", err)
		return false
	}
	return true
}

// mtpProtects reports whether the MTP protects the Record [R-E2E.28]: it
// came over TLS with a verified certificate, which is the sender's (it
// names the Record's from_id) or a broker's (the MTP names no sender).
func mtpProtects(in mtp.Inbound, rec *record.Record) bool {
	if len(in.From.Certs) == 0 {
		return false
	}
	return in.From.EndpointID == "" || in.From.Authenticated && in.From.EndpointID == rec.FromID
}
