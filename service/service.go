package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/uspkit/uspkit/agent"
	"github.com/uspkit/uspkit/datamodel"
	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/mtp/uds"
	"github.com/uspkit/uspkit/record"
	"github.com/uspkit/uspkit/schema"
	"github.com/uspkit/uspkit/usperr"
	"github.com/uspkit/uspkit/wire"
)

// The Broker's sockets at the paths TR-369 recommends.
const (
	DefaultControllerSocket = "/var/run/usp/broker_controller_path"
	DefaultAgentSocket      = "/var/run/usp/broker_agent_path"
)

// Options configure a Service.
type Options struct {
	// EndpointID is the Service's Endpoint ID, for its Agent and its
	// Controller alike. Required.
	EndpointID string
	// Mux serves the Service's objects; its model must have been given to
	// Define.
	Mux *datamodel.Mux
	// Paths are the object paths the Service Registers ("Device.X_Vendor_Thing."):
	// without instance numbers [R-REG.2].
	Paths []string
	// Socket is the Broker's Controller socket, where the Service's Agent
	// connects; "" means DefaultControllerSocket.
	Socket string
	// AgentSocket, when set, is the Broker's Agent socket, where the
	// Service's Controller connects (see Service.Broker).
	AgentSocket string
	// Timeout bounds a request the Service's Controller sends; 0 means 30
	// seconds.
	Timeout time.Duration
	// ReconnectWait is the least wait before reconnecting to the Broker; 0
	// means the UDS binding's default, a random 1 to 5 seconds [R-UDS.5].
	ReconnectWait time.Duration
	// OnNotify, when set, is called with each Notify the Broker sends the
	// Service's Controller (for the subscriptions it added on the Broker);
	// the NotifyResp is sent for it.
	OnNotify func(ctx context.Context, n *wire.Notify)
	// Logger receives the Service's log lines; nil discards them.
	Logger *slog.Logger
}

// Define adds to m the objects a Service's Agent implements itself
// (Device.LocalAgent, through which the Broker subscribes). Call it before
// defining the Service's own objects.
func Define(m *schema.Model) { agent.Define(m) }

// Service is a running USP Service. Create it with New, run it with Run.
type Service struct {
	opt   Options
	log   *slog.Logger
	agent *agent.Agent
	cli   *uds.Client
	ctl   *Controller

	broker     atomic.Pointer[string] // the Broker's Endpoint ID, once connected
	mu         sync.Mutex
	pending    map[string]chan *wire.Msg
	seq        atomic.Uint64
	registered chan struct{} // closed at the first successful Register
	regOnce    sync.Once
	regErr     atomic.Pointer[error]
}

// New builds a Service; nothing is connected before Run.
func New(ctx context.Context, opt Options) (*Service, error) {
	if opt.Mux == nil {
		return nil, errors.New("service: Options.Mux is required")
	}
	if len(opt.Paths) == 0 {
		return nil, errors.New("service: Options.Paths names nothing to register")
	}
	if opt.Socket == "" {
		opt.Socket = DefaultControllerSocket
	}
	if opt.Timeout <= 0 {
		opt.Timeout = 30 * time.Second
	}
	s := &Service{opt: opt, log: opt.Logger, pending: map[string]chan *wire.Msg{}, registered: make(chan struct{})}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.cli = uds.NewClient(&uds.Options{Path: opt.Socket, EndpointID: opt.EndpointID, OnState: s.onState, Logger: s.log, MinWait: opt.ReconnectWait})
	self := opt.EndpointID
	a, err := agent.New(ctx, agent.Options{
		EndpointID: opt.EndpointID, Mux: opt.Mux, Logger: s.log,
		MTPs:    []agent.MTP{{Protocol: "UDS", Transport: &intercept{Transport: s.cli, s: s}, Connect: func(to string) *record.Record { return record.NewUDSConnect(to, self) }}},
		Factory: &agent.Config{UntrustedRole: "Full Access"},
	})
	if err != nil {
		s.cli.Close()
		return nil, fmt.Errorf("service: %w", err)
	}
	s.agent = a
	if opt.AgentSocket != "" {
		s.ctl = newController(s, opt.AgentSocket)
	}
	return s, nil
}

// Agent returns the Service's Agent.
func (s *Service) Agent() *agent.Agent { return s.agent }

// Broker returns the Service's Controller of the Broker, or nil when
// Options.AgentSocket is not set.
func (s *Service) Broker() *Controller { return s.ctl }

// Registered is closed once the Broker has accepted the Service's paths.
func (s *Service) Registered() <-chan struct{} { return s.registered }

// Run connects to the Broker and serves it until ctx is done.
func (s *Service) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	if s.ctl != nil {
		wg.Go(func() { s.ctl.run(ctx) })
	}
	err := s.agent.Run(ctx)
	cancel()
	wg.Wait()
	if err != nil {
		return fmt.Errorf("service: %w", err)
	}
	return nil
}

// onState follows the Agent's connection to the Broker: once up, the
// Agent sends its UDS connect Record, then the Service Registers.
func (s *Service) onState(ctx context.Context, p mtp.Peer, st mtp.State, err error) {
	s.agent.OnState("UDS")(ctx, p, st, err)
	if st != mtp.StateUp {
		s.log.InfoContext(ctx, "broker connection down", "err", err)
		return
	}
	eid := p.EndpointID
	s.broker.Store(&eid)
	go func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.opt.Timeout)
		defer cancel()
		if err := s.register(rctx, eid); err != nil {
			s.regErr.Store(&err)
			s.log.WarnContext(ctx, "registration failed", "broker", eid, "err", err)
			return
		}
		s.log.InfoContext(ctx, "registered", "broker", eid)
		s.regOnce.Do(func() { close(s.registered) })
	}()
}

// RegisterError is the error of the last failed Register, or nil.
func (s *Service) RegisterError() error {
	if e := s.regErr.Load(); e != nil {
		return *e
	}
	return nil
}

// register sends the Service's Register (allow_partial false: all its
// paths or none [R-REG.1]).
func (s *Service) register(ctx context.Context, broker string) error {
	var rps []*wire.Register_RegistrationPath
	for _, p := range s.opt.Paths {
		rps = append(rps, &wire.Register_RegistrationPath{Path: p})
	}
	m, err := s.call(ctx, broker, wire.Header_REGISTER, &wire.Request{ReqType: &wire.Request_Register{Register: &wire.Register{RegPaths: rps}}})
	if err != nil {
		return err
	}
	if e := m.GetBody().GetError(); e != nil {
		return usperr.Errorf(e.GetErrCode(), "%s", e.GetErrMsg())
	}
	for _, r := range m.GetBody().GetResponse().GetRegisterResp().GetRegisteredPathResults() {
		if f := r.GetOperStatus().GetOperFailure(); f != nil {
			return usperr.Errorf(f.GetErrCode(), "%s: %s", r.GetRequestedPath(), f.GetErrMsg())
		}
	}
	s.regErr.Store(nil)
	return nil
}

// Deregister withdraws paths ("" for all of them, [R-DEREG.2]) and
// returns the Broker's answer, which is always a DeregisterResp
// [R-DEREG.4].
func (s *Service) Deregister(ctx context.Context, paths ...string) (*wire.DeregisterResp, error) {
	b := s.broker.Load()
	if b == nil {
		return nil, errors.New("service: not connected to the Broker")
	}
	m, err := s.call(ctx, *b, wire.Header_DEREGISTER, &wire.Request{ReqType: &wire.Request_Deregister{Deregister: &wire.Deregister{Paths: paths}}})
	if err != nil {
		return nil, err
	}
	if e := m.GetBody().GetError(); e != nil {
		return nil, usperr.Errorf(e.GetErrCode(), "%s", e.GetErrMsg())
	}
	return m.GetBody().GetResponse().GetDeregisterResp(), nil
}

// SendRegister sends a Register of its own and returns the Broker's
// answer, an Error or a RegisterResp; for tests and tools.
func (s *Service) SendRegister(ctx context.Context, r *wire.Register) (*wire.Msg, error) {
	b := s.broker.Load()
	if b == nil {
		return nil, errors.New("service: not connected to the Broker")
	}
	return s.call(ctx, *b, wire.Header_REGISTER, &wire.Request{ReqType: &wire.Request_Register{Register: r}})
}

// call sends a request from the Service's Agent side to the Broker's
// Controller and waits for the answer.
func (s *Service) call(ctx context.Context, broker string, mt wire.Header_MsgType, req *wire.Request) (*wire.Msg, error) {
	id := "svc-" + strconv.FormatUint(s.seq.Add(1), 10)
	ch := make(chan *wire.Msg, 1)
	s.mu.Lock()
	s.pending[id] = ch
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.pending, id)
		s.mu.Unlock()
	}()
	b, err := wire.MarshalMsg(&wire.Msg{Header: &wire.Header{MsgId: id, MsgType: mt}, Body: &wire.Body{MsgBody: &wire.Body_Request{Request: req}}})
	if err != nil {
		return nil, fmt.Errorf("service: %w", err)
	}
	rec, err := record.NewNoSession(broker, s.opt.EndpointID, b).MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("service: %w", err)
	}
	if err := s.cli.Send(ctx, broker, rec); err != nil {
		return nil, fmt.Errorf("service: %w", err)
	}
	select {
	case m := <-ch:
		return m, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("service: waiting for the Broker: %w", ctx.Err())
	}
}

// intercept passes the Broker's Records to the Service's Agent, except the
// answers to the Service's own Register and Deregister.
type intercept struct {
	mtp.Transport
	s *Service
}

func (t *intercept) Serve(ctx context.Context, h mtp.Handler) error {
	return t.Transport.Serve(ctx, mtp.HandlerFunc(func(ctx context.Context, in mtp.Inbound) {
		if t.s.answer(in.Record) {
			return
		}
		h.HandleRecord(ctx, in)
	}))
}

// MaxRecord is the transport's limit.
func (t *intercept) MaxRecord() int { return t.s.cli.MaxRecord() }

// answer delivers b when it answers a pending call and reports whether it
// did.
func (s *Service) answer(b []byte) bool {
	s.mu.Lock()
	n := len(s.pending)
	s.mu.Unlock()
	if n == 0 {
		return false
	}
	var rec record.Record
	if record.Decode(b, &rec, nil) != nil || rec.Type != record.TypeNoSessionContext {
		return false
	}
	var m wire.Msg
	if wire.UnmarshalMsg(rec.Payload, &m) != nil {
		return false
	}
	if m.GetBody().GetResponse() == nil && m.GetBody().GetError() == nil {
		return false
	}
	s.mu.Lock()
	ch := s.pending[m.GetHeader().GetMsgId()]
	delete(s.pending, m.GetHeader().GetMsgId())
	s.mu.Unlock()
	if ch == nil {
		return false
	}
	ch <- &m
	return true
}
