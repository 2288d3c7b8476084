//go:build !usp_noproto

package wire_test

import (
	"os"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/uspkit/uspkit/wire"
)

func benchMsg(b *testing.B, name string) []byte {
	data, err := os.ReadFile("../record/testdata/golden/" + name)
	if err != nil {
		b.Fatal(err)
	}
	return data
}

// BenchmarkDecode compares the standard decoder with the generated one on
// a Get request and a GetResp of 20 parameters.
func BenchmarkDecode(b *testing.B) {
	for _, name := range []string{"get.msg.bin", "getresp20.msg.bin"} {
		data := benchMsg(b, name)
		b.Run(name+"/proto", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var m wire.Msg
				if err := proto.Unmarshal(data, &m); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/vt", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var m wire.Msg
				if err := wire.UnmarshalMsg(data, &m); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkEncode compares the standard encoder with the generated one.
func BenchmarkEncode(b *testing.B) {
	for _, name := range []string{"get.msg.bin", "getresp20.msg.bin"} {
		var m wire.Msg
		if err := proto.Unmarshal(benchMsg(b, name), &m); err != nil {
			b.Fatal(err)
		}
		b.Run(name+"/proto", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := proto.Marshal(&m); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/vt", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := wire.MarshalMsg(&m); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
