package main

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/mtp/mqtt"
	"github.com/uspkit/uspkit/record"
	"github.com/uspkit/uspkit/wire"
)

// ctl is a bare USP Controller on MQTT for the measurements: it sends
// requests in no_session_context Records and hands Notify messages to a
// channel, with the time each arrived.
type ctl struct {
	id, agentID, agentTopic string
	tr                      *mqtt.Client
	cancel                  context.CancelFunc
	done                    chan struct{}
	notifs                  chan arrival

	mu      sync.Mutex
	pending map[string]chan *wire.Msg
	n       int
}

// arrival is a Notify and when it arrived.
type arrival struct {
	msg *wire.Msg
	at  time.Time
}

// newCtl connects a controller with Endpoint ID id to the broker at url,
// subscribed to topic, for the agent agentID on agentTopic.
func newCtl(t *testing.T, url, id, topic, agentID, agentTopic string) *ctl {
	t.Helper()
	c := &ctl{id: id, agentID: agentID, agentTopic: agentTopic, notifs: make(chan arrival, 64), pending: map[string]chan *wire.Msg{},
		done: make(chan struct{})}
	c.tr = mqtt.NewClient(&mqtt.Options{URL: url, Version: mqtt.V5, EndpointID: id, Topic: topic})
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	go func() {
		defer close(c.done)
		c.tr.Serve(ctx, mtp.HandlerFunc(c.handle))
	}()
	t.Cleanup(c.close)
	return c
}

func (c *ctl) close() {
	c.cancel()
	c.tr.Close()
	<-c.done
}

func (c *ctl) handle(ctx context.Context, in mtp.Inbound) {
	at := time.Now()
	var r record.Record
	if err := record.Decode(in.Record, &r, nil); err != nil || r.Type != record.TypeNoSessionContext {
		return
	}
	m := &wire.Msg{}
	if err := proto.Unmarshal(r.Payload, m); err != nil {
		return
	}
	if m.GetBody().GetRequest().GetNotify() != nil {
		select {
		case c.notifs <- arrival{m, at}:
		default:
		}
		return
	}
	c.mu.Lock()
	ch := c.pending[m.GetHeader().GetMsgId()]
	delete(c.pending, m.GetHeader().GetMsgId())
	c.mu.Unlock()
	if ch != nil {
		ch <- m
	}
}

// do sends req, of type typ, and waits up to timeout for the answer.
func (c *ctl) do(typ wire.Header_MsgType, req *wire.Request, timeout time.Duration) (*wire.Msg, error) {
	c.mu.Lock()
	c.n++
	id := fmt.Sprintf("%s-%d", c.id, c.n)
	ch := make(chan *wire.Msg, 1)
	c.pending[id] = ch
	c.mu.Unlock()
	msg := &wire.Msg{Header: &wire.Header{MsgId: id, MsgType: typ}, Body: &wire.Body{MsgBody: &wire.Body_Request{Request: req}}}
	payload, err := proto.Marshal(msg)
	if err != nil {
		return nil, err
	}
	b, err := record.NewNoSession(c.agentID, c.id, payload).MarshalBinary()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := c.tr.Send(ctx, c.agentTopic, b); err != nil {
		return nil, err
	}
	select {
	case m := <-ch:
		return m, nil
	case <-ctx.Done():
		c.mu.Lock()
		delete(c.pending, id)
		c.mu.Unlock()
		return nil, fmt.Errorf("%s: no answer within %v", typ, timeout)
	}
}

// waitReady sends Gets until the agent answers one: the first may be
// sent before this controller's subscription to its topic is in place.
func (c *ctl) waitReady(t *testing.T, timeout time.Duration) {
	t.Helper()
	get := &wire.Request{ReqType: &wire.Request_Get{Get: &wire.Get{ParamPaths: []string{"Device.LocalAgent.EndpointID"}}}}
	for end := time.Now().Add(timeout); time.Now().Before(end); {
		if r, err := c.do(wire.Header_GET, get, 2*time.Second); err == nil && r.GetBody().GetResponse().GetGetResp() != nil {
			return
		}
	}
	t.Fatalf("the agent did not answer a Get within %v", timeout)
}

// subscribeBoot adds a persistent subscription of this controller to
// Device.Boot! [R-NOT.0].
func (c *ctl) subscribeBoot(t *testing.T) {
	t.Helper()
	c.waitReady(t, 60*time.Second)
	add := &wire.Request{ReqType: &wire.Request_Add{Add: &wire.Add{CreateObjs: []*wire.Add_CreateObject{{ObjPath: "Device.LocalAgent.Subscription.",
		ParamSettings: []*wire.Add_CreateParamSetting{{Param: "Enable", Value: "true"}, {Param: "NotifType", Value: "Event"},
			{Param: "ReferenceList", Value: "Device.Boot!"}, {Param: "Persistent", Value: "true"}}}}}}}
	r, err := c.do(wire.Header_ADD, add, 60*time.Second)
	if err != nil || r.GetBody().GetResponse().GetAddResp() == nil {
		t.Fatalf("subscription to Boot!: %v %v", r, err)
	}
}

// waitBoot waits for a Boot! Notify and returns when it arrived.
func (c *ctl) waitBoot(t *testing.T, timeout time.Duration) time.Time {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case a := <-c.notifs:
			if a.msg.GetBody().GetRequest().GetNotify().GetEvent().GetEventName() == "Boot!" {
				return a.at
			}
		case <-deadline:
			t.Fatalf("no Boot! within %v", timeout)
		}
	}
}

// setLatency times n Sets of a persisted parameter (the controller's
// PeriodicNotifInterval, written to the store each time) and returns the
// median and the 90th percentile.
func (c *ctl) setLatency(t *testing.T, n int) (p50, p90 time.Duration) {
	t.Helper()
	var ds []time.Duration
	for i := range n {
		set := &wire.Request{ReqType: &wire.Request_Set{Set: &wire.Set{UpdateObjs: []*wire.Set_UpdateObject{{ObjPath: "Device.LocalAgent.Controller.1.",
			ParamSettings: []*wire.Set_UpdateParamSetting{{Param: "PeriodicNotifInterval", Value: fmt.Sprint(600 + i), Required: true}}}}}}}
		start := time.Now()
		r, err := c.do(wire.Header_SET, set, 30*time.Second)
		if err != nil || r.GetBody().GetResponse().GetSetResp() == nil {
			t.Fatalf("Set %d: %v %v", i, r, err)
		}
		ds = append(ds, time.Since(start))
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	return ds[len(ds)/2], ds[len(ds)*9/10]
}
