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

// checkUnknown reports malformed unknown fields: a tag whose field number
// is out of range (the generated decoder keeps those the standard decoder
// refuses) or a value that does not parse.
func checkUnknown(b []byte) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 || !num.IsValid() {
			return errMalformed
		}
		b = b[n:]
		n = protowire.ConsumeFieldValue(num, typ, b)
		if n < 0 {
			return errMalformed
		}
		b = b[n:]
	}
	return nil
}
