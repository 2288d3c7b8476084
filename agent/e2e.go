package agent

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/uspkit/uspkit/datamodel"
	"github.com/uspkit/uspkit/e2e"
	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/record"
	"github.com/uspkit/uspkit/schema"
	"github.com/uspkit/uspkit/usperr"
)

// defineE2E adds Device.LocalAgent.Controller.{i}.E2ESession. to m, as
// TR-181 2.16 defines it. PayloadSecurity TLS (the default) makes the
// Controller's sessions TLS12 when the Agent has E2E certificates
// (Options.E2ETLS), else they are PLAINTEXT; a session the Controller
// starts with the other payload security is restarted with this one
// [R-E2E.19], [R-E2E.21].
func defineE2E(m *schema.Model) {
	m.Define("Device.LocalAgent.Controller.{i}.E2ESession.").
		Param("Enable", schema.Boolean(), schema.ReadWrite, schema.Default("false")).
		Param("SessionMode", schema.String(schema.Enum("Require", "Allow", "Forbid")), schema.ReadWrite).
		Param("Status", schema.String(schema.Enum("Up", "Negotiating", "Down"))).
		Param("SessionExpiration", schema.UnsignedInt(schema.Bounds("0", "")), schema.ReadWrite, schema.Default("0")).
		Param("SessionRetryMinimumWaitInterval", schema.UnsignedInt(schema.Bounds("1", "65535")), schema.ReadWrite, schema.Default("5")).
		Param("SessionRetryIntervalMultiplier", schema.UnsignedInt(schema.Bounds("1000", "65535")), schema.ReadWrite, schema.Default("2000")).
		Param("CurrentRetryCount", schema.UnsignedInt()).
		Param("SegmentedPayloadChunkSize", schema.UnsignedInt(), schema.ReadWrite, schema.Default("0")).
		Param("MaxUSPRecordSize", schema.UnsignedInt(), schema.ReadWrite, schema.Default("0")).
		Param("MaxRetransmitTries", schema.Int(schema.Bounds("-1", "10")), schema.ReadWrite, schema.Default("0")).
		Param("PayloadSecurity", schema.String(schema.Enum("Plaintext", "TLS")), schema.ReadWrite, schema.Default("TLS")).
		Command("Reset()", false, nil, nil)
}

// e2eSettings are a Controller's E2ESession parameters, as reload reads
// them.
type e2eSettings struct {
	mode e2e.Mode
	cfg  e2e.Config
	// tls: PayloadSecurity is TLS.
	tls bool
	// retryMin and retryMult are SessionRetryMinimumWaitInterval and
	// SessionRetryIntervalMultiplier [R-E2E.10].
	retryMin, retryMult uint64
}

// parseE2E reads the E2ESession row of a Controller. SessionMode decides;
// the deprecated Enable, when true, asks for Allow at least.
func parseE2E(p map[string]string) e2eSettings {
	var s e2eSettings
	switch p["SessionMode"] {
	case "Require":
		s.mode = e2e.Require
	case "Forbid":
		s.mode = e2e.Forbid
	default:
		s.mode = e2e.Allow
	}
	s.cfg.Expiration = time.Duration(atou(p["SessionExpiration"])) * time.Second
	s.tls = p["PayloadSecurity"] != "Plaintext"
	s.retryMin, s.retryMult = uint64(atou(p["SessionRetryMinimumWaitInterval"])), uint64(atou(p["SessionRetryIntervalMultiplier"]))
	if s.retryMin == 0 {
		s.retryMin = 5
	}
	if s.retryMult < 1000 {
		s.retryMult = 2000
	}
	// MaxUSPRecordSize, or the older SegmentedPayloadChunkSize, bound the
	// Records of a session; 0 is no limit.
	s.cfg.MaxRecordSize = int(atou(p["MaxUSPRecordSize"]))
	if s.cfg.MaxRecordSize == 0 {
		s.cfg.MaxRecordSize = int(atou(p["SegmentedPayloadChunkSize"]))
	}
	// TR-181: -1 always retransmits, 0 never does.
	switch n, _ := strconv.Atoi(p["MaxRetransmitTries"]); {
	case n < 0:
		s.cfg.MaxRetransmit = 1 << 30
	case n == 0:
		s.cfg.MaxRetransmit = -1
	default:
		s.cfg.MaxRetransmit = n
	}
	return s
}

// e2ePolicy tells the session table how to treat a remote Endpoint: per
// its Controller row; Endpoints that are not Controllers get no session.
func (a *Agent) e2ePolicy(remote string) (e2e.Mode, e2e.Config) {
	c := a.controllerByEndpoint(remote)
	if c == nil {
		return e2e.Forbid, e2e.Config{}
	}
	cfg := c.e2e.cfg
	if tc := a.e2eTLS(); c.e2e.tls && tc != nil {
		cfg.Security, cfg.TLS, cfg.Now = record.PayloadSecurityTLS12, tc, a.now
	}
	return c.e2e.mode, cfg
}

// checkE2E refuses record sizes TR-181 does not allow (0, or at least
// 512).
func checkE2E(ctx context.Context, r *datamodel.Request) error {
	if r.Op != datamodel.OpSet {
		return nil
	}
	for _, n := range []string{"MaxUSPRecordSize", "SegmentedPayloadChunkSize"} {
		if v, ok := r.Values[n]; ok {
			if size := atou(v); size != 0 && size < 512 {
				return usperr.Errorf(usperr.CodeInvalidValue, "%s %s: 0 or at least 512", n, v)
			}
		}
	}
	return nil
}

// sessionRequired handles a no_session_context Record from a Controller
// whose SessionMode is Require: no Msg is exchanged before a session is
// established, so the Record is dropped and a session started. It reports
// whether it did so.
func (a *Agent) sessionRequired(ctx context.Context, protocol string, t mtp.Transport, in mtp.Inbound, rec *record.Record) bool {
	c := a.controllerByEndpoint(rec.FromID)
	if c == nil || c.e2e.mode != e2e.Require || a.e2e.Session(rec.FromID) != nil {
		return false
	}
	a.log.WarnContext(ctx, "record outside the required E2E session dropped; starting one", "from", rec.FromID)
	addr := in.From.Address
	if addr == "" {
		addr = c.addrFor(protocol)
	}
	if recs, err := a.e2e.Send(rec.FromID, nil, a.now()); err == nil {
		a.send(ctx, t, addr, recs[0])
		a.setE2EStatus(ctx, rec.FromID, "Negotiating")
	}
	return true
}

// handleSession processes a session_context Record: the Msgs it completes
// go on like the payload of a no_session_context Record, Records asked
// for again are resent, and a failed session is restarted [R-E2E.21].
func (a *Agent) handleSession(ctx context.Context, protocol string, t mtp.Transport, in mtp.Inbound, rec *record.Record) {
	got, restart, err := a.e2e.Receive(rec, a.now())
	addr := in.From.Address
	if addr == "" {
		if c := a.controllerByEndpoint(rec.FromID); c != nil {
			addr = c.addrFor(protocol)
		}
	}
	if errors.Is(err, e2e.ErrNotAllowed) {
		// [R-E2E.6a]
		a.log.WarnContext(ctx, "E2E session refused", "from", rec.FromID)
		a.send(ctx, t, addr, record.NewDisconnect(rec.FromID, a.opt.EndpointID, uint32(usperr.CodeSessionContextNotAllowed),
			"E2E Session Context is not allowed with this Endpoint"))
		return
	}
	for _, r := range got.Resend {
		if err := a.send(ctx, t, addr, r); err != nil {
			a.log.WarnContext(ctx, "E2E record not sent again", "to", rec.FromID, "seq", r.Session.SequenceID, "err", err)
		}
	}
	// TLS handshake flights and alerts, and Msgs that waited for the
	// handshake.
	for _, r := range got.Send {
		if err := a.send(ctx, t, addr, r); err != nil {
			a.log.WarnContext(ctx, "E2E record not sent", "to", rec.FromID, "seq", r.Session.SequenceID, "err", err)
		}
	}
	switch {
	case err != nil && restart != nil && establishFailure(err):
		// [R-E2E.10]: the new session waits for the retry interval.
		a.log.WarnContext(ctx, "E2E session failed", "with", rec.FromID, "err", err)
		a.retryE2E(ctx, rec.FromID, t, addr, restart)
		a.setE2EStatus(ctx, rec.FromID, "Negotiating")
	case err != nil:
		a.log.WarnContext(ctx, "E2E session restarted", "with", rec.FromID, "err", err)
		if restart != nil {
			a.send(ctx, t, addr, restart)
		}
		a.setE2EStatus(ctx, rec.FromID, "Negotiating")
	case a.e2eUp(rec.FromID):
		a.e2eSucceeded(ctx, rec.FromID)
		a.setE2EStatus(ctx, rec.FromID, "Up")
	default:
		a.setE2EStatus(ctx, rec.FromID, "Negotiating")
	}
	// The Msgs of a session are processed in sequence order, here, one
	// after the other.
	for _, payload := range got.Msgs {
		plain := *rec
		plain.Type, plain.Payload = record.TypeNoSessionContext, payload
		plain.PayloadSecurity = record.PayloadSecurityPlaintext // decrypted
		msg, ok := a.prepare(ctx, protocol, t, &in, &plain)
		if ok {
			a.process(inSession(withVersion(ctx, rec.Version)), protocol, t, in.From.Address, rec.FromID, msg)
		}
	}
}

// sessionRecords returns the Records that carry payload to a Controller:
// within its E2E session when one is in use, else one no_session_context
// Record.
// Within a session, the Records are segmented to fit limit (the MTP's
// largest Record; 0: unknown) when MaxUSPRecordSize does not ask for less.
func (a *Agent) sessionRecords(to string, payload []byte, limit int) ([]*record.Record, error) {
	if a.e2e == nil || !a.e2e.Uses(to) {
		return []*record.Record{record.NewNoSession(to, a.opt.EndpointID, payload)}, nil
	}
	return a.e2e.SendWithin(to, payload, a.now(), limit)
}

// sessionKey marks the context of a request that came in an E2E session.
type sessionKey struct{}

func inSession(ctx context.Context) context.Context {
	return context.WithValue(ctx, sessionKey{}, true)
}

// sendPayload sends the answer to a request to a Controller at addr over
// t: in the session when the request came in one, else in a
// no_session_context Record, as the request came (TR-369: the response to a request
// received within a session is sent within it).
func (a *Agent) sendPayload(ctx context.Context, t mtp.Transport, addr, to string, payload []byte) error {
	if ctx.Value(sessionKey{}) == nil {
		return a.send(ctx, t, addr, record.NewNoSession(to, a.opt.EndpointID, payload))
	}
	limit := 0
	if l, ok := t.(mtp.Limited); ok {
		limit = l.MaxRecord()
	}
	recs, err := a.sessionRecords(to, payload, limit)
	if err != nil {
		return err
	}
	for _, r := range recs {
		if err := a.send(ctx, t, addr, r); err != nil {
			return err
		}
	}
	return nil
}

// resetE2E is Device.LocalAgent.Controller.{i}.E2ESession.Reset(): the
// session with that Controller ends and the next Record starts a new one.
func (a *Agent) resetE2E(ctx context.Context, w datamodel.ResponseWriter, r *datamodel.Request) error {
	ref := r.Path[:len(r.Path)-len("E2ESession.")]
	c := a.controllerByRef(ref)
	if c == nil {
		return usperr.Errorf(usperr.CodeObjectNotFound, "%s is not an enabled Controller", ref)
	}
	a.e2e.End(c.endpointID)
	a.setE2EStatus(ctx, c.endpointID, "Down")
	return nil
}

// setE2EStatus records a session's state in its Controller's
// E2ESession.Status, when it changed.
func (a *Agent) setE2EStatus(ctx context.Context, endpointID, status string) {
	c := a.controllerByEndpoint(endpointID)
	if c == nil {
		return
	}
	a.mu.Lock()
	same := c.e2eStatus == status
	c.e2eStatus = status
	a.mu.Unlock()
	if same {
		return
	}
	if err := a.eng.Update(ctx, c.ref+".E2ESession.", map[string]string{"Status": status}); err != nil {
		a.log.WarnContext(ctx, "E2ESession.Status not updated", "controller", c.ref, "err", err)
	}
}

// initE2EStatus gives Controllers without an E2ESession.Status (new rows)
// Status Down and CurrentRetryCount 0: no session has started yet.
func (a *Agent) initE2EStatus(ctx context.Context) {
	a.mu.Lock()
	var fresh []*controller
	for _, c := range a.ctrlRefs {
		if c.e2eStatus == "" {
			c.e2eStatus = "Down"
			fresh = append(fresh, c)
		}
	}
	a.mu.Unlock()
	for _, c := range fresh {
		if err := a.eng.Update(ctx, c.ref+".E2ESession.", map[string]string{"Status": "Down", "CurrentRetryCount": "0"}); err != nil {
			a.log.WarnContext(ctx, "E2ESession.Status not set", "controller", c.ref, "err", err)
		}
	}
}

// e2eUp reports whether the session with a Controller carries Msgs: with
// TLS12, once the handshake completed.
func (a *Agent) e2eUp(endpointID string) bool {
	s := a.e2e.Session(endpointID)
	return s != nil && s.Established()
}
