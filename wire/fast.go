package wire

import (
	"errors"
	"fmt"
	"sync"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// ErrInvalidUTF8 is returned for a string field that is not valid UTF-8,
// which proto3 forbids.
var ErrInvalidUTF8 = errors.New("wire: string field is not valid UTF-8")

var errMalformed = errors.New("wire: malformed encoding")

// msgDesc is Msg's descriptor (looked up after the package's init).
var msgDesc = sync.OnceValue(func() protoreflect.MessageDescriptor {
	return File_usp_msg_proto.Messages().ByName("Msg")
})

// UnmarshalMsg decodes b into m with the generated fast decoder, and
// accepts and refuses exactly what proto.Unmarshal does: input the fast
// decoder refuses (a field with another wire type than its own, which the
// standard decoder keeps as unknown), that is malformed (a field number out
// of range) or that holds a string that is not valid UTF-8 (which proto3
// forbids and the fast decoder does not check) is decoded again by
// proto.Unmarshal, whose result is returned. Unknown fields are kept as
// read (proto.Unmarshal writes their tags in the shortest form).
func UnmarshalMsg(b []byte, m *Msg) error {
	proto.Reset(m)
	if m.UnmarshalVT(b) == nil && validUTF8(b, msgDesc()) == nil {
		return nil
	}
	proto.Reset(m)
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
	b, err := m.MarshalVT()
	if err != nil {
		return nil, fmt.Errorf("wire: %w", err)
	}
	if err := validUTF8(b, msgDesc()); err != nil {
		return nil, err
	}
	return b, nil
}

// validUTF8 reports a string field of the encoded message b, of type md,
// or of the messages nested in it, that is not valid UTF-8, and malformed
// input. It reads the encoding in place, without allocating.
func validUTF8(b []byte, md protoreflect.MessageDescriptor) error {
	fields := md.Fields()
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 || !num.IsValid() {
			return errMalformed
		}
		b = b[n:]
		if typ != protowire.BytesType {
			n = protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return errMalformed
			}
			b = b[n:]
			continue
		}
		v, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return errMalformed
		}
		b = b[n:]
		fd := fields.ByNumber(num)
		if fd == nil {
			continue
		}
		switch fd.Kind() {
		case protoreflect.StringKind:
			if !utf8.Valid(v) {
				return fmt.Errorf("%w: %s", ErrInvalidUTF8, fd.FullName())
			}
		case protoreflect.MessageKind:
			if err := validUTF8(v, fd.Message()); err != nil {
				return err
			}
		}
	}
	return nil
}
