package service

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/mtp/uds"
	"github.com/uspkit/uspkit/record"
	"github.com/uspkit/uspkit/usperr"
	"github.com/uspkit/uspkit/wire"
)

// Controller is a Service's Controller of the Broker's Agent, with the
// Service's Endpoint ID: it reads and changes what other Services and the
// Broker implement.
type Controller struct {
	s      *Service
	cli    *uds.Client
	broker atomic.Pointer[string]
	up     chan struct{}
	once   sync.Once

	mu      sync.Mutex
	pending map[string]chan *wire.Msg
	seq     atomic.Uint64
}

func newController(s *Service, socket string) *Controller {
	c := &Controller{s: s, pending: map[string]chan *wire.Msg{}, up: make(chan struct{})}
	c.cli = uds.NewClient(&uds.Options{Path: socket, EndpointID: s.opt.EndpointID, OnState: c.onState, Logger: s.log, MinWait: s.opt.ReconnectWait})
	return c
}

func (c *Controller) onState(ctx context.Context, p mtp.Peer, st mtp.State, err error) {
	if st == mtp.StateUp && p.EndpointID != "" {
		eid := p.EndpointID
		c.broker.Store(&eid)
		c.once.Do(func() { close(c.up) })
	}
}

// Connected is closed once the Controller has reached the Broker's Agent.
func (c *Controller) Connected() <-chan struct{} { return c.up }

func (c *Controller) run(ctx context.Context) {
	err := c.cli.Serve(ctx, mtp.HandlerFunc(func(ctx context.Context, in mtp.Inbound) {
		var rec record.Record
		if record.Decode(in.Record, &rec, nil) != nil || rec.Type != record.TypeNoSessionContext {
			return
		}
		var m wire.Msg
		if wire.UnmarshalMsg(rec.Payload, &m) != nil {
			return
		}
		if n := m.GetBody().GetRequest().GetNotify(); n != nil {
			c.notified(ctx, rec.FromID, m.GetHeader().GetMsgId(), n)
			return
		}
		c.mu.Lock()
		ch := c.pending[m.GetHeader().GetMsgId()]
		delete(c.pending, m.GetHeader().GetMsgId())
		c.mu.Unlock()
		if ch != nil {
			ch <- &m
		}
	}))
	if err != nil {
		c.s.log.WarnContext(ctx, "service controller stopped", "err", err)
	}
	c.cli.Close()
}

// Do sends req to the Broker's Agent and returns its answer: a response
// or an Error Msg.
func (c *Controller) Do(ctx context.Context, req *wire.Request) (*wire.Msg, error) {
	b := c.broker.Load()
	if b == nil {
		return nil, errors.New("service: controller not connected to the Broker")
	}
	ctx, cancel := context.WithTimeout(ctx, c.s.opt.Timeout)
	defer cancel()
	id := "ctl-" + strconv.FormatUint(c.seq.Add(1), 10)
	ch := make(chan *wire.Msg, 1)
	c.mu.Lock()
	c.pending[id] = ch
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.pending, id)
		c.mu.Unlock()
	}()
	mt := wire.RequestMsgType(req)
	pb, err := wire.MarshalMsg(&wire.Msg{Header: &wire.Header{MsgId: id, MsgType: mt}, Body: &wire.Body{MsgBody: &wire.Body_Request{Request: req}}})
	if err != nil {
		return nil, fmt.Errorf("service: %w", err)
	}
	rec, err := record.NewNoSession(*b, c.s.opt.EndpointID, pb).MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("service: %w", err)
	}
	if err := c.cli.Send(ctx, *b, rec); err != nil {
		return nil, fmt.Errorf("service: %w", err)
	}
	select {
	case m := <-ch:
		return m, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("service: waiting for the Broker: %w", ctx.Err())
	}
}

// Get reads paths through the Broker and returns path = value for every
// parameter found; an Error or a failed path is returned as an error.
func (c *Controller) Get(ctx context.Context, paths ...string) (map[string]string, error) {
	m, err := c.Do(ctx, &wire.Request{ReqType: &wire.Request_Get{Get: &wire.Get{ParamPaths: paths}}})
	if err != nil {
		return nil, err
	}
	if e := m.GetBody().GetError(); e != nil {
		return nil, usperr.Errorf(e.GetErrCode(), "%s", e.GetErrMsg())
	}
	out := map[string]string{}
	for _, r := range m.GetBody().GetResponse().GetGetResp().GetReqPathResults() {
		if r.GetErrCode() != 0 {
			return nil, usperr.Errorf(r.GetErrCode(), "%s: %s", r.GetRequestedPath(), r.GetErrMsg())
		}
		for _, rp := range r.GetResolvedPathResults() {
			for n, v := range rp.GetResultParams() {
				out[rp.GetResolvedPath()+n] = v
			}
		}
	}
	return out, nil
}

// notified hands a Notify to Options.OnNotify and acknowledges it.
func (c *Controller) notified(ctx context.Context, from, id string, n *wire.Notify) {
	if f := c.s.opt.OnNotify; f != nil {
		f(ctx, n)
	}
	if !n.GetSendResp() {
		return
	}
	pb, err := wire.MarshalMsg(&wire.Msg{Header: &wire.Header{MsgId: id, MsgType: wire.Header_NOTIFY_RESP}, Body: &wire.Body{MsgBody: &wire.Body_Response{
		Response: &wire.Response{RespType: &wire.Response_NotifyResp{NotifyResp: &wire.NotifyResp{SubscriptionId: n.GetSubscriptionId()}}}}}})
	if err != nil {
		return
	}
	rec, err := record.NewNoSession(from, c.s.opt.EndpointID, pb).MarshalBinary()
	if err != nil {
		return
	}
	if err := c.cli.Send(ctx, from, rec); err != nil {
		c.s.log.WarnContext(ctx, "notify response not sent", "err", err)
	}
}
