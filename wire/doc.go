// Package wire holds the USP protocol buffer schemas and the Go types
// generated from them: Msg (requests, responses, notifications, errors) and
// Record (the envelope that carries a Msg between Endpoints).
//
// The .proto files in this directory are wire-compatible with TR-369 1.3
// (plus the 1.4 unique-key-set additions, which older peers ignore). The
// generated code is committed; `go generate ./wire` reproduces it byte for
// byte with protoc 3.21.12 and the protoc-gen-go and protoc-gen-go-vtproto
// versions pinned in go.mod.
//
// Besides the standard protobuf code, every type has generated MarshalVT,
// UnmarshalVT and SizeVT methods (vtprotobuf), which encode and decode
// without reflection. UnmarshalMsg and MarshalMsg use them for a Msg and
// accept and refuse exactly what proto.Unmarshal and proto.Marshal do
// (TestFastCodecMatchesProto and FuzzFastCodec compare them).
//
// Most code should not build Records by hand: package record validates and
// encodes them, and appends to a caller's buffer.
//
//	msg := &wire.Msg{
//		Header: &wire.Header{MsgId: "1", MsgType: wire.Header_GET},
//		Body: &wire.Body{MsgBody: &wire.Body_Request{Request: &wire.Request{
//			ReqType: &wire.Request_Get{Get: &wire.Get{ParamPaths: []string{"Device.DeviceInfo."}}},
//		}}},
//	}
package wire

//go:generate sh gen.sh
