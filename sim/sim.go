package sim

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/record"
	"github.com/uspkit/uspkit/wire"
)

// Options configure a fleet.
type Options struct {
	// N is the number of Agents.
	N int
	// Prefix makes the Endpoint IDs: Prefix + decimal index (default
	// "os::012345-SIM").
	Prefix string
	// Controller is the Controller's Endpoint ID.
	Controller string
	// Dial returns the transport of Agent id, already configured to reach
	// the Controller; onState must be handed to it. ControllerAddr is the
	// Controller's address on it (for the connect record and replies
	// without a reply address).
	Dial           func(id string, onState mtp.StateFunc) mtp.Transport
	ControllerAddr string
	// Connect builds the connect Record an Agent sends when its connection
	// comes up; nil sends a WebSocketConnect.
	Connect func(to, from string) *record.Record
	// Pace is a pause between starting one Agent and the next, to spare
	// the server a storm of connections; 0 starts them all at once.
	Pace time.Duration
	// Firmware, if not nil, makes the Agents answer firmware upgrades
	// and software installs (see Firmware).
	Firmware *Firmware
}

// Fleet is a running set of light Agents.
type Fleet struct {
	o      Options
	agents []*light
	up     atomic.Int64
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

type light struct {
	id    string
	index int
	t     mtp.Transport
	dev   *device // with Options.Firmware
}

// Start connects the Agents; Up reports how many are connected.
func Start(ctx context.Context, o Options) (*Fleet, error) {
	if o.Prefix == "" {
		o.Prefix = "os::012345-SIM"
	}
	if o.Connect == nil {
		o.Connect = func(to, from string) *record.Record { return record.NewWebSocketConnect(to, from) }
	}
	ctx, cancel := context.WithCancel(ctx)
	f := &Fleet{o: o, cancel: cancel}
	for i := range o.N {
		l := &light{id: o.Prefix + strconv.Itoa(i), index: i}
		if o.Firmware != nil {
			l.dev = o.Firmware.newDevice()
		}
		l.t = o.Dial(l.id, f.onState(l))
		if l.t == nil {
			cancel()
			f.Close()
			return nil, fmt.Errorf("sim: no transport for %s", l.id)
		}
		f.agents = append(f.agents, l)
		if o.Pace > 0 && i > 0 {
			select {
			case <-ctx.Done():
			case <-time.After(o.Pace):
			}
		}
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			l.t.Serve(ctx, mtp.HandlerFunc(func(ctx context.Context, in mtp.Inbound) { f.answer(ctx, l, in) }))
		}()
	}
	return f, nil
}

// ID returns the Endpoint ID of Agent i.
func (f *Fleet) ID(i int) string { return f.agents[i].id }

// Up returns how many Agents are connected.
func (f *Fleet) Up() int { return int(f.up.Load()) }

// Close disconnects every Agent.
func (f *Fleet) Close() {
	f.cancel()
	for _, l := range f.agents {
		l.t.Close()
	}
	f.wg.Wait()
}

func (f *Fleet) onState(l *light) mtp.StateFunc {
	return func(ctx context.Context, p mtp.Peer, s mtp.State, err error) {
		if s == mtp.StateUp {
			f.up.Add(1)
			if b, err := f.o.Connect(f.o.Controller, l.id).MarshalBinary(); err == nil {
				l.t.Send(ctx, f.o.ControllerAddr, b)
			}
		} else {
			f.up.Add(-1)
		}
	}
}

// answer replies to one request: a Get with the values it asks for
// (each parameter's value is its own name), GetSupportedProtocol, or an
// Error for anything else; with Options.Firmware, the firmware, software
// and subscription requests of Firmware first.
func (f *Fleet) answer(ctx context.Context, l *light, in mtp.Inbound) {
	var rec record.Record
	if record.Decode(in.Record, &rec, nil) != nil || rec.Type != record.TypeNoSessionContext {
		return
	}
	var m wire.Msg
	if proto.Unmarshal(rec.Payload, &m) != nil || m.GetBody().GetRequest() == nil {
		return
	}
	id := m.GetHeader().GetMsgId()
	var out *wire.Msg
	if l.dev != nil {
		out = f.device(ctx, l, id, m.GetBody().GetRequest())
	}
	switch r := m.GetBody().GetRequest().GetReqType().(type) {
	case *wire.Request_Get:
		if out != nil {
			break
		}
		resp := &wire.GetResp{}
		for _, p := range r.Get.GetParamPaths() {
			obj, name := p, ""
			if i := lastDot(p); i >= 0 && i < len(p)-1 {
				obj, name = p[:i+1], p[i+1:]
			}
			rp := &wire.GetResp_RequestedPathResult{RequestedPath: p, ResolvedPathResults: []*wire.GetResp_ResolvedPathResult{{ResolvedPath: obj,
				ResultParams: map[string]string{name: l.id}}}}
			resp.ReqPathResults = append(resp.ReqPathResults, rp)
		}
		out = &wire.Msg{Header: &wire.Header{MsgId: id, MsgType: wire.Header_GET_RESP}, Body: &wire.Body{MsgBody: &wire.Body_Response{Response: &wire.Response{RespType: &wire.Response_GetResp{GetResp: resp}}}}}
	case *wire.Request_GetSupportedProtocol:
		if out != nil {
			break
		}
		out = &wire.Msg{Header: &wire.Header{MsgId: id, MsgType: wire.Header_GET_SUPPORTED_PROTO_RESP}, Body: &wire.Body{MsgBody: &wire.Body_Response{Response: &wire.Response{
			RespType: &wire.Response_GetSupportedProtocolResp{GetSupportedProtocolResp: &wire.GetSupportedProtocolResp{AgentSupportedProtocolVersions: "1.3"}}}}}}
	default:
		if out != nil {
			break
		}
		out = &wire.Msg{Header: &wire.Header{MsgId: id, MsgType: wire.Header_ERROR}, Body: &wire.Body{MsgBody: &wire.Body_Error{Error: &wire.Error{ErrCode: 7001, ErrMsg: "not supported by a simulated agent"}}}}
	}
	payload, err := proto.Marshal(out)
	if err != nil {
		return
	}
	b, err := record.NewNoSession(rec.FromID, l.id, payload).MarshalBinary()
	if err != nil {
		return
	}
	addr := in.From.Address
	if addr == "" {
		addr = f.o.ControllerAddr
	}
	l.t.Send(ctx, addr, b)
}

func lastDot(s string) int {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '.' {
			return i
		}
	}
	return -1
}
