package agentbench

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"

	"google.golang.org/protobuf/proto"

	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/record"
	"github.com/uspkit/uspkit/wire"
)

// client is a lean USP Controller: it sends requests over one transport
// and matches responses by msg_id. It answers a Notify that asks for a
// response with a NotifyResp, and ignores what matches no request.
type client struct {
	t        mtp.Transport
	addr     string // the Agent's address on t
	id, peer string // own and the Agent's Endpoint IDs
	seq      atomic.Uint64

	mu      sync.Mutex
	waiting map[string]chan *wire.Msg
}

func newClient(t mtp.Transport, addr, id, peer string) *client {
	return &client{t: t, addr: addr, id: id, peer: peer, waiting: map[string]chan *wire.Msg{}}
}

// HandleRecord is the transport's mtp.Handler.
func (c *client) HandleRecord(ctx context.Context, in mtp.Inbound) {
	var rec record.Record
	if record.Decode(in.Record, &rec, nil) != nil || rec.Type != record.TypeNoSessionContext {
		return
	}
	var m wire.Msg
	if proto.Unmarshal(rec.Payload, &m) != nil {
		return
	}
	if n := m.GetBody().GetRequest().GetNotify(); n != nil {
		if n.GetSendResp() {
			resp := &wire.Msg{Header: &wire.Header{MsgId: m.GetHeader().GetMsgId(), MsgType: wire.Header_NOTIFY_RESP},
				Body: &wire.Body{MsgBody: &wire.Body_Response{Response: &wire.Response{RespType: &wire.Response_NotifyResp{
					NotifyResp: &wire.NotifyResp{SubscriptionId: n.GetSubscriptionId()}}}}}}
			_ = c.send(ctx, resp)
		}
		return
	}
	c.mu.Lock()
	ch := c.waiting[m.GetHeader().GetMsgId()]
	delete(c.waiting, m.GetHeader().GetMsgId())
	c.mu.Unlock()
	if ch != nil {
		ch <- &m
	}
}

func (c *client) send(ctx context.Context, m *wire.Msg) error {
	payload, err := proto.Marshal(m)
	if err != nil {
		return fmt.Errorf("agentbench: marshal: %w", err)
	}
	b, err := record.NewNoSession(c.peer, c.id, payload).MarshalBinary()
	if err != nil {
		return fmt.Errorf("agentbench: record: %w", err)
	}
	return c.t.Send(ctx, c.addr, b)
}

// do sends a request and waits for its response or Error, or ctx.
func (c *client) do(ctx context.Context, typ wire.Header_MsgType, req *wire.Request) (*wire.Msg, error) {
	id := "b" + strconv.FormatUint(c.seq.Add(1), 36)
	ch := make(chan *wire.Msg, 1)
	c.mu.Lock()
	c.waiting[id] = ch
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.waiting, id)
		c.mu.Unlock()
	}()
	m := &wire.Msg{Header: &wire.Header{MsgId: id, MsgType: typ}, Body: &wire.Body{MsgBody: &wire.Body_Request{Request: req}}}
	if err := c.send(ctx, m); err != nil {
		return nil, err
	}
	select {
	case r := <-ch:
		if e := r.GetBody().GetError(); e != nil {
			return r, fmt.Errorf("agentbench: error %d: %s", e.GetErrCode(), e.GetErrMsg())
		}
		return r, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("agentbench: no response to %s: %w", id, ctx.Err())
	}
}
