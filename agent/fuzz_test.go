package agent

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/uspkit/uspkit/datamodel"
	"github.com/uspkit/uspkit/schema"
	"github.com/uspkit/uspkit/store"
	"github.com/uspkit/uspkit/wire"
)

// FuzzDispatch feeds arbitrary Msgs from a trusted Controller to the
// Agent. Every request with a msg_id gets a reply (a panic would lose
// it), and the Agent still answers a Get afterwards.
func FuzzDispatch(f *testing.F) {
	req := func(r *wire.Request) []byte {
		b, _ := wire.MarshalMsg(&wire.Msg{Header: &wire.Header{MsgId: "1"}, Body: &wire.Body{MsgBody: &wire.Body_Request{Request: r}}})
		return b
	}
	f.Add(req(&wire.Request{ReqType: &wire.Request_Get{Get: &wire.Get{ParamPaths: []string{"Device.LocalAgent.", `Device.LocalAgent.Controller.[EndpointID=="proto::c"].`}, MaxDepth: 2}}}))
	f.Add(req(&wire.Request{ReqType: &wire.Request_Set{Set: &wire.Set{UpdateObjs: []*wire.Set_UpdateObject{{ObjPath: "Device.LocalAgent.Controller.1.",
		ParamSettings: []*wire.Set_UpdateParamSetting{{Param: "PeriodicNotifInterval", Value: "60", Required: true}}}}}}}))
	f.Add(req(&wire.Request{ReqType: &wire.Request_Add{Add: &wire.Add{CreateObjs: []*wire.Add_CreateObject{{ObjPath: "Device.LocalAgent.Subscription.",
		ParamSettings: []*wire.Add_CreateParamSetting{{Param: "NotifType", Value: "ValueChange"}, {Param: "ReferenceList", Value: "Device.LocalAgent.*."}}}}}}}))
	f.Add(req(&wire.Request{ReqType: &wire.Request_Delete{Delete: &wire.Delete{AllowPartial: true, ObjPaths: []string{"Device.LocalAgent.Subscription.*."}}}}))
	f.Add(req(&wire.Request{ReqType: &wire.Request_Operate{Operate: &wire.Operate{Command: "Device.LocalAgent.Controller.1.SendOnBoardRequest()", SendResp: true}}}))
	f.Add(req(&wire.Request{ReqType: &wire.Request_GetInstances{GetInstances: &wire.GetInstances{ObjPaths: []string{"Device."}}}}))
	f.Add(req(&wire.Request{ReqType: &wire.Request_GetSupportedDm{GetSupportedDm: &wire.GetSupportedDM{ObjPaths: []string{"Device.LocalAgent."}, ReturnParams: true, ReturnCommands: true, ReturnEvents: true}}}))
	f.Add(req(&wire.Request{ReqType: &wire.Request_GetSupportedProtocol{GetSupportedProtocol: &wire.GetSupportedProtocol{}}}))
	f.Add([]byte{0x0a, 0x00})

	m := schema.New()
	Define(m)
	a, err := New(context.Background(), Options{EndpointID: "os::012345-FUZZ", Mux: datamodel.NewMux(m), Store: store.NewMemory(),
		Factory: &Config{Controllers: []ControllerConfig{{EndpointID: "proto::c"}}}})
	if err != nil {
		f.Fatal(err)
	}
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, b []byte) {
		var msg wire.Msg
		if wire.UnmarshalMsg(b, &msg) != nil {
			return
		}
		var reply *wire.Msg
		done := make(chan struct{})
		go func() { reply = a.dispatch(ctx, "proto::c", &msg); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			buf := make([]byte, 1<<20)
			t.Fatalf("dispatch hung on %v\n%s", &msg, buf[:runtime.Stack(buf, true)])
		}
		r := msg.GetBody().GetRequest()
		silent := r.GetOperate() != nil && !r.GetOperate().GetSendResp()
		if r != nil && msg.GetHeader().GetMsgId() != "" && !silent && reply == nil {
			t.Fatalf("no reply to %v", &msg)
		}
		if reply != nil && reply.GetHeader().GetMsgId() != msg.GetHeader().GetMsgId() {
			t.Fatalf("reply msg_id %q", reply.GetHeader().GetMsgId())
		}
		if g := a.eng.Get(ctx, datamodel.Caller{}, []string{"Device.LocalAgent.EndpointID"}, 0); g[0].Err != nil {
			t.Fatalf("agent broken: %v", g[0].Err)
		}
	})
}
