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
// With the build tag usp_noproto (the Agent's device build) the package
// links no protobuf runtime: the same types, fields, oneof wrappers,
// getters and enums are generated as plain Go (*_plain.go, written by
// internal/plaingen from the protoc-gen-go output, which that build leaves
// out), and the vtprotobuf methods (MarshalVT, UnmarshalVT, SizeVT,
// CloneVT) do all the work. What it lacks: ProtoReflect and the
// descriptors, so proto.Marshal, protojson and prototext do not take its
// messages, and a message has no String method. UnmarshalMsg there refuses
// a known field that comes with another wire type than its own, which
// proto.Unmarshal keeps as unknown; everything else is accepted, refused
// and encoded alike (TestPlainCodecGolden checks it on golden vectors
// produced by the protobuf build). Code that the device build links calls
// UnmarshalMsg, MarshalMsg and CloneVT, never the proto package.
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
