package agent_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/uspkit/uspkit/agent"
	"github.com/uspkit/uspkit/datamodel"
	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/mtp/mtptest"
	"github.com/uspkit/uspkit/record"
	"github.com/uspkit/uspkit/schema"
	"github.com/uspkit/uspkit/store/sqlite"
	"github.com/uspkit/uspkit/wire"
)

// BenchmarkOperateOnBoard is Operate SendOnBoardRequest() through a running
// Agent with an SQLite store over an in-memory pipe, one at a time: the
// OperateResp, the OnBoardRequest Notify with send_resp and the
// Controller's NotifyResp to it.
func BenchmarkOperateOnBoard(b *testing.B) { benchOperateOnBoard(b, nil) }

// BenchmarkOperateOnBoardDeviceInfo is BenchmarkOperateOnBoard with
// Device.DeviceInfo. in the model, whose identity each OnBoardRequest
// carries (identity.go).
func BenchmarkOperateOnBoardDeviceInfo(b *testing.B) {
	benchOperateOnBoard(b, &deviceInfo{oui: "00D09E", class: "uspkit", serial: "SN42"})
}

func benchOperateOnBoard(b *testing.B, di *deviceInfo) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	db, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "agent.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	m := schema.New()
	agent.Define(m)
	o := agent.Options{Mux: datamodel.NewMux(m)}
	if di != nil {
		withDeviceInfo(di)(&o)
	}
	agentEnd, ctlEnd := mtptest.NewPipe(agentID, ctrlID, nil)
	a, err := agent.New(ctx, agent.Options{EndpointID: agentID, Mux: o.Mux, Store: db,
		MTPs:    []agent.MTP{{Protocol: "UDS", Transport: agentEnd}},
		Factory: &agent.Config{Controllers: []agent.ControllerConfig{{EndpointID: ctrlID, MTPs: []agent.ControllerMTPConf{{Protocol: "UDS"}}}}}})
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	send := func(msg *wire.Msg) {
		payload, _ := wire.MarshalMsg(msg)
		rec, _ := record.NewNoSession(agentID, ctrlID, payload).MarshalBinary()
		if err := ctlEnd.Send(ctx, agentID, rec); err != nil {
			b.Error(err)
		}
	}
	answered := make(chan struct{}, 1)
	var bad atomic.Int64
	go ctlEnd.Serve(ctx, mtp.HandlerFunc(func(_ context.Context, in mtp.Inbound) {
		var rec record.Record
		var msg wire.Msg
		if record.Decode(in.Record, &rec, nil) != nil || wire.UnmarshalMsg(rec.Payload, &msg) != nil {
			bad.Add(1)
			return
		}
		switch {
		case msg.GetBody().GetRequest().GetNotify().GetOnBoardReq() != nil:
			send(respNotify(msg.GetHeader().GetMsgId(), ""))
		case msg.GetBody().GetResponse().GetOperateResp() != nil:
			answered <- struct{}{}
		default:
			bad.Add(1)
		}
	}))
	req := &wire.Msg{Header: &wire.Header{MsgType: wire.Header_OPERATE}, Body: &wire.Body{MsgBody: &wire.Body_Request{Request: &wire.Request{
		ReqType: &wire.Request_Operate{Operate: &wire.Operate{Command: onBoard, SendResp: true}}}}}}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		req.Header.MsgId = fmt.Sprint("op", i)
		send(req)
		<-answered
	}
	b.StopTimer()
	cancel()
	ctlEnd.Close()
	<-done
	if bad.Load() > 0 {
		b.Fatalf("%d unexpected messages", bad.Load())
	}
}
