package controller

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/uspkit/uspkit/endpoint"
	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/record"
	"github.com/uspkit/uspkit/store"
	"github.com/uspkit/uspkit/wire"
)

// Store persists the registry, queued requests and events.
type Store interface {
	Load(ctx context.Context) (*store.Snapshot, error)
	Apply(ctx context.Context, b *store.Batch) error
}

// MTP is one transport the Controller serves.
type MTP struct {
	// Name names the MTP in the Agent registry (Agent.MTP, Route.MTP) and
	// the logs; empty means Protocol. Names are unique, so that a
	// Controller may have several MTPs of one protocol.
	Name      string
	Protocol  string // "WebSocket", "MQTT", "STOMP", "UDS"
	Transport mtp.Transport
	// Identity says how an Agent's from_id is bound to what this MTP
	// authenticated; the zero value, IdentityVerified, processes only
	// Records whose from_id the MTP or the topic policy vouches for.
	Identity Identity
	// AgentTopic, for MQTT and STOMP, is the pattern of an Agent's own
	// topic or destination with "{eid}" for its Endpoint ID, such as
	// "usp/agent/{eid}": the broker lets only that Agent's login read it.
	// An Agent's reply-to must be that topic or below it, which binds its
	// from_id to its login. Empty means the broker binds no topic to a
	// login; a Record is then only as trusted as the broker's login.
	AgentTopic string
}

// Options configure a Controller.
type Options struct {
	EndpointID string
	// Store persists state; nil keeps it in memory.
	Store Store
	MTPs  []MTP
	// RequestTimeout bounds a request without a deadline of its own; 0
	// means 30 seconds.
	RequestTimeout time.Duration
	// QueueTTL is how long a request for an offline Agent waits; 0 means
	// 24 hours.
	QueueTTL time.Duration
	// MaxEvents bounds the stored events; 0 means 10000.
	MaxEvents int
	// Admission decides what happens to an Agent heard from for the
	// first time; the zero value, AdmitVerified, registers those whose
	// identity is verified or vouched for by a broker login and holds the
	// others as pending.
	Admission Admission
	// MaxPending bounds the Agents waiting for approval; further unknown
	// Agents are refused until some are approved or rejected. 0 means
	// 1000.
	MaxPending int
	// NewAgentBurst and NewAgentInterval limit how fast one route (an MTP
	// connection or reply-to address) may introduce Agents never heard
	// from: NewAgentBurst at once, then one per NewAgentInterval. 0 means
	// 20 and one second.
	NewAgentBurst    int
	NewAgentInterval time.Duration
	// Profiles are provisioning profiles by ProvisioningCode: the one
	// whose code an Agent reports in Device.DeviceInfo.ProvisioningCode is
	// applied once, at its first contact. A profile under "" applies to
	// Agents without a code.
	Profiles map[string]Profile
	// Subscriptions are created on every Agent that lacks them, at first
	// contact and after each Boot!, so that the Controller hears of what
	// it needs without asking.
	Subscriptions []Subscription
	// Webhooks receive every event as a JSON POST.
	Webhooks []string
	// Sessions is how the Controller uses E2E Session Contexts with
	// Agents that have no settings of their own (SetSessions); the zero
	// value uses none.
	Sessions SessionSettings
	// E2ETLS holds the Controller's certificate (an ECDSA P-256 key naming
	// its Endpoint ID) and, in RootCAs, the trust anchors of Agents'
	// certificates, for E2E sessions with TLS12 payload security; nil
	// refuses TLS12.
	E2ETLS *tls.Config
	Logger *slog.Logger
}

// Subscription is a subscription the Controller wants on every Agent.
type Subscription struct {
	ID            string `yaml:"id"`
	NotifType     string `yaml:"notif_type"` // ValueChange, ObjectCreation, ObjectDeletion, OperationComplete, Event
	ReferenceList string `yaml:"reference_list"`
}

// Errors callers branch on.
var (
	// ErrUnknownAgent is returned for an Agent never heard from.
	ErrUnknownAgent = errors.New("controller: unknown agent")
	// ErrQueued is returned by Do when the Agent is offline and the
	// request was queued, to be sent when it connects; its response
	// arrives as an event.
	ErrQueued = errors.New("controller: agent offline, request queued")
	// ErrTimeout is returned when no response came in time.
	ErrTimeout = errors.New("controller: no response in time")
)

// Agent is what the Controller knows of one Agent.
type Agent struct {
	ID       string    `json:"id"`
	Online   bool      `json:"online"`
	LastSeen time.Time `json:"last_seen"`
	Protocol string    `json:"mtp"`
	Address  string    `json:"address"`
	// MTP is the name of the MTP the Agent was last heard on, or last
	// reached over: requests and replies go there first, at Address.
	MTP string `json:"mtp_name,omitempty"`
	// Routes are the MTPs the Agent was heard on, newest first, each
	// with the address it had there: where a Record goes when its
	// current route fails (see Controller.Do).
	Routes []Route           `json:"routes,omitempty"`
	Info   map[string]string `json:"device_info,omitempty"`
	// Supported lists the objects of the Agent's supported data model,
	// read with GetSupportedDM at first contact.
	Supported []string `json:"supported,omitempty"`
	// Trust says how the Agent's identity was last established:
	// "verified" (certificate, credential, own topic or local socket),
	// "broker login" or "claimed".
	Trust string `json:"trust,omitempty"`
	// Verified is set once the Agent's identity has been verified; from
	// then on a contact that is not verified is refused.
	Verified bool `json:"verified,omitempty"`
	// Pending marks an Agent that waits for an operator's approval
	// (Options.Admission); the Controller sends it nothing until then.
	Pending bool `json:"pending,omitempty"`
	// Provisioned is the result of the provisioning profile applied at
	// first contact, if any.
	Provisioned *Provisioning `json:"provisioned,omitempty"`
	// Tags are the operator's labels (SetTags), sorted.
	Tags []string `json:"tags"`
}

// Event is a Notify from an Agent, a late response, or an Agent coming
// and going.
type Event struct {
	Seq   uint64          `json:"seq"`
	Time  time.Time       `json:"time"`
	Agent string          `json:"agent"`
	Kind  string          `json:"kind"` // "notify", "response", "online", "offline"
	MsgID string          `json:"msg_id,omitempty"`
	Msg   json.RawMessage `json:"msg,omitempty"`
}

// Controller is a running USP Controller. Create it with New.
type Controller struct {
	opt Options
	log *slog.Logger

	mu       sync.Mutex
	agents   map[string]*Agent
	pending  map[string]chan *wire.Msg // msg_id → waiter
	queued   map[string][]queuedReq    // agent → requests in order
	seen     map[string]time.Time      // agent+msg_id of Notifies handled
	events   []Event
	seq      uint64
	subs     map[chan Event]chan struct{} // each subscriber's lag signal, or nil
	mtps     map[string]mtp.Transport
	inflight int
	notifies int
	ops      operations
	camps    campaigns
	fleet    fleet
	sess     sessions
	// newAgents limits how fast each route introduces unknown Agents.
	newAgents buckets
	// nPending counts the Agents waiting for approval (see pendingcount.go).
	nPending int
	// warns rate-limits the warnings bad input causes.
	warns warnings
	// xchg keeps the last Records exchanged with each Agent (Exchange).
	xchg exchanges
	// byRoute finds the Agents on a route when its connection ends.
	byRoute routeIndex

	// bg bounds the Controller's own goroutines (webhooks, first-contact
	// reads); Run cancels it and waits for them.
	bg     context.Context
	stopBG context.CancelFunc
	wg     sync.WaitGroup
}

type queuedReq struct {
	ID      string    `json:"id"`
	Agent   string    `json:"agent"`
	Payload []byte    `json:"payload"`
	Expires time.Time `json:"expires"`
}

// New builds a Controller and loads its state.
func New(ctx context.Context, o Options) (*Controller, error) {
	if err := endpoint.Validate(o.EndpointID); err != nil {
		return nil, fmt.Errorf("controller: endpoint ID: %w", err)
	}
	if o.Store == nil {
		o.Store = store.NewMemory()
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = 30 * time.Second
	}
	if o.QueueTTL <= 0 {
		o.QueueTTL = 24 * time.Hour
	}
	if o.MaxEvents <= 0 {
		o.MaxEvents = 10000
	}
	if o.MaxPending <= 0 {
		o.MaxPending = 1000
	}
	if o.NewAgentBurst <= 0 {
		o.NewAgentBurst = 20
	}
	if o.NewAgentInterval <= 0 {
		o.NewAgentInterval = time.Second
	}
	c := &Controller{opt: o, log: o.Logger, agents: map[string]*Agent{}, pending: map[string]chan *wire.Msg{},
		queued: map[string][]queuedReq{}, newAgents: buckets{}, byRoute: routeIndex{}, seen: map[string]time.Time{}, subs: map[chan Event]chan struct{}{}, mtps: map[string]mtp.Transport{}}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	c.bg, c.stopBG = context.WithCancel(context.Background())
	named, byName, err := nameMTPs(o.MTPs)
	if err != nil {
		return nil, err
	}
	c.opt.MTPs, c.mtps = named, byName
	snap, err := o.Store.Load(ctx)
	if err != nil {
		return nil, fmt.Errorf("controller: %w", err)
	}
	c.camps.init()
	c.initSessions()
	campaignTargets := map[string][]*Target{}
	jobTargets := map[string][]*JobResult{}
	for _, it := range snap.Items {
		switch it.Kind {
		case "campaign", "campaign-target":
			c.camps.load(it, campaignTargets)
		case "group", "job", "job-target":
			c.loadFleet(it, jobTargets)
		case "agent":
			var a Agent
			if json.Unmarshal(it.Data, &a) == nil {
				a.Online = false
				if old := c.agents[a.ID]; old != nil {
					c.byRoute.remove(old)
					c.countPendingLocked(old.Pending, false)
				}
				c.agents[a.ID] = &a
				c.countPendingLocked(false, a.Pending)
				c.byRoute.add(&a)
			}
		case "e2e":
			c.loadSessions(it)
		case "queue":
			var q queuedReq
			if json.Unmarshal(it.Data, &q) == nil {
				c.queued[q.Agent] = append(c.queued[q.Agent], q)
			}
		case "event":
			var e Event
			if json.Unmarshal(it.Data, &e) == nil {
				c.events = append(c.events, e)
				c.seq = max(c.seq, e.Seq)
			}
		}
	}
	slices.SortFunc(c.events, func(a, b Event) int { return int(a.Seq) - int(b.Seq) })
	c.camps.loaded(campaignTargets)
	c.loadedJobs(jobTargets)
	if err := c.syncIndex(ctx); err != nil {
		return nil, fmt.Errorf("controller: fleet index: %w", err)
	}
	return c, nil
}

// EndpointID returns the Controller's Endpoint ID.
func (c *Controller) EndpointID() string { return c.opt.EndpointID }

// Run serves the MTPs until ctx is done.
func (c *Controller) Run(ctx context.Context) error {
	defer c.sess.table.Close() // the sessions' TLS layers
	var wg sync.WaitGroup
	errc := make(chan error, len(c.opt.MTPs))
	for _, m := range c.opt.MTPs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := m.Transport.Serve(ctx, mtp.HandlerFunc(func(ctx context.Context, in mtp.Inbound) { c.handle(ctx, &m, in) }))
			if err != nil && ctx.Err() == nil {
				errc <- fmt.Errorf("controller: %s: %w", m.Name, err)
			}
		}()
	}
	wg.Add(1)
	go func() { defer wg.Done(); c.expire(ctx) }()
	wg.Add(1)
	go func() { defer wg.Done(); c.runCampaigns(ctx) }()
	wg.Add(1)
	go func() { defer wg.Done(); c.runJobs(ctx) }()
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	for _, m := range c.opt.MTPs {
		m.Transport.Close()
	}
	wg.Wait()
	c.stopBG()
	c.wg.Wait()
	return err
}

// goBG runs f in the background, bounded by the Controller's life.
func (c *Controller) goBG(f func(ctx context.Context)) {
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		f(c.bg)
	}()
}

// OnState is an mtp.StateFunc for the Controller's transports: an Agent
// whose connection goes down is offline; a connection up to a peer that
// names itself (the Controller as a WebSocket client of an Agent) makes
// that Agent known. protocol names the MTP: its Name, which is its
// Protocol when it has none.
func (c *Controller) OnState(protocol string) mtp.StateFunc {
	return func(ctx context.Context, p mtp.Peer, s mtp.State, err error) {
		if s == mtp.StateUp {
			if p.EndpointID != "" && endpoint.Validate(p.EndpointID) == nil {
				c.connected(ctx, c.mtpNamed(protocol), p)
			}
			return
		}
		c.mu.Lock()
		var gone []string
		var buf [4]*Agent
		for _, a := range c.byRoute.on(buf[:0], protocol, p.Address) {
			if a.Online && c.routeDownLocked(a, protocol, p.Address) {
				a.Online = false
				gone = append(gone, a.ID)
			}
		}
		c.mu.Unlock()
		for _, id := range gone {
			c.event(ctx, Event{Agent: id, Kind: "offline"})
		}
	}
}

func (c *Controller) persistAgent(ctx context.Context, a *Agent) {
	data, _ := json.Marshal(a)
	if err := c.opt.Store.Apply(ctx, &store.Batch{PutItems: []store.Item{{Kind: "agent", ID: a.ID, Data: data}}}); err != nil {
		c.log.WarnContext(ctx, "agent not persisted", "agent", a.ID, "err", err)
	}
	c.indexAgent(ctx, a)
}

// firstContact reads Device.DeviceInfo and the supported data model of a
// new Agent, creates the subscriptions the Controller keeps and applies its
// provisioning profile.
func (c *Controller) firstContact(ctx context.Context, id string) {
	ctx, cancel := context.WithTimeout(ctx, c.opt.RequestTimeout)
	defer cancel()
	m, err := c.Do(ctx, id, &wire.Request{ReqType: &wire.Request_Get{Get: &wire.Get{ParamPaths: []string{"Device.DeviceInfo."}, MaxDepth: 1}}})
	if err != nil {
		return
	}
	info := map[string]string{}
	for _, rp := range m.GetBody().GetResponse().GetGetResp().GetReqPathResults() {
		for _, r := range rp.GetResolvedPathResults() {
			for k, v := range r.GetResultParams() {
				info[k] = v
			}
		}
	}
	var supported []string
	if m, err := c.Do(ctx, id, &wire.Request{ReqType: &wire.Request_GetSupportedDm{GetSupportedDm: &wire.GetSupportedDM{ObjPaths: []string{"Device."}}}}); err == nil {
		for _, r := range m.GetBody().GetResponse().GetGetSupportedDmResp().GetReqObjResults() {
			for _, o := range r.GetSupportedObjs() {
				supported = append(supported, o.GetSupportedObjPath())
			}
		}
	}
	c.ensureSubscriptions(ctx, id)
	c.mu.Lock()
	a := c.agents[id]
	if a != nil {
		a.Info, a.Supported = info, supported
	}
	provisioned := a == nil || a.Provisioned != nil
	defer func() {
		if !provisioned {
			c.provision(ctx, id, c.provisioningCode(ctx, id, info))
		}
	}()
	var snapshot Agent
	if a != nil {
		snapshot = *a
	}
	c.mu.Unlock()
	if a != nil {
		c.persistAgent(ctx, &snapshot)
	}
}

// notify stores a Notify, then acknowledges it when asked to; a repeated
// msg_id is acknowledged again but stored once.
func (c *Controller) notify(ctx context.Context, from string, m *wire.Msg, n *wire.Notify) {
	key := from + "\x00" + m.GetHeader().GetMsgId()
	c.mu.Lock()
	c.notifies++
	_, dup := c.seen[key]
	c.seen[key] = time.Now()
	c.mu.Unlock()
	if !dup {
		raw, _ := record.MsgJSON(m)
		if err := c.event(ctx, Event{Agent: from, Kind: "notify", MsgID: m.GetHeader().GetMsgId(), Msg: raw}); err != nil {
			c.log.ErrorContext(ctx, "notify not stored, not acknowledged", "agent", from, "err", err)
			return
		}
		if oc := n.GetOperComplete(); oc != nil {
			c.ops.completed(from, oc)
		}
		if ev := n.GetEvent(); ev != nil && ev.GetObjPath() == "Device." && ev.GetEventName() == "Boot!" {
			c.ops.rebooted(from)
			c.goBG(func(ctx context.Context) { c.ensureSubscriptions(ctx, from) })
			c.goBG(func(ctx context.Context) { c.refreshInfo(ctx, from) })
		}
		c.campaignNotify(from, n)
	}
	if n.GetSendResp() {
		resp := &wire.Msg{Header: &wire.Header{MsgId: m.GetHeader().GetMsgId(), MsgType: wire.Header_NOTIFY_RESP},
			Body: &wire.Body{MsgBody: &wire.Body_Response{Response: &wire.Response{RespType: &wire.Response_NotifyResp{
				NotifyResp: &wire.NotifyResp{SubscriptionId: n.GetSubscriptionId()}}}}}}
		c.reply(ctx, from, resp)
	}
}

// event stores and publishes an event.
func (c *Controller) event(ctx context.Context, e Event) error {
	c.mu.Lock()
	c.seq++
	e.Seq, e.Time = c.seq, time.Now().UTC()
	var drop []store.Item
	c.events = append(c.events, e)
	// The oldest events go in batches of an eighth of MaxEvents, so that
	// a full list is not copied on every event; readers see the newest
	// MaxEvents.
	if over := len(c.events) - c.opt.MaxEvents; over > 0 && over >= max(1, c.opt.MaxEvents/8) {
		for _, old := range c.events[:over] {
			drop = append(drop, store.Item{Kind: "event", ID: fmt.Sprintf("%020d", old.Seq)})
		}
		c.events = slices.Clone(c.events[over:])
	}
	subs := make([]subscriber, 0, len(c.subs))
	for ch, lag := range c.subs {
		subs = append(subs, subscriber{ch, lag})
	}
	c.mu.Unlock()
	data, _ := json.Marshal(e)
	if err := c.opt.Store.Apply(ctx, &store.Batch{PutItems: []store.Item{{Kind: "event", ID: fmt.Sprintf("%020d", e.Seq), Data: data}}, DeleteItems: drop}); err != nil {
		return err
	}
	c.indexEvent(ctx, e)
	for _, s := range subs {
		s.send(e)
	}
	for _, url := range c.opt.Webhooks {
		c.goBG(func(ctx context.Context) { c.webhook(ctx, url, data) })
	}
	return nil
}

// webhook posts an event, retrying a few times on failure.
func (c *Controller) webhook(ctx context.Context, url string, data []byte) {
	for attempt := range 3 {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		req, err := http.NewRequestWithContext(ctx, "POST", url, bytes.NewReader(data))
		if err == nil {
			req.Header.Set("Content-Type", "application/json")
			var resp *http.Response
			if resp, err = http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
				if resp.StatusCode < 300 {
					cancel()
					return
				}
				err = fmt.Errorf("HTTP %d", resp.StatusCode)
			}
		}
		cancel()
		c.log.WarnContext(ctx, "webhook failed", "url", url, "attempt", attempt+1, "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Duration(attempt+1) * time.Second):
		}
	}
}

// ensureSubscriptions creates the configured subscriptions an Agent lacks
// (matched by ID).
func (c *Controller) ensureSubscriptions(ctx context.Context, id string) {
	if subs := c.DesiredSubscriptions(); len(subs) > 0 {
		if err := c.createSubscriptions(ctx, id, subs); err != nil {
			c.log.WarnContext(ctx, "subscriptions not created", "agent", id, "err", err)
		}
	}
}

// createSubscriptions creates those of subs that an Agent lacks, matched
// by ID.
func (c *Controller) createSubscriptions(ctx context.Context, id string, subs []Subscription) error {
	m, err := c.Do(ctx, id, &wire.Request{ReqType: &wire.Request_Get{Get: &wire.Get{ParamPaths: []string{"Device.LocalAgent.Subscription.*.ID"}}}})
	if err := respErr(m, err); err != nil {
		return err
	}
	have := map[string]bool{}
	for _, rp := range m.GetBody().GetResponse().GetGetResp().GetReqPathResults() {
		for _, r := range rp.GetResolvedPathResults() {
			have[r.GetResultParams()["ID"]] = true
		}
	}
	add := &wire.Add{AllowPartial: true}
	for _, s := range subs {
		if have[s.ID] {
			continue
		}
		add.CreateObjs = append(add.CreateObjs, &wire.Add_CreateObject{ObjPath: "Device.LocalAgent.Subscription.", ParamSettings: []*wire.Add_CreateParamSetting{
			{Param: "ID", Value: s.ID, Required: true}, {Param: "NotifType", Value: s.NotifType, Required: true},
			{Param: "ReferenceList", Value: s.ReferenceList, Required: true}, {Param: "Enable", Value: "true", Required: true},
			{Param: "Persistent", Value: "true"}, {Param: "NotifRetry", Value: "true"}}})
	}
	if len(add.CreateObjs) == 0 {
		return nil
	}
	m, err = c.Do(ctx, id, &wire.Request{ReqType: &wire.Request_Add{Add: add}})
	return respErr(m, err)
}

// Subscribe returns a channel of new events and a function to stop.
func (c *Controller) Subscribe() (<-chan Event, func()) {
	ch := make(chan Event, 256)
	c.mu.Lock()
	c.subs[ch] = nil
	c.mu.Unlock()
	return ch, func() {
		c.mu.Lock()
		delete(c.subs, ch)
		c.mu.Unlock()
	}
}

// retained returns the newest MaxEvents events; c.mu is held.
func (c *Controller) retained() []Event {
	return c.events[max(0, len(c.events)-c.opt.MaxEvents):]
}

// Events returns stored events after seq, of one Agent or all ("").
func (c *Controller) Events(agent string, after uint64) []Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []Event
	for _, e := range c.retained() {
		if e.Seq > after && (agent == "" || e.Agent == agent) {
			out = append(out, e)
		}
	}
	return out
}

// Agents returns every Agent, sorted by ID.
func (c *Controller) Agents() []Agent {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]Agent, 0, len(c.agents))
	for _, a := range c.agents {
		out = append(out, *a)
	}
	slices.SortFunc(out, func(a, b Agent) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// Agent returns one Agent.
func (c *Controller) Agent(id string) (Agent, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	a, ok := c.agents[id]
	if !ok {
		return Agent{}, false
	}
	return *a, true
}

// DeleteAgent forgets an Agent and everything the Controller keeps for it
// (see forgetLocked and dropFromGroups): its registry entry, tags and
// fleet index rows, queued requests, E2E session settings and session,
// exchange log and static group memberships. Job and campaign results,
// events and operations stay, as the record of what was done, until they
// are deleted or roll over. An Agent that is not registered but has E2E
// settings has them deleted; ErrUnknownAgent means nothing was kept.
func (c *Controller) DeleteAgent(ctx context.Context, id string) error {
	c.mu.Lock()
	b, ok := c.forgetLocked(id)
	c.mu.Unlock()
	if !ok {
		return ErrUnknownAgent
	}
	c.sess.table.End(id)
	c.ops.rebooted(id) // its subscriptions are no longer known
	c.xchg.forget(id)
	c.indexAgent(ctx, &Agent{ID: id})
	c.flushIndex(ctx) // the Agent is gone from the registry: its row goes
	if err := c.opt.Store.Apply(ctx, b); err != nil {
		return fmt.Errorf("controller: deleting agent: %w", err)
	}
	return c.dropFromGroups(ctx, id)
}

// Stats are figures for metrics.
type Stats struct {
	Agents, Online, InFlight, Queued, Events, Notifies int
}

// Stats returns current figures.
func (c *Controller) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := Stats{Agents: len(c.agents), InFlight: c.inflight, Events: len(c.retained()), Notifies: c.notifies}
	for _, a := range c.agents {
		if a.Online {
			s.Online++
		}
	}
	for _, q := range c.queued {
		s.Queued += len(q)
	}
	return s
}

func newMsgID() string {
	var b [12]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func errorMsg(id string, code uint32, msg string) *wire.Msg {
	return &wire.Msg{Header: &wire.Header{MsgId: id, MsgType: wire.Header_ERROR},
		Body: &wire.Body{MsgBody: &wire.Body_Error{Error: &wire.Error{ErrCode: code, ErrMsg: msg}}}}
}

// SupportedVersions are the USP versions the Controller speaks.
const SupportedVersions = record.SupportedVersions

// MsgJSON encodes a Msg as protobuf JSON, with its fields named as in
// the .proto files.
func MsgJSON(m *wire.Msg) ([]byte, error) { return record.MsgJSON(m) }

// ParseMsgJSON decodes a Msg from protobuf JSON.
func ParseMsgJSON(b []byte) (*wire.Msg, error) { return record.ParseMsgJSON(b) }
