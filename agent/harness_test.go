package agent_test

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/uspkit/uspkit/agent"
	"github.com/uspkit/uspkit/datamodel"
	"github.com/uspkit/uspkit/internal/testenv"
	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/mtp/mtptest"
	"github.com/uspkit/uspkit/record"
	"github.com/uspkit/uspkit/schema"
	"github.com/uspkit/uspkit/store"
	"github.com/uspkit/uspkit/wire"
)

func TestMain(m *testing.M) { testenv.Main(m) }

const (
	agentID = "os::012345-AGENT01"
	ctrlID  = "proto::controller-1"
)

// gauge is a provided vendor object whose value changes outside the
// engine, for polled ValueChange.
type gauge struct{ v atomic.Int64 }

func (g *gauge) ServeUSP(ctx context.Context, w datamodel.ResponseWriter, r *datamodel.Request) error {
	if r.Op == datamodel.OpGet {
		for _, n := range r.Names {
			if n == "Level" {
				w.SetValue(n, strconv.FormatInt(g.v.Load(), 10))
			}
		}
	}
	return nil
}

type env struct {
	t     *testing.T
	agent *agent.Agent
	store *store.Memory
	gauge *gauge
	ctl   *ctl
	stop  func()
}

type envOption func(*agent.Options)

// start runs an Agent with one Controller (ctrlID, full access) reached
// over an in-memory pipe, and returns the Controller's end.
func start(t *testing.T, st *store.Memory, opts ...envOption) *env {
	t.Helper()
	if st == nil {
		st = store.NewMemory()
	}
	m := schema.New()
	agent.Define(m)
	m.Define("Device.X_TEST_Gauge.").Param("Level", schema.Int())
	mux := datamodel.NewMux(m)
	g := &gauge{}
	mux.Handle("Device.X_TEST_Gauge.", g)
	agentEnd, ctlEnd := mtptest.NewPipe(agentID, ctrlID, nil)
	o := agent.Options{
		EndpointID: agentID, Mux: mux, Store: st, SoftwareVersion: "test",
		MTPs:         []agent.MTP{{Protocol: "UDS", Transport: agentEnd}},
		Factory:      &agent.Config{Controllers: []agent.ControllerConfig{{EndpointID: ctrlID, MTPs: []agent.ControllerMTPConf{{Protocol: "UDS"}}}}},
		PollInterval: 100 * time.Millisecond,
	}
	for _, f := range opts {
		f(&o)
	}
	a, err := agent.New(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	c := newCtl(t, ctlEnd, ctrlID)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	e := &env{t: t, agent: a, store: st, gauge: g, ctl: c}
	stopped := false
	e.stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("agent stopped: %v", err)
		}
		c.close()
	}
	t.Cleanup(e.stop)
	return e
}

// ctl is a scripted Controller at the far end of a pipe.
type ctl struct {
	t    *testing.T
	id   string
	pipe *mtptest.Pipe
	seq  atomic.Int64

	mu      sync.Mutex
	waiting map[string]chan *wire.Msg
	notifs  chan *wire.Msg
	autoAck bool
	cancel  context.CancelFunc
	done    chan struct{}
}

func newCtl(t *testing.T, p *mtptest.Pipe, id string) *ctl {
	ctx, cancel := context.WithCancel(context.Background())
	c := &ctl{t: t, id: id, pipe: p, waiting: map[string]chan *wire.Msg{}, notifs: make(chan *wire.Msg, 100), autoAck: true,
		cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(c.done)
		p.Serve(ctx, mtp.HandlerFunc(c.handle))
	}()
	return c
}

func (c *ctl) close() {
	c.cancel()
	c.pipe.Close()
	<-c.done
}

func (c *ctl) handle(ctx context.Context, in mtp.Inbound) {
	var rec record.Record
	if err := record.Decode(in.Record, &rec, nil); err != nil {
		c.t.Errorf("controller got a bad record: %v", err)
		return
	}
	if rec.ToID != c.id || rec.FromID != agentID {
		c.t.Errorf("record to %q from %q", rec.ToID, rec.FromID)
	}
	var msg wire.Msg
	if err := wire.UnmarshalMsg(rec.Payload, &msg); err != nil {
		c.t.Errorf("controller got a bad msg: %v", err)
		return
	}
	if n := msg.GetBody().GetRequest().GetNotify(); n != nil {
		c.notifs <- &msg
		c.mu.Lock()
		ack := c.autoAck
		c.mu.Unlock()
		if ack && n.GetSendResp() {
			c.send(respNotify(msg.GetHeader().GetMsgId(), n.GetSubscriptionId()))
		}
		return
	}
	c.mu.Lock()
	ch := c.waiting[msg.GetHeader().GetMsgId()]
	c.mu.Unlock()
	if ch == nil {
		c.t.Errorf("unexpected msg %v", &msg)
		return
	}
	ch <- &msg
}

func respNotify(id, sub string) *wire.Msg {
	return &wire.Msg{Header: &wire.Header{MsgId: id, MsgType: wire.Header_NOTIFY_RESP},
		Body: &wire.Body{MsgBody: &wire.Body_Response{Response: &wire.Response{RespType: &wire.Response_NotifyResp{NotifyResp: &wire.NotifyResp{SubscriptionId: sub}}}}}}
}

func (c *ctl) send(m *wire.Msg) {
	payload, err := wire.MarshalMsg(m)
	if err != nil {
		c.t.Fatal(err)
	}
	b, err := record.NewNoSession(agentID, c.id, payload).MarshalBinary()
	if err != nil {
		c.t.Fatal(err)
	}
	c.sendRaw(b)
}

func (c *ctl) sendRaw(b []byte) {
	if err := c.pipe.Send(context.Background(), agentID, b); err != nil {
		c.t.Fatal(err)
	}
}

// do sends a request and returns the reply (a response or an Error).
func (c *ctl) do(req *wire.Request) *wire.Msg {
	c.t.Helper()
	m, ch := c.prepare(req)
	c.send(m)
	select {
	case r := <-ch:
		return r
	case <-time.After(5 * time.Second):
		c.t.Fatalf("no reply to %v", req)
		return nil
	}
}

func (c *ctl) prepare(req *wire.Request) (*wire.Msg, chan *wire.Msg) {
	id := fmt.Sprintf("%s-%d", c.id, c.seq.Add(1))
	ch := make(chan *wire.Msg, 1)
	c.mu.Lock()
	c.waiting[id] = ch
	c.mu.Unlock()
	return &wire.Msg{Header: &wire.Header{MsgId: id, MsgType: wire.RequestMsgType(req)}, Body: &wire.Body{MsgBody: &wire.Body_Request{Request: req}}}, ch
}

// notification waits for the next Notify.
func (c *ctl) notification(timeout time.Duration) *wire.Msg {
	c.t.Helper()
	select {
	case m := <-c.notifs:
		return m
	case <-time.After(timeout):
		return nil
	}
}

func get(paths ...string) *wire.Request {
	return &wire.Request{ReqType: &wire.Request_Get{Get: &wire.Get{ParamPaths: paths}}}
}

func setReq(allowPartial bool, path string, kv ...string) *wire.Request {
	uo := &wire.Set_UpdateObject{ObjPath: path}
	for i := 0; i+1 < len(kv); i += 2 {
		uo.ParamSettings = append(uo.ParamSettings, &wire.Set_UpdateParamSetting{Param: kv[i], Value: kv[i+1], Required: true})
	}
	return &wire.Request{ReqType: &wire.Request_Set{Set: &wire.Set{AllowPartial: allowPartial, UpdateObjs: []*wire.Set_UpdateObject{uo}}}}
}

func addReq(path string, kv ...string) *wire.Request {
	co := &wire.Add_CreateObject{ObjPath: path}
	for i := 0; i+1 < len(kv); i += 2 {
		co.ParamSettings = append(co.ParamSettings, &wire.Add_CreateParamSetting{Param: kv[i], Value: kv[i+1], Required: true})
	}
	return &wire.Request{ReqType: &wire.Request_Add{Add: &wire.Add{CreateObjs: []*wire.Add_CreateObject{co}}}}
}

func operateReq(cmd, key string, sendResp bool, args map[string]string) *wire.Request {
	return &wire.Request{ReqType: &wire.Request_Operate{Operate: &wire.Operate{Command: cmd, CommandKey: key, SendResp: sendResp, InputArgs: args}}}
}

// value returns one parameter from a GetResp.
func value(t *testing.T, m *wire.Msg, path string) string {
	t.Helper()
	for _, rp := range m.GetBody().GetResponse().GetGetResp().GetReqPathResults() {
		for _, r := range rp.GetResolvedPathResults() {
			for k, v := range r.GetResultParams() {
				if r.GetResolvedPath()+k == path {
					return v
				}
			}
		}
	}
	t.Fatalf("%s not in %v", path, m)
	return ""
}

// subscribe adds an enabled subscription for the controller and returns
// its path.
func (c *ctl) subscribe(t *testing.T, id, notifType, refs string, extra ...string) string {
	t.Helper()
	kv := append([]string{"ID", id, "NotifType", notifType, "ReferenceList", refs, "Enable", "true"}, extra...)
	r := c.do(addReq("Device.LocalAgent.Subscription.", kv...))
	res := r.GetBody().GetResponse().GetAddResp().GetCreatedObjResults()
	if len(res) != 1 || res[0].GetOperStatus().GetOperSuccess() == nil {
		t.Fatalf("subscription not added: %v", r)
	}
	return res[0].GetOperStatus().GetOperSuccess().GetInstantiatedPath()
}
