//go:build !usp_noproto

package wire_test

// acceptsWrongWireType: the protobuf build decodes such input again with
// proto.Unmarshal, which keeps the field as unknown.
const acceptsWrongWireType = true
