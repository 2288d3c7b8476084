//go:build !usp_noproto

package wire

import (
	"fmt"
	"os"
	"testing"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// descriptorWalk is how UnmarshalMsg checked an encoding before walkMsg:
// through the message descriptors of the protobuf runtime. It is kept
// here to compare the two (BenchmarkWalk).
func descriptorWalk(b []byte, md protoreflect.MessageDescriptor) error {
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
			if err := descriptorWalk(v, fd.Message()); err != nil {
				return err
			}
		}
	}
	return nil
}

// BenchmarkWalk compares the generated walker with the descriptor walk it
// replaced, on a Get and a GetResp of 20 parameters.
func BenchmarkWalk(b *testing.B) {
	md := File_usp_msg_proto.Messages().ByName("Msg")
	for _, name := range []string{"get.msg.bin", "getresp20.msg.bin"} {
		data, err := os.ReadFile("../record/testdata/golden/" + name)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(name+"/generated", func(b *testing.B) {
			for b.Loop() {
				if err := walkMsg(data); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/descriptors", func(b *testing.B) {
			for b.Loop() {
				if err := descriptorWalk(data, md); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
