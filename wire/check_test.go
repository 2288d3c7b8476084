package wire_test

import (
	"errors"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/uspkit/uspkit/wire"
)

func getMsg(paths ...string) *wire.Msg {
	return &wire.Msg{Header: &wire.Header{MsgId: "1", MsgType: wire.Header_GET}, Body: &wire.Body{MsgBody: &wire.Body_Request{
		Request: &wire.Request{ReqType: &wire.Request_Get{Get: &wire.Get{ParamPaths: paths}}}}}}
}

// TestCheckUTF8 checks, in both builds, that a string that is not valid
// UTF-8 (which proto3 forbids) is refused by MarshalMsg and UnmarshalMsg
// wherever it is, and that the error names the field.
func TestCheckUTF8(t *testing.T) {
	bad := "Device.\xff."
	operate := func(args map[string]string) *wire.Msg {
		return &wire.Msg{Body: &wire.Body{MsgBody: &wire.Body_Request{Request: &wire.Request{
			ReqType: &wire.Request_Operate{Operate: &wire.Operate{Command: "Device.X()", InputArgs: args}}}}}}
	}
	for _, tc := range []struct {
		name, field string
		msg         *wire.Msg
	}{
		{"header", "usp.Header.msg_id", &wire.Msg{Header: &wire.Header{MsgId: bad}}},
		{"list", "usp.Get.param_paths", getMsg("Device.", bad)},
		{"map value", "usp.Operate.InputArgsEntry.value", operate(map[string]string{"A": bad})},
		{"map key", "usp.Operate.InputArgsEntry.key", operate(map[string]string{bad: "1"})},
		{"oneof", "usp.Error.err_msg", &wire.Msg{Body: &wire.Body{MsgBody: &wire.Body_Error{Error: &wire.Error{ErrCode: 7000, ErrMsg: bad}}}}},
		{"nested list", "usp.GetResp.ResolvedPathResult.resolved_path", &wire.Msg{Body: &wire.Body{MsgBody: &wire.Body_Response{Response: &wire.Response{
			RespType: &wire.Response_GetResp{GetResp: &wire.GetResp{ReqPathResults: []*wire.GetResp_RequestedPathResult{{
				RequestedPath: "Device.", ResolvedPathResults: []*wire.GetResp_ResolvedPathResult{{ResolvedPath: bad}}}}}}}}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := wire.MarshalMsg(tc.msg)
			if !errors.Is(err, wire.ErrInvalidUTF8) || !strings.Contains(err.Error(), tc.field) {
				t.Fatalf("MarshalMsg: %v, want ErrInvalidUTF8 naming %s", err, tc.field)
			}
			data, err := tc.msg.MarshalVT() // the generated encoder does not check
			if err != nil {
				t.Fatal(err)
			}
			var m wire.Msg
			if err := wire.UnmarshalMsg(data, &m); err == nil {
				t.Fatal("UnmarshalMsg accepted it")
			}
		})
	}
}

// TestCheckUnknown checks, in both builds, that unknown fields are kept and
// written back, and that one whose field number is out of range (which the
// generated decoder alone would keep) is refused.
func TestCheckUnknown(t *testing.T) {
	good, err := wire.MarshalMsg(getMsg("Device."))
	if err != nil {
		t.Fatal(err)
	}
	unknown := protowire.AppendVarint(protowire.AppendTag(nil, 99, protowire.VarintType), 7)
	var m wire.Msg
	if err := wire.UnmarshalMsg(append(good[:len(good):len(good)], unknown...), &m); err != nil {
		t.Fatal(err)
	}
	out, err := wire.MarshalMsg(&m)
	if err != nil || string(out) != string(good)+string(unknown) {
		t.Fatalf("unknown field not kept: %x, %v", out, err)
	}
	// Field number 2^29 (one past the largest) as a varint tag.
	tooBig := protowire.AppendVarint(nil, uint64(protowire.MaxValidNumber+1)<<3|uint64(protowire.VarintType))
	tooBig = protowire.AppendVarint(tooBig, 1)
	if err := wire.UnmarshalMsg(append(good[:len(good):len(good)], tooBig...), &m); err == nil {
		t.Fatal("UnmarshalMsg accepted a field number out of range")
	}
}

// TestWrongWireType checks the one difference between the builds: a known
// field with another wire type than its own, kept as unknown by
// proto.Unmarshal (the protobuf build), refused by the usp_noproto build.
func TestWrongWireType(t *testing.T) {
	// Header.msg_id (field 1, a string) as a varint.
	header := protowire.AppendVarint(protowire.AppendTag(nil, 1, protowire.VarintType), 5)
	b := protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), header)
	var m wire.Msg
	err := wire.UnmarshalMsg(b, &m)
	if acceptsWrongWireType && err != nil {
		t.Fatalf("protobuf build: %v", err)
	}
	if !acceptsWrongWireType && err == nil {
		t.Fatal("usp_noproto build accepted it")
	}
}
