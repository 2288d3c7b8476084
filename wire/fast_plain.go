//go:build usp_noproto

package wire

import "fmt"

// UnmarshalMsg decodes b into m with the generated decoder, after the
// generated walker (walkMsg, usp_msg_check.go) has checked b as
// proto.Unmarshal does: strings valid UTF-8 (which proto3 forbids
// otherwise), tags and values well formed, unknown fields and map entries
// included.
//
// This is the usp_noproto build, without the protobuf runtime, where it
// differs from proto.Unmarshal in one respect: a known field that comes
// with another wire type than its own (which proto.Unmarshal keeps as an
// unknown field) is an error here. The protobuf build decodes such input
// again with proto.Unmarshal. Every other input is accepted or refused
// alike, and decodes to the same message (TestPlainCodecGolden).
func UnmarshalMsg(b []byte, m *Msg) error {
	m.Reset()
	if err := walkMsg(b); err != nil {
		return err
	}
	if err := m.UnmarshalVT(b); err != nil {
		m.Reset()
		return fmt.Errorf("wire: %w", err)
	}
	return nil
}

// MarshalMsg encodes m with the generated encoder, rejecting what
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
