//go:build !usp_noproto

package wire

import (
	"fmt"

	"google.golang.org/protobuf/proto"
)

// UnmarshalMsg decodes b into m with the generated fast decoder, and
// accepts and refuses exactly what proto.Unmarshal does: input that the
// generated walker (walkMsg, usp_msg_check.go) or the fast decoder
// refuses is decoded again by proto.Unmarshal, whose result is returned.
// That is a field with another wire type than its own (which the standard
// decoder keeps as unknown), malformed input the fast decoder lets through
// (a field number out of range, a varint too long, a group not closed, in
// an unknown field or a map entry) and a string that is not valid UTF-8
// (which proto3 forbids and the fast decoder does not check). Unknown
// fields are kept as read (proto.Unmarshal writes their tags in the
// shortest form).
//
// In the usp_noproto build (no protobuf runtime) the input the fast
// decoder refuses is an error instead (see fast_plain.go).
func UnmarshalMsg(b []byte, m *Msg) error {
	m.Reset()
	if walkMsg(b) == nil && m.UnmarshalVT(b) == nil {
		return nil
	}
	m.Reset()
	if err := proto.Unmarshal(b, m); err != nil {
		return fmt.Errorf("wire: %w", err)
	}
	return nil
}

// MarshalMsg encodes m with the generated fast encoder, rejecting what
// proto.Marshal rejects (string fields that are not valid UTF-8). Its
// bytes are those of proto.Marshal, except that the entries of a map with
// more than one entry may come in another order (neither orders them).
func MarshalMsg(m *Msg) ([]byte, error) {
	if err := m.checkUTF8(); err != nil {
		return nil, err
	}
	b, err := m.MarshalVT()
	if err != nil {
		return nil, fmt.Errorf("wire: %w", err)
	}
	return b, nil
}
