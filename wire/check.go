package wire

import (
	"errors"
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
)

// ErrInvalidUTF8 is returned for a string field that is not valid UTF-8,
// which proto3 forbids.
var ErrInvalidUTF8 = errors.New("wire: string field is not valid UTF-8")

var errMalformed = errors.New("wire: malformed encoding")

// utf8Error names the field, by its full protobuf name, whose string is
// not valid UTF-8.
func utf8Error(field string) error {
	return fmt.Errorf("%w: %s", ErrInvalidUTF8, field)
}

// errWireType is a known field that comes with another wire type than its
// own (proto.Unmarshal keeps it as an unknown field).
var errWireType = errors.New("wire: a field with another wire type than its own")

// The helpers of the generated walkers (usp_msg_check.go): each consumes
// one tag or one field's value from the front of *b.

func consumeTag(b *[]byte) (protowire.Number, protowire.Type, error) {
	num, typ, n := protowire.ConsumeTag(*b)
	if n < 0 || !num.IsValid() {
		return 0, 0, errMalformed
	}
	*b = (*b)[n:]
	return num, typ, nil
}

func consumeBytesField(typ protowire.Type, b *[]byte) ([]byte, error) {
	if typ != protowire.BytesType {
		return nil, errWireType
	}
	v, n := protowire.ConsumeBytes(*b)
	if n < 0 {
		return nil, errMalformed
	}
	*b = (*b)[n:]
	return v, nil
}

// consumeScalarField consumes a number of wire type want (or, repeated, a
// packed list of them).
func consumeScalarField(num protowire.Number, typ, want protowire.Type, repeated bool, b *[]byte) error {
	if typ != want && (!repeated || typ != protowire.BytesType) {
		return errWireType
	}
	return consumeUnknownField(num, typ, b)
}

func consumeUnknownField(num protowire.Number, typ protowire.Type, b *[]byte) error {
	n := protowire.ConsumeFieldValue(num, typ, *b)
	if n < 0 {
		return errMalformed
	}
	*b = (*b)[n:]
	return nil
}
