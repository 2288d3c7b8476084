// Command plaingen derives, from the Go code protoc-gen-go and
// protoc-gen-go-vtproto generate for the USP schemas, the plain form of
// package wire that the usp_noproto build uses: the same exported types,
// fields, oneof wrappers, getters and enums, without the protobuf runtime
// (no protoimpl.MessageState, ProtoReflect, descriptors or file
// registration). It also writes the checks wire.UnmarshalMsg and
// wire.MarshalMsg make in both builds, what protobuf-go's decoder and
// encoder check and the generated codec does not (UTF-8, tags and values
// of unknown fields, wire types in map entries), and prepares the
// generated files for the two builds:
//
//   - X.pb.go gets the constraint `//go:build !usp_noproto`;
//   - X_plain.go (`//go:build usp_noproto`) holds the plain types;
//   - X_check.go (both builds, with -check) holds the checks: a method
//     checkUTF8 per message and a function walkNAME per message and map
//     entry, which reads an encoding without decoding it;
//   - X_vtproto.pb.go loses its protoimpl version assertion and the
//     CloneMessageVT methods (which return a proto.Message), so that the
//     vtprotobuf codec and clone compile in both builds.
//
// It is run by wire/gen.sh after protoc:
//
//	go run ./internal/plaingen -check usp_msg
//	go run ./internal/plaingen usp_record
package main
