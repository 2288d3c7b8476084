package agent

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/record"
	"github.com/uspkit/uspkit/usperr"
	"github.com/uspkit/uspkit/wire"
)

// DefaultServiceTimeout is how long the Broker waits for a USP Service to
// answer a request it proxied, unless BrokerOptions.Timeout says
// otherwise.
const DefaultServiceTimeout = 30 * time.Second

// BrokerOptions make an Agent a USP Broker (TR-369 "Software
// Modularization and USP-Enabled Applications"): USP Services connect
// their Agents to the Broker's Controller socket, Register the parts of
// Device. they implement, and the Broker routes Controllers' requests on
// those paths to them.
type BrokerOptions struct {
	// Transport is the Broker's Controller side: the Unix domain socket
	// server the Agents of USP Services connect to
	// (/var/run/usp/broker_controller_path by the spec's recommendation).
	// The caller creates it with its OnState set to Agent.ServiceState.
	Transport mtp.Transport
	// Protocol is the transport's TR-181 protocol name; "" means "UDS".
	Protocol string
	// ControllerSocket and AgentSocket are the paths of the Broker's
	// Controller and Agent sockets, listed in
	// Device.UnixDomainSockets.UnixDomainSocket with Mode Listen; empty
	// ones are not listed.
	ControllerSocket, AgentSocket string
	// Timeout bounds each request proxied to a Service; 0 means
	// DefaultServiceTimeout.
	Timeout time.Duration
	// DeploymentUnit, when set, names the Software Module Deployment Unit
	// a USP Service is part of ("Device.SoftwareModules.DeploymentUnit.N",
	// "" for none), from its Endpoint ID; the Broker asks at each Register
	// and reports it as the Service's DeploymentUnitRef.
	DeploymentUnit func(ctx context.Context, endpointID string) string
}

// uspService is one connected USP Service
// (Device.USPServices.USPService.{i}).
type uspService struct {
	eid      string
	addr     string // its address on the transport
	protocol string
	inst     uint32
	paths    []string // registered, in the order registered
	du       string   // its DeploymentUnitRef
	gone     chan struct{}
}

// broker is the Agent's USP Broker role. Its zero-Service state costs a
// request one read lock (see route).
type broker struct {
	a *Agent

	mu       sync.RWMutex
	opt      BrokerOptions
	services map[string]*uspService // by Endpoint ID
	owner    map[string]*uspService // registered path → its Service
	nextInst uint32
	pending  map[string]chan *wire.Msg // proxied msg_id → its answer
	seq      atomic.Uint64
	ss       subState   // subscriptions on Services (broker_notify.go)
	async    asyncCache // which Service commands are asynchronous
}

func newBroker(a *Agent) *broker {
	b := &broker{a: a, services: map[string]*uspService{}, owner: map[string]*uspService{}, pending: map[string]chan *wire.Msg{}}
	b.async.m = map[string]bool{}
	b.initSubs()
	return b
}

// ServeServices runs the Agent's USP Broker role on opt.Transport until ctx
// is done: it answers Register and Deregister from USP Services, keeps
// Device.USPServices.USPService.{i}, and, while Services are registered,
// routes the requests of Controllers that touch their paths to them. A
// Service that disconnects loses its registrations; nothing a Service does
// stops the Broker.
func (a *Agent) ServeServices(ctx context.Context, opt BrokerOptions) error {
	if opt.Transport == nil {
		return errors.New("agent: ServeServices needs a transport")
	}
	if opt.Protocol == "" {
		opt.Protocol = "UDS"
	}
	if opt.Timeout <= 0 {
		opt.Timeout = DefaultServiceTimeout
	}
	b := a.brk
	b.mu.Lock()
	b.opt = opt
	b.mu.Unlock()
	sctx, stop := context.WithCancel(ctx)
	subsDone := make(chan struct{})
	go func() { defer close(subsDone); b.runSubs(sctx) }()
	err := opt.Transport.Serve(ctx, mtp.HandlerFunc(func(ctx context.Context, in mtp.Inbound) {
		b.handleRecord(ctx, in)
	}))
	stop()
	<-subsDone
	b.mu.Lock()
	for _, s := range b.services {
		b.dropLocked(s)
	}
	b.mu.Unlock()
	if err != nil {
		return fmt.Errorf("agent: broker: %w", err)
	}
	return nil
}

// ServiceState is the mtp.StateFunc of the Broker's Controller socket: a
// USP Service whose connection goes down loses its registrations and its
// Device.USPServices.USPService row ("When a USP Service disconnects then
// the associated USPService table instance is removed"), and the requests
// proxied to it fail at once.
func (a *Agent) ServiceState(ctx context.Context, peer mtp.Peer, s mtp.State, err error) {
	if s == mtp.StateUp || peer.EndpointID == "" {
		return
	}
	b := a.brk
	b.mu.Lock()
	svc := b.services[peer.EndpointID]
	if svc != nil && svc.addr == peer.Address {
		b.dropLocked(svc)
	} else {
		svc = nil
	}
	b.mu.Unlock()
	if svc != nil {
		a.log.InfoContext(ctx, "usp service disconnected", "endpoint", peer.EndpointID, "paths", strings.Join(svc.paths, ","), "err", err)
		b.serviceGone(ctx, svc)
		b.linkControllers(ctx)
	}
}

// dropLocked forgets s and its paths; b.mu is held.
func (b *broker) dropLocked(s *uspService) {
	if b.services[s.eid] != s {
		return
	}
	delete(b.services, s.eid)
	for _, p := range s.paths {
		delete(b.owner, p)
	}
	close(s.gone)
}

// handleRecord processes one Record from a USP Service's Agent.
func (b *broker) handleRecord(ctx context.Context, in mtp.Inbound) {
	a := b.a
	defer func() {
		if v := recover(); v != nil { // nothing a Service sends stops the Broker
			a.log.ErrorContext(ctx, "broker: record handling panicked", "from", in.From.EndpointID, "panic", fmt.Sprint(v))
		}
	}()
	var rec record.Record
	if err := record.Decode(in.Record, &rec, &record.DecodeOptions{MaxSize: a.opt.MaxRecordSize}); err != nil {
		a.log.WarnContext(ctx, "broker: record dropped", "from", in.From.Address, "err", err)
		if in.Reject != nil {
			in.Reject("USP Record cannot be extracted")
		}
		return
	}
	if err := rec.Validate(); err != nil || rec.ToID != a.opt.EndpointID {
		a.log.WarnContext(ctx, "broker: record rejected", "from", rec.FromID, "to", rec.ToID, "err", err)
		return
	}
	if in.From.EndpointID != "" && in.From.EndpointID != rec.FromID {
		a.log.WarnContext(ctx, "broker: record from_id does not match the connection's endpoint", "from", rec.FromID, "peer", in.From.EndpointID)
		return
	}
	switch rec.Type {
	case record.TypeNoSessionContext:
	case record.TypeDisconnect:
		a.ServiceState(ctx, mtp.Peer{Address: in.From.Address, EndpointID: rec.FromID}, mtp.StateDown, errors.New("disconnect record"))
		return
	default:
		return // connect records carry nothing here
	}
	var msg wire.Msg
	if err := wire.UnmarshalMsg(rec.Payload, &msg); err != nil {
		a.log.WarnContext(ctx, "broker: msg could not be parsed", "from", rec.FromID, "err", err)
		return
	}
	id := msg.GetHeader().GetMsgId()
	body := msg.GetBody()
	if body.GetResponse() != nil || body.GetError() != nil {
		b.mu.Lock()
		ch := b.pending[rec.FromID+"\x00"+id]
		delete(b.pending, rec.FromID+"\x00"+id)
		b.mu.Unlock()
		if ch == nil {
			a.log.WarnContext(ctx, "broker: answer to no request", "from", rec.FromID, "msg_id", id)
			return
		}
		ch <- &msg
		return
	}
	req := body.GetRequest()
	if req == nil || id == "" {
		a.log.WarnContext(ctx, "broker: msg without request or msg_id dropped", "from", rec.FromID)
		return
	}
	var reply *wire.Msg
	switch r := req.GetReqType().(type) {
	case *wire.Request_Register:
		reply = b.register(ctx, rec.FromID, in.From.Address, id, r.Register)
	case *wire.Request_Deregister:
		reply = b.deregister(ctx, rec.FromID, id, r.Deregister)
	case *wire.Request_Notify:
		reply = b.notify(ctx, rec.FromID, id, r.Notify)
	default:
		reply = errMsg(id, usperr.Errorf(usperr.CodeMessageNotSupported,
			"the Broker's Controller socket takes Register, Deregister and Notify; requests go to its Agent socket"))
	}
	if reply != nil {
		b.sendMsg(ctx, rec.FromID, in.From.Address, reply)
	}
}

// sendMsg sends m to the Service eid at addr.
func (b *broker) sendMsg(ctx context.Context, eid, addr string, m *wire.Msg) error {
	payload, err := wire.MarshalMsg(m)
	if err != nil {
		return fmt.Errorf("agent: broker: %w", err)
	}
	b.mu.RLock()
	t := b.opt.Transport
	b.mu.RUnlock()
	if err := b.a.send(ctx, t, addr, record.NewNoSession(eid, b.a.opt.EndpointID, payload)); err != nil {
		b.a.log.WarnContext(ctx, "broker: record not sent", "to", eid, "err", err)
		return err
	}
	return nil
}

// register answers a Register [R-REG.0]–[R-REG.2].
func (b *broker) register(ctx context.Context, from, addr, id string, r *wire.Register) *wire.Msg {
	b.mu.RLock()
	duOf := b.opt.DeploymentUnit
	b.mu.RUnlock()
	du := ""
	if duOf != nil {
		du = duOf(ctx, from)
	}
	b.mu.Lock()
	s := b.services[from]
	if s == nil {
		b.nextInst++
		s = &uspService{eid: from, addr: addr, protocol: b.opt.Protocol, inst: b.nextInst, gone: make(chan struct{})}
		b.services[from] = s
	}
	s.addr, s.du = addr, du
	out := &wire.RegisterResp{}
	var accepted []string
	var fail error
	for _, rp := range r.GetRegPaths() {
		p := rp.GetPath()
		err := b.checkRegisterLocked(s, p, accepted)
		res := &wire.RegisterResp_RegisteredPathResult{RequestedPath: p, OperStatus: &wire.RegisterResp_RegisteredPathResult_OperationStatus{}}
		if err != nil {
			if fail == nil {
				fail = err
			}
			res.OperStatus.OperStatus = &wire.RegisterResp_RegisteredPathResult_OperationStatus_OperFailure{
				OperFailure: &wire.RegisterResp_RegisteredPathResult_OperationStatus_OperationFailure{ErrCode: usperr.Code(err), ErrMsg: usperr.Message(err)}}
		} else {
			accepted = append(accepted, p)
			res.OperStatus.OperStatus = &wire.RegisterResp_RegisteredPathResult_OperationStatus_OperSuccess{
				OperSuccess: &wire.RegisterResp_RegisteredPathResult_OperationStatus_OperationSuccess{RegisteredPath: p}}
		}
		out.RegisteredPathResults = append(out.RegisteredPathResults, res)
	}
	if len(r.GetRegPaths()) == 0 {
		fail = usperr.Errorf(usperr.CodeRegisterFailure, "Register names no path")
	}
	if fail != nil && !r.GetAllowPartial() {
		// [R-REG.1]: nothing is registered and the answer is an Error.
		b.mu.Unlock()
		b.a.log.InfoContext(ctx, "usp service registration refused", "endpoint", from, "err", fail)
		m := errMsg(id, fail)
		for _, res := range out.RegisteredPathResults {
			if f := res.GetOperStatus().GetOperFailure(); f != nil {
				m.GetBody().GetError().ParamErrs = append(m.GetBody().GetError().ParamErrs, &wire.Error_ParamError{
					ParamPath: usperr.EchoPath(res.GetRequestedPath()), ErrCode: f.GetErrCode(), ErrMsg: f.GetErrMsg()})
			}
		}
		return m
	}
	for _, p := range accepted { // [R-REG.0]: each path on its own
		s.paths = append(s.paths, p)
		b.owner[p] = s
	}
	b.mu.Unlock()
	if len(accepted) > 0 {
		b.a.log.InfoContext(ctx, "usp service registered", "endpoint", from, "paths", strings.Join(accepted, ","))
		b.kick() // Controllers' subscriptions may reach the new paths
	}
	b.linkControllers(ctx)
	return respMsg(id, wire.Header_REGISTER_RESP, &wire.Response{RespType: &wire.Response_RegisterResp{RegisterResp: out}})
}

// checkRegisterLocked says why path p cannot be registered by s, or nil;
// accepted are the paths of the same Register accepted so far. b.mu is
// held.
func (b *broker) checkRegisterLocked(s *uspService, p string, accepted []string) error {
	if !validRegPath(p) {
		// [R-REG.2]: an Object Path without instance numbers or {i}.
		return usperr.Errorf(usperr.CodeRegisterFailure, "%q is not an object path below Device. without instance numbers", usperr.EchoPath(p))
	}
	overlaps := func(q string) bool { return strings.HasPrefix(p, q) || strings.HasPrefix(q, p) }
	for _, q := range accepted {
		if overlaps(q) {
			return usperr.Errorf(usperr.CodeRegisterFailure, "%s overlaps %s of the same Register", p, q)
		}
	}
	for q, o := range b.owner {
		if !overlaps(q) {
			continue
		}
		if o == s {
			return usperr.Errorf(usperr.CodeRegisterFailure, "%s overlaps %s, which this USP Service registered already", p, q)
		}
		return usperr.Errorf(usperr.CodeAlreadyInUse, "%s overlaps %s, registered by %s", p, q, o.eid)
	}
	// The Broker's own objects are not given away: the Broker owns p when
	// its supported data model has p or an object below it.
	for _, o := range b.a.opt.Mux.Model().Objects() {
		if strings.HasPrefix(o.Path, p) {
			return usperr.Errorf(usperr.CodeAlreadyInUse, "%s is implemented by the USP Broker (%s)", p, o.Path)
		}
	}
	return nil
}

// validRegPath reports whether p is a registrable path: Device. followed
// by at least one object name, each a TR-106 name, ending in "."
// [R-REG.2].
func validRegPath(p string) bool {
	if !strings.HasPrefix(p, "Device.") || !strings.HasSuffix(p, ".") || len(p) > 1024 {
		return false
	}
	segs := strings.Split(strings.TrimSuffix(p, "."), ".")
	if len(segs) < 2 {
		return false
	}
	for _, s := range segs {
		if s == "" || !(s[0] >= 'A' && s[0] <= 'Z' || s[0] >= 'a' && s[0] <= 'z' || s[0] == '_') {
			return false
		}
		for _, c := range s {
			if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
				return false
			}
		}
	}
	return true
}

// deregister answers a Deregister: always with a DeregisterResp
// [R-DEREG.4], each path on its own.
func (b *broker) deregister(ctx context.Context, from, id string, r *wire.Deregister) *wire.Msg {
	out := &wire.DeregisterResp{}
	b.mu.Lock()
	s := b.services[from]
	for _, p := range r.GetPaths() {
		res := &wire.DeregisterResp_DeregisteredPathResult{RequestedPath: p, OperStatus: &wire.DeregisterResp_DeregisteredPathResult_OperationStatus{}}
		var done []string
		var err error
		switch o := b.owner[p]; {
		case p == "" && s != nil: // [R-DEREG.2]: all of the Service's paths
			done = slices.Clone(s.paths)
		case p == "":
			err = usperr.Errorf(usperr.CodeDeregisterFailure, "%s has registered nothing", from)
		case o == nil:
			err = usperr.Errorf(usperr.CodeDeregisterFailure, "%s is not registered", usperr.EchoPath(p))
		case o != s: // [R-DEREG.1]
			err = usperr.Errorf(usperr.CodePathAlreadyRegistered, "%s is registered by another USP Service", p)
		default:
			done = []string{p}
		}
		for _, q := range done {
			delete(b.owner, q)
			s.paths = slices.DeleteFunc(s.paths, func(x string) bool { return x == q })
		}
		if err != nil {
			res.OperStatus.OperStatus = &wire.DeregisterResp_DeregisteredPathResult_OperationStatus_OperFailure{
				OperFailure: &wire.DeregisterResp_DeregisteredPathResult_OperationStatus_OperationFailure{ErrCode: usperr.Code(err), ErrMsg: usperr.Message(err)}}
		} else {
			res.OperStatus.OperStatus = &wire.DeregisterResp_DeregisteredPathResult_OperationStatus_OperSuccess{
				OperSuccess: &wire.DeregisterResp_DeregisteredPathResult_OperationStatus_OperationSuccess{DeregisteredPath: done}}
		}
		out.DeregisteredPathResults = append(out.DeregisteredPathResults, res)
	}
	b.mu.Unlock()
	b.kick()
	b.a.log.InfoContext(ctx, "usp service deregistered", "endpoint", from, "paths", strings.Join(r.GetPaths(), ","))
	return respMsg(id, wire.Header_DEREGISTER_RESP, &wire.Response{RespType: &wire.Response_DeregisterResp{DeregisterResp: out}})
}

// errServiceGone fails a request proxied to a Service that went away.
var errServiceGone = errors.New("USP Service disconnected")

// call sends req to the Service s and waits for its answer, at most the
// Broker's timeout. The Broker's msg_id is its own ("broker-N"); the
// caller maps the answer back to its Controller's request.
func (b *broker) call(ctx context.Context, s *uspService, mt wire.Header_MsgType, req *wire.Request) (*wire.Msg, error) {
	id := "broker-" + strconv.FormatUint(b.seq.Add(1), 10)
	key := s.eid + "\x00" + id
	ch := make(chan *wire.Msg, 1)
	b.mu.Lock()
	b.pending[key] = ch
	timeout := b.opt.Timeout
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		delete(b.pending, key)
		b.mu.Unlock()
	}()
	m := &wire.Msg{Header: &wire.Header{MsgId: id, MsgType: mt}, Body: &wire.Body{MsgBody: &wire.Body_Request{Request: req}}}
	if err := b.sendMsg(ctx, s.eid, s.addr, m); err != nil {
		return nil, usperr.Errorf(usperr.CodeInternal, "USP Service %s cannot be reached: %v", s.eid, err)
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case r := <-ch:
		return r, nil
	case <-s.gone:
		return nil, usperr.Errorf(usperr.CodeInternal, "USP Service %s: %v", s.eid, errServiceGone)
	case <-t.C:
		return nil, usperr.Errorf(usperr.CodeInternal, "USP Service %s did not answer within %v", s.eid, timeout)
	case <-ctx.Done():
		return nil, usperr.Errorf(usperr.CodeInternal, "USP Service %s: %v", s.eid, ctx.Err())
	}
}

// snapshot returns the connected Services in instance order.
func (b *broker) snapshot() []uspService {
	b.mu.RLock()
	defer b.mu.RUnlock()
	out := make([]uspService, 0, len(b.services))
	for _, s := range b.services {
		c := *s
		c.paths = slices.Clone(s.paths)
		out = append(out, c)
	}
	slices.SortFunc(out, func(x, y uspService) int { return int(x.inst) - int(y.inst) })
	return out
}
