//go:build usp_noproto

package wire_test

import (
	"os"
	"testing"

	"github.com/uspkit/uspkit/wire"
)

// BenchmarkDecode is fast_bench_test.go's benchmark in the usp_noproto
// build, where only the generated decoder exists (the same names, to
// compare the two builds).
func BenchmarkDecode(b *testing.B) {
	for _, name := range []string{"get.msg.bin", "getresp20.msg.bin"} {
		data, err := os.ReadFile("../record/testdata/golden/" + name)
		if err != nil {
			b.Fatal(err)
		}
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

// BenchmarkEncode is fast_bench_test.go's benchmark in the usp_noproto
// build.
func BenchmarkEncode(b *testing.B) {
	for _, name := range []string{"get.msg.bin", "getresp20.msg.bin"} {
		data, err := os.ReadFile("../record/testdata/golden/" + name)
		if err != nil {
			b.Fatal(err)
		}
		var m wire.Msg
		if err := wire.UnmarshalMsg(data, &m); err != nil {
			b.Fatal(err)
		}
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
