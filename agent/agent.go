package agent

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/uspkit/uspkit/datamodel"
	"github.com/uspkit/uspkit/e2e"
	"github.com/uspkit/uspkit/endpoint"
	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/record"
	"github.com/uspkit/uspkit/store"
	"github.com/uspkit/uspkit/usperr"
	"github.com/uspkit/uspkit/wire"
)

// SupportedVersions are the USP versions the Agent speaks, as
// GetSupportedProtocol reports them.
const SupportedVersions = "1.0,1.1,1.2,1.3"

// DefaultMaxConcurrent is how many requests an Agent processes at the
// same time unless Options.MaxConcurrent says otherwise. Most of a small
// request's time is spent waiting for the transport (an MQTT PUBACK, a
// socket write), so it is more than the cores.
const DefaultMaxConcurrent = 32

// Store persists the Agent's stored objects and pending notifications;
// store.Memory and store/sqlite.DB are Stores.
type Store interface {
	Load(ctx context.Context) (*store.Snapshot, error)
	Apply(ctx context.Context, b *store.Batch) error
}

// MTP is one transport the Agent serves, with the TR-181 name of its
// protocol ("WebSocket", "MQTT", "STOMP" or "UDS").
type MTP struct {
	Protocol  string
	Transport mtp.Transport
	// Connect, if set, builds the connect Record for the Controller toID,
	// sent after the transport reports a connection up [R-MTP.6] (an
	// MQTTConnect with the Agent's topic, say): to the peer of the
	// connection when the MTP names it, else to every Controller
	// configured with this protocol. nil sends none.
	Connect func(toID string) *record.Record
}

// Options configure an Agent.
type Options struct {
	// EndpointID is the Agent's USP Endpoint ID.
	EndpointID string
	// Mux serves the vendor's objects. Its model must hold the Agent's own
	// objects (see Define); the Agent adds its handlers to it.
	Mux *datamodel.Mux
	// Store persists configuration and pending notifications; nil keeps
	// them in memory.
	Store Store
	// MTPs are transports to serve whatever the data model says: each
	// gets a Device.LocalAgent.MTP row at the first start, with the Alias
	// "cpe-fixed-N", that the Dialer is never asked to open.
	MTPs []MTP
	// Dialer opens the transports the data model configures
	// (Device.LocalAgent.MTP.{i} with Device.MQTT.Client.{i} and
	// Device.STOMP.Connection.{i}, and WebSocket connections to
	// Controllers), and again when they change; nil serves MTPs only.
	Dialer Dialer
	// Factory seeds a fresh Agent (an empty Store), and is what
	// FactoryReset() returns to.
	Factory *Config
	// Certificates are the trusted certificates listed in
	// Device.LocalAgent.Certificate.
	Certificates []*x509.Certificate
	// Trust receives the certificates Controllers add with
	// Device.LocalAgent.AddCertificate() (addcert.go), listed in
	// Device.LocalAgent.Certificate after Certificates and kept in the
	// Store; wrap the MTPs' TLS configurations with its ServerTLS or
	// ClientTLS for them to be trusted. E2E sessions with TLS12 payload
	// security trust them whatever the MTPs do. nil: the Agent keeps its
	// own, which only its E2E sessions use.
	Trust *TrustStore
	// E2ETLS holds this Agent's certificate (an ECDSA P-256 key naming
	// its Endpoint ID) and, in RootCAs, the trust anchors of Controllers'
	// certificates (Certificates are added to them), for E2E sessions
	// with TLS12 payload security (E2ESession.PayloadSecurity TLS); nil:
	// sessions are PLAINTEXT.
	E2ETLS *tls.Config
	// RequireIntegrity makes the Agent ignore a Record with a payload that
	// the MTP does not protect and that carries no mac_signature
	// (e2eintegrity.go) [R-E2E.29], [R-E2E.30]; false takes such Records.
	RequireIntegrity bool
	// SoftwareVersion is reported in Device.LocalAgent.SoftwareVersion.
	SoftwareVersion string
	// MaxRecordSize bounds inbound Records; 0 means record.DefaultMaxSize.
	MaxRecordSize int
	// MaxConcurrent bounds the requests processed at the same time, from
	// all Controllers together; a Record that arrives beyond it waits in
	// its transport. 0 means DefaultMaxConcurrent; 1 processes requests
	// one at a time, in the goroutine of the transport that delivered
	// them. See order.go for the order kept between requests.
	MaxConcurrent int
	// PollInterval is how often provided parameters under a ValueChange
	// subscription are read to detect changes; 0 means 5 seconds.
	PollInterval time.Duration
	// Logger receives the Agent's log lines; nil discards them.
	Logger *slog.Logger
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// OnReboot is called by Device.Reboot() and FactoryReset() after the
	// response is sent; it should restart the process. nil only logs.
	OnReboot func(cause string)
	// BootCause is the Boot! cause of this start ("LocalReboot",
	// "RemoteReboot", "RemoteFactoryReset", …); "" means LocalReboot.
	BootCause string
	// BootCommandKey is the command key of the Reboot() that caused this
	// start, if any.
	BootCommandKey string
	// BootFirmwareUpdated is Boot!'s FirmwareUpdated: set on the first
	// start of a newly activated firmware image; false by default.
	BootFirmwareUpdated bool
}

// Agent is a USP Agent. Create it with New and run it with Run.
type Agent struct {
	ident identityCache // identity.go
	opt   Options
	log   *slog.Logger
	eng   *datamodel.Engine
	start time.Time
	now   func() time.Time

	acl  *acl
	chal challenges // ControllerTrust challenges (challenge.go)
	subs *subscriptions
	onb  *onboarding // OnBoardRequest resends (onboarding.go)
	reqs *requests
	brk  *broker    // the USP Broker role (broker.go)
	e2e  *e2e.Table // E2E sessions with Controllers (e2e.go)
	// e2eRetry holds the session retry counts (e2eretry.go).
	e2eRetry *e2eRetries
	// periodic runs the Periodic! timers.
	periodic *periodicTimers

	reloadMu sync.Mutex // serialises reload

	mu       sync.Mutex
	inflight map[msgKey]bool        // requests being processed [R-MSG.4]
	routes   map[string]route       // controller endpoint ID → where it was last heard
	ctrls    map[string]*controller // enabled controllers by endpoint ID
	ctrlRefs map[string]*controller // every controller by instance path
	linkList []*link                // transports being served
	wg       sync.WaitGroup

	// retainAny is whether some enabled Controller's MQTT row has
	// PublishRetainResponse true, so that answers need not look (retain.go).
	retainAny atomic.Bool

	linkMu   sync.Mutex // serialises reconcile
	linkKick chan struct{}
	statusq  chan statusUpdate
	// netMu is held for reading while a request is processed and
	// answered, so that a transport is closed only after the response to
	// the request that reconfigured it went out.
	netMu sync.RWMutex

	order    *orderer        // per-Controller order of requests
	slots    chan struct{}   // one per request being processed concurrently
	jobs     chan *job       // requests for idle workers (worker.go)
	stopping <-chan struct{} // closed when Run ends; set by Run
}

// msgKey names a request: the Controller's Endpoint ID and its msg_id.
type msgKey struct{ from, id string }

// route is how to reach a controller: a transport and an address on it.
type route struct {
	protocol string
	t        mtp.Transport
	addr     string
}

// New builds an Agent: it registers Device.LocalAgent's handlers on
// opt.Mux, loads stored objects, and seeds a fresh store from
// opt.Factory.
func New(ctx context.Context, opt Options) (*Agent, error) {
	if err := endpoint.Validate(opt.EndpointID); err != nil {
		return nil, fmt.Errorf("agent: endpoint ID: %w", err)
	}
	if opt.Mux == nil || opt.Mux.Model().Object("Device.LocalAgent.") == nil {
		return nil, errors.New("agent: the Mux's model has no Device.LocalAgent (call agent.Define)")
	}
	if opt.Store == nil {
		opt.Store = store.NewMemory()
	}
	a := &Agent{opt: opt, log: opt.Logger, now: opt.Now, inflight: map[msgKey]bool{}, routes: map[string]route{},
		linkKick: make(chan struct{}, 1), statusq: make(chan statusUpdate, 1024)}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if a.now == nil {
		a.now = time.Now
	}
	a.start = a.now()
	if opt.MaxConcurrent <= 0 {
		a.opt.MaxConcurrent = DefaultMaxConcurrent
	}
	a.order, a.slots, a.jobs = newOrderer(), make(chan struct{}, a.opt.MaxConcurrent), make(chan *job)
	for _, m := range opt.MTPs {
		a.linkList = append(a.linkList, &link{MTP: m, peers: map[string]bool{}, done: make(chan struct{})})
	}
	a.acl = newACL()
	a.subs = newSubscriptions(a)
	a.onb = newOnboarding(a)
	a.e2e = e2e.NewTable(opt.EndpointID, a.e2ePolicy)
	a.e2eRetry = newE2ERetries()
	a.periodic = newPeriodicTimers(a)
	a.reqs = newRequests(a)
	a.brk = newBroker(a)
	a.register(opt.Mux)
	a.brk.registerBroker(opt.Mux)
	snap, err := opt.Store.Load(ctx)
	if err != nil {
		return nil, fmt.Errorf("agent: %w", err)
	}
	fresh := len(snap.Objects) == 0
	if err := a.loadAddedCerts(ctx, snap); err != nil {
		return nil, fmt.Errorf("agent: added certificates: %w", err)
	}
	a.eng, err = datamodel.New(ctx, opt.Mux, datamodel.Options{Store: opt.Store, Logger: a.log, OnChange: a.onChange})
	if err != nil {
		return nil, fmt.Errorf("agent: %w", err)
	}
	if fresh {
		if err := a.seed(ctx); err != nil {
			return nil, fmt.Errorf("agent: factory configuration: %w", err)
		}
	}
	if err := a.reload(ctx); err != nil {
		return nil, fmt.Errorf("agent: %w", err)
	}
	a.initE2EStatus(ctx)
	// No role is inherited before a Record is validated [R-SEC.21] (credential.go).
	a.syncInherited(ctx)
	a.subs.dropVolatile(ctx) // subscriptions without Persistent end with the process
	a.subs.reload(ctx)
	if err := a.subs.loadPending(ctx, snap); err != nil {
		return nil, fmt.Errorf("agent: %w", err)
	}
	return a, nil
}

// Engine returns the Agent's data-model engine, for local management
// (a web UI or CLI on the device) with a Caller of its choice.
func (a *Agent) Engine() *datamodel.Engine { return a.eng }

// EndpointID returns the Agent's Endpoint ID.
func (a *Agent) EndpointID() string { return a.opt.EndpointID }

// Run serves every MTP and runs the Agent's timers until ctx is done, then
// closes the transports. It sends Boot! to subscribed Controllers first.
func (a *Agent) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer a.e2e.Close() // the sessions' TLS layers
	a.stopping = ctx.Done()
	// Boot! first, before any request is served: notifications for
	// Controllers not yet connected wait for their connection.
	a.boot(ctx)
	errc := make(chan error, len(a.opt.MTPs))
	a.wg.Add(1)
	go func() { defer a.wg.Done(); a.runStatus(ctx) }()
	for _, l := range a.links() {
		a.wg.Add(1)
		go func() { defer a.wg.Done(); a.serveLink(ctx, l, errc) }()
	}
	if err := a.runLinks(ctx, errc); err != nil {
		cancel()
		for _, l := range a.links() {
			l.Transport.Close()
		}
		a.wg.Wait()
		return err
	}
	a.wg.Add(3)
	go func() { defer a.wg.Done(); a.subs.run(ctx) }()
	go func() { defer a.wg.Done(); a.onb.run(ctx) }()
	go func() { defer a.wg.Done(); a.periodic.run(ctx) }()
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	cancel()
	a.reqs.cancelAll()
	// A reconcile under way ends before the transports close; none starts
	// after (ctx is done).
	a.linkMu.Lock()
	links := a.links()
	a.linkMu.Unlock()
	for _, l := range links {
		l.Transport.Close()
	}
	a.wg.Wait()
	return err
}

// OnState is an mtp.StateFunc to hand to the transports of Options.MTPs:
// it sends the protocol's connect Record when a connection comes up
// [R-MTP.6] and notes which peers are reachable. Transports opened by the
// Dialer get theirs in Connection.OnState.
func (a *Agent) OnState(protocol string) mtp.StateFunc {
	return func(ctx context.Context, peer mtp.Peer, s mtp.State, err error) {
		for _, l := range a.links() {
			if l.path == "" && l.Protocol == protocol {
				l.mu.Lock()
				l.peers[peer.Address] = s == mtp.StateUp
				l.mu.Unlock()
				a.connectionState(ctx, l, peer, s, err)
				return
			}
		}
	}
}

// connectionState logs a connection going up or down and, when up, sends
// the connect Record: to the peer when the transport names it, else to
// every Controller reached over the protocol.
func (a *Agent) connectionState(ctx context.Context, l *link, peer mtp.Peer, s mtp.State, err error) {
	if s != mtp.StateUp {
		a.log.InfoContext(ctx, "connection down", "mtp", l.Protocol, "peer", peer.Address, "err", err)
		return
	}
	a.log.InfoContext(ctx, "connection up", "mtp", l.Protocol, "peer", peer.Address)
	if l.Connect != nil {
		if peer.EndpointID != "" {
			a.sendRecord(ctx, l.Transport, peer.Address, l.Connect(peer.EndpointID))
		} else {
			a.mu.Lock()
			var targets []controllerMTP
			var ids []string
			for _, c := range a.ctrls {
				for _, cm := range c.mtps {
					if cm.protocol == l.Protocol {
						targets, ids = append(targets, cm), append(ids, c.endpointID)
						break
					}
				}
			}
			a.mu.Unlock()
			for i, cm := range targets {
				a.sendRecord(ctx, l.Transport, cm.addr, l.Connect(ids[i]))
			}
		}
	}
	a.subs.kick()
}

// handleRecord processes one inbound Record.
func (a *Agent) handleRecord(ctx context.Context, protocol string, t mtp.Transport, in mtp.Inbound) {
	a.netMu.RLock()
	handedOff := false
	defer func() {
		if !handedOff {
			a.netMu.RUnlock()
		}
	}()
	var rec record.Record
	if err := record.Decode(in.Record, &rec, &record.DecodeOptions{MaxSize: a.opt.MaxRecordSize}); err != nil {
		a.log.WarnContext(ctx, "record dropped", "mtp", protocol, "from", in.From.Address, "err", err)
		if in.Reject != nil {
			in.Reject("USP Record cannot be extracted") // [R-WS.16]
		}
		return
	}
	if err := rec.Validate(); err != nil {
		a.replyError(ctx, t, in, &rec, err)
		return
	}
	if rec.ToID != a.opt.EndpointID {
		a.log.WarnContext(ctx, "record for another endpoint dropped", "to", rec.ToID, "from", rec.FromID)
		return
	}
	if rec.FromID == a.opt.EndpointID {
		a.log.WarnContext(ctx, "record from the agent's own endpoint ID dropped")
		return
	}
	if in.From.EndpointID != "" && in.From.EndpointID != rec.FromID {
		a.log.WarnContext(ctx, "record from_id does not match the connection's endpoint", "from", rec.FromID, "peer", in.From.EndpointID)
		return
	}
	if !a.admitCertificate(ctx, in, &rec) { // credential.go
		return
	}
	if !a.recordIntact(ctx, in, &rec) {
		return
	}
	switch rec.Type {
	case record.TypeNoSessionContext:
		if a.sessionRequired(ctx, protocol, t, in, &rec) {
			return
		}
	case record.TypeSessionContext:
		a.handleSession(ctx, protocol, t, in, &rec)
		return
	case record.TypeDisconnect:
		a.log.InfoContext(ctx, "disconnect record", "from", rec.FromID, "code", rec.Disconnect.Code, "reason", rec.Disconnect.Reason)
		return
	default:
		return // connect records carry nothing for the Agent
	}
	msg, ok := a.prepare(ctx, protocol, t, &in, &rec)
	if !ok {
		return
	}
	req := msg.GetBody().GetRequest()
	if rec.Version != "1.3" { // a context without it reads as 1.3 (atLeast): two allocations spared
		ctx = withVersion(ctx, rec.Version)
	}
	if req == nil || a.opt.MaxConcurrent == 1 {
		a.process(ctx, protocol, t, in.From.Address, rec.FromID, msg)
		return
	}
	if a.inline(ctx, protocol, t, in.From.Address, rec.FromID, msg, req) {
		return // a small read, answered here (inline.go)
	}
	// The request goes on in a goroutine of its own, which takes over
	// the read lock of netMu: the transport is not closed before it has
	// answered. The order lock is taken here, in arrival order.
	release := a.order.acquire(rec.FromID, isRead(req))
	a.slots <- struct{}{}
	handedOff = true
	a.start1(&job{ctx: ctx, protocol: protocol, t: t, addr: in.From.Address, from: rec.FromID, msg: msg, release: release})
}

// prepare decodes the Msg of a no_session_context Record (or one a session
// completed) and records where its sender was heard; false when there is
// nothing to process.
func (a *Agent) prepare(ctx context.Context, protocol string, t mtp.Transport, in *mtp.Inbound, rec *record.Record) (*wire.Msg, bool) {
	if rec.PayloadSecurity != record.PayloadSecurityPlaintext {
		a.replyError(ctx, t, *in, rec, usperr.Errorf(usperr.CodeSecureSessionNotSupported, "payload security needs an E2E session"))
		return nil, false
	}
	var msg wire.Msg
	if err := wire.UnmarshalMsg(rec.Payload, &msg); err != nil {
		a.log.WarnContext(ctx, "msg could not be parsed", "from", rec.FromID, "err", err)
		return nil, false
	}
	a.mu.Lock()
	c, known := a.ctrls[rec.FromID]
	if in.From.Address == "" && known {
		// A sender that gave no reply-to address is answered at the one
		// configured for it [R-MQTT.26].
		in.From.Address = c.addrFor(protocol)
	}
	a.routes[rec.FromID] = route{protocol: protocol, t: t, addr: in.From.Address}
	a.mu.Unlock()
	if !known && msg.GetBody().GetRequest() != nil {
		a.registerUnknown(ctx, rec.FromID, protocol)
	}
	return &msg, true
}

// process runs one Msg and sends its answer, if it has one.
func (a *Agent) process(ctx context.Context, protocol string, t mtp.Transport, addr, from string, msg *wire.Msg) {
	reply := a.dispatch(ctx, from, msg)
	if reply == nil {
		return
	}
	a.answer(ctx, protocol, t, addr, from, reply)
}

// replyError answers a Record that cannot be processed with an Error
// [R-MTP.5], when the Record can be answered at all.
func (a *Agent) replyError(ctx context.Context, t mtp.Transport, in mtp.Inbound, rec *record.Record, err error) {
	a.log.WarnContext(ctx, "record rejected", "from", rec.FromID, "err", err)
	if reply := record.ErrorReply(rec, a.opt.EndpointID, err); reply != nil {
		a.sendRecord(ctx, t, in.From.Address, reply)
	}
}

// sendRecord sends a Record the Agent starts: a connect Record [R-MTP.6],
// a Notify, or a Record-level Error. It reports whether the transport took
// it; when not, the error is logged and the caller decides (a Notify is
// kept and sent again, see subscriptions.notify; connect Records and
// Record Errors are a few hundred bytes, which every MTP carries).
func (a *Agent) sendRecord(ctx context.Context, t mtp.Transport, addr string, rec *record.Record) bool {
	if err := a.send(ctx, t, addr, rec); err != nil {
		a.log.WarnContext(ctx, "record not sent", "to", rec.ToID, "addr", addr, "err", err)
		return false
	}
	return true
}

// dispatch runs one Msg from a Controller and returns the reply, or nil.
func (a *Agent) dispatch(ctx context.Context, from string, msg *wire.Msg) *wire.Msg {
	id := msg.GetHeader().GetMsgId()
	body := msg.GetBody()
	switch {
	case body.GetResponse() != nil:
		if nr := body.GetResponse().GetNotifyResp(); nr != nil {
			a.subs.acked(ctx, from, id, nr.GetSubscriptionId())
		}
		return nil
	case body.GetError() != nil:
		a.log.WarnContext(ctx, "error from controller", "from", from, "msg_id", id, "code", body.GetError().GetErrCode(), "msg", body.GetError().GetErrMsg())
		a.subs.failed(ctx, from, id)
		return nil
	}
	req := body.GetRequest()
	if req == nil || id == "" {
		a.log.WarnContext(ctx, "msg without request or msg_id dropped", "from", from)
		return nil
	}
	key := msgKey{from, id}
	a.mu.Lock()
	dup := a.inflight[key]
	a.inflight[key] = true
	a.mu.Unlock()
	if dup {
		return nil // [R-MSG.4]
	}
	defer func() {
		a.mu.Lock()
		delete(a.inflight, key)
		a.mu.Unlock()
	}()
	c := a.caller(from)
	defer func() {
		if v := recover(); v != nil {
			a.log.ErrorContext(ctx, "request handling panicked", "from", from, "msg_id", id, "panic", fmt.Sprint(v))
		}
	}()
	if reply, ok := a.brk.route(ctx, c, id, req); ok {
		return reply // a USP Service's paths (broker_route.go)
	}
	switch r := req.GetReqType().(type) {
	case *wire.Request_Get:
		return a.get(ctx, c, id, r.Get)
	case *wire.Request_Set:
		return a.set(ctx, c, id, r.Set)
	case *wire.Request_Add:
		return a.add(ctx, c, id, r.Add)
	case *wire.Request_Delete:
		return a.delete(ctx, c, id, r.Delete)
	case *wire.Request_Operate:
		return a.operate(ctx, c, id, r.Operate)
	case *wire.Request_GetInstances:
		return a.instances(ctx, c, id, r.GetInstances)
	case *wire.Request_GetSupportedDm:
		return a.supported(ctx, c, id, r.GetSupportedDm)
	case *wire.Request_GetSupportedProtocol:
		return respMsg(id, wire.Header_GET_SUPPORTED_PROTO_RESP, &wire.Response{RespType: &wire.Response_GetSupportedProtocolResp{
			GetSupportedProtocolResp: &wire.GetSupportedProtocolResp{AgentSupportedProtocolVersions: SupportedVersions}}})
	case *wire.Request_Notify:
		return errMsg(id, usperr.Errorf(usperr.CodeMessageNotSupported, "an Agent does not accept Notify"))
	}
	return errMsg(id, usperr.Errorf(usperr.CodeMessageNotSupported, "message type not supported"))
}

// caller describes the Controller a message came from, with its
// permissions.
func (a *Agent) caller(from string) datamodel.Caller {
	// Secured values are read only by Controllers with a SecuredRoles
	// role (secured.go).
	return datamodel.Caller{EndpointID: from, Access: a.acl.forController(from), ReadSecured: a.acl.readsSecured(from)}
}
