package record_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/uspkit/uspkit/record"
	"github.com/uspkit/uspkit/usperr"
	"github.com/uspkit/uspkit/wire"
)

const (
	agentID = "os::00D09E-HG-SN000123"
	ctrlID  = "self::ctrl-1"
)

func getMsg(t testing.TB, id string) []byte {
	t.Helper()
	b, err := wire.MarshalMsg(&wire.Msg{
		Header: &wire.Header{MsgId: id, MsgType: wire.Header_GET},
		Body: &wire.Body{MsgBody: &wire.Body_Request{Request: &wire.Request{
			ReqType: &wire.Request_Get{Get: &wire.Get{ParamPaths: []string{"Device.DeviceInfo."}}}}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRoundTripEveryType(t *testing.T) {
	recs := []*record.Record{
		record.NewNoSession(agentID, ctrlID, []byte{1, 2, 3}),
		record.NewWebSocketConnect(ctrlID, agentID),
		record.NewUDSConnect(ctrlID, agentID),
		record.NewMQTTConnect(ctrlID, agentID, record.MQTTVersion5, "usp/agent"),
		record.NewMQTTConnect(ctrlID, agentID, record.MQTTVersion311, "usp/agent"),
		record.NewSTOMPConnect(ctrlID, agentID, "/queue/agent"),
		record.NewDisconnect(ctrlID, agentID, usperr.CodeSessionContextTerminated, "bye"),
		{Version: "1.3", ToID: agentID, FromID: ctrlID, Type: record.TypeSessionContext,
			PayloadSecurity: record.PayloadSecurityTLS12, MACSignature: []byte("mac"), SenderCert: []byte("cert"),
			Session: record.SessionContext{SessionID: 1 << 40, SequenceID: 2, ExpectedID: 3, RetransmitID: 4,
				PayloadSAR: record.SARStateBegin, PayloadRecSAR: record.SARStateInProcess,
				Payload: [][]byte{[]byte("a"), {}, []byte("c")}}},
		{Version: "1.3", ToID: agentID, FromID: ctrlID},
	}
	for _, in := range recs {
		t.Run(in.Type.String(), func(t *testing.T) {
			b, err := in.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			if len(b) != in.Size() {
				t.Errorf("len = %d, Size() = %d", len(b), in.Size())
			}
			var out record.Record
			if err := record.Decode(b, &out, nil); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(in, &out, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("round trip (-in +out):\n%s", diff)
			}
			var viaProto wire.Record
			if err := unmarshalRecord(b, &viaProto); err != nil {
				t.Fatalf("protobuf cannot read our encoding: %v", err)
			}
			if diff := cmp.Diff(in, record.FromWire(&viaProto), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("protobuf reads (-in +proto):\n%s", diff)
			}
		})
	}
}

func TestDecodeRejects(t *testing.T) {
	valid, _ := record.NewNoSession(agentID, ctrlID, []byte("x")).MarshalBinary()
	badUTF8 := protowire.AppendTag(nil, 2, protowire.BytesType)
	badUTF8 = protowire.AppendBytes(badUTF8, []byte{0xff, 0xfe})
	tests := []struct {
		name string
		in   []byte
		opts *record.DecodeOptions
	}{
		{"truncated", valid[:len(valid)-1], nil},
		{"bad tag", []byte{0x00}, nil},
		{"length past end", []byte{0x12, 0x05, 'a'}, nil},
		{"invalid utf8 to_id", badUTF8, nil},
		{"oversize", valid, &record.DecodeOptions{MaxSize: len(valid) - 1}},
		{"truncated varint", []byte{0x20, 0x80}, nil},
		{"bad body", []byte{0x3a, 0x02, 0x12, 0x05}, nil},
		// Found by FuzzDecode: a tag whose field number exceeds 2^29-1.
		{"field number above max", []byte("\xa8\xa8\xa8\xa80\xa8\xa8\xa80"), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r record.Record
			err := record.Decode(tt.in, &r, tt.opts)
			if err == nil {
				t.Fatal("Decode succeeded")
			}
			if got := usperr.Code(err); got != usperr.CodeRecordNotParsed {
				t.Errorf("code = %d, want 7100", got)
			}
			if r.Type != record.TypeNone || r.ToID != "" {
				t.Errorf("record not reset after error: %+v", r)
			}
		})
	}
}

// TestDecodeProtobufRules checks the protobuf decoding rules the codec must
// share with every other implementation.
func TestDecodeProtobufRules(t *testing.T) {
	var b []byte
	// Unknown field, and a known field with an unexpected wire type: skipped.
	b = protowire.AppendTag(b, 99, protowire.VarintType)
	b = protowire.AppendVarint(b, 5)
	b = protowire.AppendTag(b, 2, protowire.VarintType)
	b = protowire.AppendVarint(b, 5)
	// Repeated scalar: last wins.
	b = protowire.AppendTag(b, 2, protowire.BytesType)
	b = protowire.AppendString(b, "first")
	b = protowire.AppendTag(b, 2, protowire.BytesType)
	b = protowire.AppendString(b, "to")
	// A oneof member replaced by another, then the same member merged.
	b = protowire.AppendTag(b, 7, protowire.BytesType)
	b = protowire.AppendBytes(b, protowire.AppendBytes(protowire.AppendTag(nil, 2, protowire.BytesType), []byte("p")))
	sess := func(seq uint64, payload string) []byte {
		var s []byte
		s = protowire.AppendTag(s, 2, protowire.VarintType)
		s = protowire.AppendVarint(s, seq)
		s = protowire.AppendTag(s, 7, protowire.BytesType)
		return protowire.AppendString(s, payload)
	}
	for i, p := range []string{"one", "two"} {
		b = protowire.AppendTag(b, 8, protowire.BytesType)
		b = protowire.AppendBytes(b, sess(uint64(i+1), p))
	}
	var got record.Record
	if err := record.Decode(b, &got, nil); err != nil {
		t.Fatal(err)
	}
	if protoReference { // wire's decoder alone refuses the field of another wire type
		var want wire.Record
		if err := unmarshalRecord(b, &want); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(record.FromWire(&want), &got, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("differs from protobuf (-proto +ours):\n%s", diff)
		}
	}
	if got.ToID != "to" || got.Type != record.TypeSessionContext || got.Session.SequenceID != 2 || len(got.Session.Payload) != 2 {
		t.Errorf("unexpected result %+v", got)
	}
}

func TestDecodeAliasesInput(t *testing.T) {
	b, _ := record.NewNoSession(agentID, ctrlID, []byte("payload")).MarshalBinary()
	var r record.Record
	if err := record.Decode(b, &r, nil); err != nil {
		t.Fatal(err)
	}
	i := strings.Index(string(b), "payload")
	b[i] = 'P'
	if string(r.Payload) != "Payload" {
		t.Errorf("Payload = %q: it should alias the input", r.Payload)
	}
	if r.ToID != agentID {
		t.Errorf("strings must not alias the input")
	}
}

func TestValidate(t *testing.T) {
	ok := func() *record.Record { return record.NewNoSession(agentID, ctrlID, []byte("m")) }
	tests := []struct {
		name   string
		mutate func(*record.Record)
		want   uint32
	}{
		{"valid", func(*record.Record) {}, 0},
		{"version 1.0", func(r *record.Record) { r.Version = "1.0" }, 0},
		{"version 1.4", func(r *record.Record) { r.Version = "1.4" }, 0},
		{"missing version", func(r *record.Record) { r.Version = "" }, usperr.CodeInvalidRecordValue},
		{"malformed version", func(r *record.Record) { r.Version = "1.x" }, usperr.CodeInvalidRecordValue},
		{"version without minor", func(r *record.Record) { r.Version = "1" }, usperr.CodeInvalidRecordValue},
		{"major 2", func(r *record.Record) { r.Version = "2.0" }, usperr.CodeInvalidRecordValue},
		{"missing to_id", func(r *record.Record) { r.ToID = "" }, usperr.CodeInvalidRecordValue},
		{"missing from_id", func(r *record.Record) { r.FromID = "" }, usperr.CodeInvalidRecordValue},
		{"no record type", func(r *record.Record) { r.Type = record.TypeNone }, usperr.CodeInvalidRecordValue},
		{"empty payload", func(r *record.Record) { r.Payload = nil }, usperr.CodeInvalidRecordValue},
		{"undefined payload security", func(r *record.Record) { r.PayloadSecurity = 7 }, usperr.CodeInvalidRecordValue},
		{"TLS12 without session", func(r *record.Record) { r.PayloadSecurity = record.PayloadSecurityTLS12 }, usperr.CodeInvalidRecordValue},
		{"mqtt without topic", func(r *record.Record) { r.Type = record.TypeMQTTConnect }, usperr.CodeInvalidRecordValue},
		{"mqtt bad version", func(r *record.Record) {
			r.Type, r.MQTT = record.TypeMQTTConnect, record.MQTTConnect{Version: 2, SubscribedTopic: "t"}
		}, usperr.CodeInvalidRecordValue},
		{"mqtt ok", func(r *record.Record) {
			r.Type, r.MQTT = record.TypeMQTTConnect, record.MQTTConnect{Version: record.MQTTVersion5, SubscribedTopic: "t"}
		}, 0},
		{"stomp without destination", func(r *record.Record) { r.Type = record.TypeSTOMPConnect }, usperr.CodeInvalidRecordValue},
		{"stomp bad version", func(r *record.Record) {
			r.Type, r.STOMP = record.TypeSTOMPConnect, record.STOMPConnect{Version: 1, SubscribedDestination: "d"}
		}, usperr.CodeInvalidRecordValue},
		{"disconnect", func(r *record.Record) { r.Type = record.TypeDisconnect }, 0},
		{"websocket", func(r *record.Record) { r.Type = record.TypeWebSocketConnect }, 0},
		{"uds", func(r *record.Record) { r.Type = record.TypeUDSConnect }, 0},
		{"session ok", func(r *record.Record) {
			r.Type, r.Session = record.TypeSessionContext, record.SessionContext{SessionID: 2, SequenceID: 1, ExpectedID: 1}
		}, 0},
		{"session without id", func(r *record.Record) {
			r.Type, r.Session = record.TypeSessionContext, record.SessionContext{SequenceID: 1, ExpectedID: 1}
		}, usperr.CodeInvalidRecordValue},
		{"session without sequence", func(r *record.Record) {
			r.Type, r.Session = record.TypeSessionContext, record.SessionContext{SessionID: 2, ExpectedID: 1}
		}, usperr.CodeInvalidRecordValue},
		{"session rec SAR without SAR", func(r *record.Record) {
			r.Type = record.TypeSessionContext
			r.Session = record.SessionContext{SessionID: 2, SequenceID: 1, ExpectedID: 1, PayloadRecSAR: record.SARStateBegin}
		}, usperr.CodeInvalidRecordValue},
		{"session undefined SAR", func(r *record.Record) {
			r.Type = record.TypeSessionContext
			r.Session = record.SessionContext{SessionID: 2, SequenceID: 1, ExpectedID: 1, PayloadSAR: 9}
		}, usperr.CodeInvalidRecordValue},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ok()
			tt.mutate(r)
			err := r.Validate()
			if tt.want == 0 {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if got := usperr.Code(err); err == nil || got != tt.want {
				t.Fatalf("Validate = %v (code %d), want code %d", err, got, tt.want)
			}
			var ue *usperr.Error
			if !errors.As(err, &ue) || ue.Msg == "" {
				t.Errorf("error carries no message: %#v", err)
			}
		})
	}
}

// TestErrorReply checks [R-MTP.5]: an erroneous Record gets an Error Msg
// only when its sender, recipient and request msg_id are all usable.
func TestErrorReply(t *testing.T) {
	cause := usperr.New(usperr.CodeSecureSessionNotSupported, "no E2E sessions here")
	notify, _ := wire.MarshalMsg(&wire.Msg{
		Header: &wire.Header{MsgId: "n1", MsgType: wire.Header_NOTIFY_RESP},
		Body: &wire.Body{MsgBody: &wire.Body_Response{Response: &wire.Response{
			RespType: &wire.Response_NotifyResp{NotifyResp: &wire.NotifyResp{}}}}},
	})
	noID, _ := wire.MarshalMsg(&wire.Msg{Body: &wire.Body{MsgBody: &wire.Body_Request{Request: &wire.Request{}}}})
	tests := []struct {
		name  string
		in    *record.Record
		reply bool
	}{
		{"request", record.NewNoSession(agentID, ctrlID, getMsg(t, "g1")), true},
		{"other recipient", record.NewNoSession("self::other", ctrlID, getMsg(t, "g1")), false},
		{"invalid sender", record.NewNoSession(agentID, "bogus", getMsg(t, "g1")), false},
		{"response msg", record.NewNoSession(agentID, ctrlID, notify), false},
		{"no msg_id", record.NewNoSession(agentID, ctrlID, noID), false},
		{"undecodable payload", record.NewNoSession(agentID, ctrlID, []byte{0xff}), false},
		{"connect record", record.NewWebSocketConnect(agentID, ctrlID), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := record.ErrorReply(tt.in, agentID, cause)
			if (out != nil) != tt.reply {
				t.Fatalf("reply = %v, want reply %v", out, tt.reply)
			}
			if out == nil {
				return
			}
			if out.ToID != ctrlID || out.FromID != agentID || out.Validate() != nil {
				t.Errorf("bad reply envelope %+v", out)
			}
			var m wire.Msg
			if err := wire.UnmarshalMsg(out.Payload, &m); err != nil {
				t.Fatal(err)
			}
			if m.GetHeader().GetMsgId() != "g1" || m.GetHeader().GetMsgType() != wire.Header_ERROR {
				t.Errorf("header = %v", m.GetHeader())
			}
			if e := m.GetBody().GetError(); e.GetErrCode() != usperr.CodeSecureSessionNotSupported || e.GetErrMsg() == "" {
				t.Errorf("error = %v", e)
			}
		})
	}
}
