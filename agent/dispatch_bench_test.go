package agent_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/uspkit/uspkit/agent"
	"github.com/uspkit/uspkit/datamodel"
	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/mtp/mtptest"
	"github.com/uspkit/uspkit/record"
	"github.com/uspkit/uspkit/schema"
	"github.com/uspkit/uspkit/wire"
)

// BenchmarkRequest is a Get of Device.LocalAgent.EndpointID through a
// running Agent over an in-memory pipe: Record and Msg decoding, dispatch,
// the engine, encoding and sending the response; with 1 and 8 requests in
// flight, and with MaxConcurrent 1 (processed in the transport's
// goroutine, as before requests were processed concurrently).
func BenchmarkRequest(b *testing.B) {
	for _, bc := range []struct {
		inflight, maxConcurrent int
	}{{1, 1}, {1, 0}, {8, 1}, {8, 0}} {
		b.Run(fmt.Sprintf("inflight=%d/MaxConcurrent=%d", bc.inflight, bc.maxConcurrent), func(b *testing.B) {
			benchRequests(b, bc.inflight, bc.maxConcurrent)
		})
	}
}

func benchRequests(b *testing.B, inflight, maxConcurrent int) {
	m := schema.New()
	agent.Define(m)
	agentEnd, ctlEnd := mtptest.NewPipe(agentID, ctrlID, nil)
	a, err := agent.New(context.Background(), agent.Options{EndpointID: agentID, Mux: datamodel.NewMux(m), MaxConcurrent: maxConcurrent,
		MTPs:    []agent.MTP{{Protocol: "UDS", Transport: agentEnd}},
		Factory: &agent.Config{Controllers: []agent.ControllerConfig{{EndpointID: ctrlID, MTPs: []agent.ControllerMTPConf{{Protocol: "UDS"}}}}}})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	answered := make(chan struct{}, inflight)
	var bad atomic.Int64
	go ctlEnd.Serve(ctx, mtp.HandlerFunc(func(_ context.Context, in mtp.Inbound) {
		var rec record.Record
		var msg wire.Msg
		if record.Decode(in.Record, &rec, nil) != nil || wire.UnmarshalMsg(rec.Payload, &msg) != nil || msg.GetBody().GetResponse().GetGetResp() == nil {
			bad.Add(1)
		}
		answered <- struct{}{}
	}))
	req := &wire.Msg{Header: &wire.Header{MsgId: "m", MsgType: wire.Header_GET}, Body: &wire.Body{MsgBody: &wire.Body_Request{Request: &wire.Request{
		ReqType: &wire.Request_Get{Get: &wire.Get{ParamPaths: []string{"Device.LocalAgent.EndpointID"}}}}}}}
	send := func(i int) {
		req.Header.MsgId = fmt.Sprint("m", i)
		payload, _ := wire.MarshalMsg(req)
		rec, _ := record.NewNoSession(agentID, ctrlID, payload).MarshalBinary()
		if err := ctlEnd.Send(ctx, agentID, rec); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	sent := 0
	for ; sent < inflight; sent++ {
		send(sent)
	}
	for b.Loop() {
		<-answered
		send(sent)
		sent++
	}
	for range inflight {
		<-answered
	}
	b.StopTimer()
	cancel()
	ctlEnd.Close()
	<-done
	if bad.Load() > 0 {
		b.Fatalf("%d answers were not GetResps", bad.Load())
	}
}
