package service_test

import (
	"context"
	"testing"
	"time"

	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/mtp/uds"
	"github.com/uspkit/uspkit/record"
	"github.com/uspkit/uspkit/usperr"
	"github.com/uspkit/uspkit/wire"
)

// rawService is a USP Service written by hand on the Broker's Controller
// socket: it sends what it is told and answers nothing.
type rawService struct {
	t   *testing.T
	id  string
	cli *uds.Client
	in  chan *wire.Msg
}

func dialRaw(t *testing.T, w *world, id string) *rawService {
	t.Helper()
	up := make(chan struct{}, 1)
	r := &rawService{t: t, id: id, in: make(chan *wire.Msg, 16)}
	r.cli = uds.NewClient(&uds.Options{Path: w.ctlSock, EndpointID: id, OnState: func(ctx context.Context, p mtp.Peer, s mtp.State, err error) {
		if s == mtp.StateUp {
			select {
			case up <- struct{}{}:
			default:
			}
		}
	}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.cli.Serve(ctx, mtp.HandlerFunc(func(ctx context.Context, in mtp.Inbound) {
			var rec record.Record
			if record.Decode(in.Record, &rec, nil) != nil {
				return
			}
			var m wire.Msg
			if wire.UnmarshalMsg(rec.Payload, &m) == nil {
				select {
				case r.in <- &m:
				default:
				}
			}
		}))
	}()
	t.Cleanup(func() { cancel(); r.cli.Close(); <-done })
	select {
	case <-up:
	case <-time.After(10 * time.Second):
		t.Fatal("raw service not connected")
	}
	return r
}

func (r *rawService) sendBytes(b []byte) {
	if err := r.cli.Send(context.Background(), brokerID, b); err != nil {
		r.t.Fatal(err)
	}
}

func (r *rawService) send(m *wire.Msg) {
	pb, _ := wire.MarshalMsg(m)
	b, _ := record.NewNoSession(brokerID, r.id, pb).MarshalBinary()
	r.sendBytes(b)
}

func (r *rawService) next() *wire.Msg {
	select {
	case m := <-r.in:
		return m
	case <-time.After(10 * time.Second):
		r.t.Fatal("no message from the Broker")
		return nil
	}
}

// TestBrokerBadService: what a Service sends cannot stop the Broker, and a
// Service that does not answer fails the Controller's request at the
// Broker's timeout.
func TestBrokerBadService(t *testing.T) {
	w := startBrokerTimeout(t, 300*time.Millisecond)
	a, _ := startService(t, w, "os::012345-SVCA", "Device.X_USPKIT_A.", true)
	c := a.Broker()
	mute := dialRaw(t, w, "os::012345-MUTE")
	// Garbage, a Record without a Msg, a Msg without a body, an answer to
	// nothing, a request the socket does not take, a Register of nothing.
	mute.sendBytes([]byte("not a record"))
	b, _ := record.NewNoSession(brokerID, mute.id, []byte{0xff, 0xff, 0xff}).MarshalBinary()
	mute.sendBytes(b)
	mute.send(&wire.Msg{Header: &wire.Header{MsgId: "x"}})
	mute.send(&wire.Msg{Header: &wire.Header{MsgId: "broker-999", MsgType: wire.Header_GET_RESP}, Body: &wire.Body{MsgBody: &wire.Body_Response{Response: &wire.Response{}}}})
	mute.send(&wire.Msg{Header: &wire.Header{MsgId: "g1", MsgType: wire.Header_GET}, Body: &wire.Body{MsgBody: &wire.Body_Request{Request: req(&wire.Get{ParamPaths: []string{"Device."}})}}})
	if m := mute.next(); m.GetBody().GetError().GetErrCode() != usperr.CodeMessageNotSupported {
		t.Errorf("a Get on the Controller socket: %v", m)
	}
	mute.send(&wire.Msg{Header: &wire.Header{MsgId: "r0", MsgType: wire.Header_REGISTER}, Body: &wire.Body{MsgBody: &wire.Body_Request{Request: &wire.Request{ReqType: &wire.Request_Register{Register: &wire.Register{}}}}}})
	if m := mute.next(); m.GetBody().GetError().GetErrCode() != usperr.CodeRegisterFailure {
		t.Errorf("an empty Register: %v", m)
	}
	// Registered, then silent.
	mute.send(&wire.Msg{Header: &wire.Header{MsgId: "r1", MsgType: wire.Header_REGISTER}, Body: &wire.Body{MsgBody: &wire.Body_Request{Request: &wire.Request{ReqType: &wire.Request_Register{Register: &wire.Register{
		RegPaths: []*wire.Register_RegistrationPath{{Path: "Device.X_USPKIT_MUTE."}}}}}}}})
	if m := mute.next(); m.GetBody().GetResponse().GetRegisterResp() == nil {
		t.Fatalf("Register: %v", m)
	}
	start := time.Now()
	m, err := c.Do(context.Background(), req(&wire.Get{ParamPaths: []string{"Device.X_USPKIT_MUTE.Value", "Device.X_USPKIT_A.Value"}}))
	if err != nil {
		t.Fatal(err)
	}
	rp := m.GetBody().GetResponse().GetGetResp().GetReqPathResults()
	if len(rp) != 2 || rp[0].GetErrCode() != usperr.CodeInternal || rp[1].GetErrCode() != 0 || time.Since(start) > 3*time.Second {
		t.Errorf("Get with a silent Service (%v): %v", time.Since(start), m)
	}
	mset, err := c.Do(context.Background(), req(&wire.Set{AllowPartial: true, UpdateObjs: []*wire.Set_UpdateObject{
		{ObjPath: "Device.X_USPKIT_MUTE.", ParamSettings: []*wire.Set_UpdateParamSetting{{Param: "Value", Value: "x"}}},
		{ObjPath: "Device.X_USPKIT_A.", ParamSettings: []*wire.Set_UpdateParamSetting{{Param: "Value", Value: "y"}}}}}))
	if err != nil {
		t.Fatal(err)
	}
	rs := mset.GetBody().GetResponse().GetSetResp().GetUpdatedObjResults()
	if len(rs) != 2 || rs[0].GetOperStatus().GetOperFailure().GetErrCode() != usperr.CodeInternal || rs[1].GetOperStatus().GetOperSuccess() == nil {
		t.Errorf("Set with a silent Service: %v", mset)
	}
	want(t, get(t, c, "Device.X_USPKIT_A.Value"), "Device.X_USPKIT_A.Value", "y")
}
