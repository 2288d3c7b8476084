//go:build !usp_noproto

package record_test

import (
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/uspkit/uspkit/record"
	"github.com/uspkit/uspkit/wire"
)

// getResp20 is the golden Record carrying a GetResp with 20 parameters,
// encoded by protoc.
func getResp20(tb testing.TB) []byte {
	return readFile(tb, "testdata/golden/nosession_getresp20.record.bin")
}

// The pairs below measure, in one run, this package against a plain
// proto.Unmarshal / proto.Marshal of the same bytes (see docs/perf.md).

func BenchmarkDecodeRecord(b *testing.B) {
	in := getResp20(b)
	var r record.Record
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		if err := record.Decode(in, &r, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeRecordProto(b *testing.B) {
	in := getResp20(b)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		var w wire.Record
		if err := proto.Unmarshal(in, &w); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeRecordAndMsg(b *testing.B) {
	in := getResp20(b)
	var r record.Record
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		if err := record.Decode(in, &r, nil); err != nil {
			b.Fatal(err)
		}
		var m wire.Msg
		if err := proto.Unmarshal(r.Payload, &m); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeRecordAndMsgProto(b *testing.B) {
	in := getResp20(b)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		var w wire.Record
		if err := proto.Unmarshal(in, &w); err != nil {
			b.Fatal(err)
		}
		var m wire.Msg
		if err := proto.Unmarshal(w.GetNoSessionContext().GetPayload(), &m); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeRecord(b *testing.B) {
	var r record.Record
	if err := record.Decode(getResp20(b), &r, nil); err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 0, 4096)
	b.SetBytes(int64(r.Size()))
	b.ReportAllocs()
	for b.Loop() {
		out, err := r.AppendBinary(buf[:0])
		if err != nil {
			b.Fatal(err)
		}
		buf = out
	}
}

func BenchmarkEncodeRecordProto(b *testing.B) {
	var w wire.Record
	if err := proto.Unmarshal(getResp20(b), &w); err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 0, 4096)
	b.SetBytes(int64(proto.Size(&w)))
	b.ReportAllocs()
	for b.Loop() {
		out, err := proto.MarshalOptions{}.MarshalAppend(buf[:0], &w)
		if err != nil {
			b.Fatal(err)
		}
		buf = out
	}
}

// TestAllocs guards the hot paths: decoding into a reused Record costs one
// allocation (all its strings share it) and encoding into a buffer with room
// costs none.
func TestAllocs(t *testing.T) {
	in := getResp20(t)
	var r record.Record
	if n := testing.AllocsPerRun(100, func() { _ = record.Decode(in, &r, nil) }); n > 1 {
		t.Errorf("Decode allocates %v times, want <= 1", n)
	}
	buf := make([]byte, 0, 4096)
	if n := testing.AllocsPerRun(100, func() { buf, _ = r.AppendBinary(buf[:0]) }); n != 0 {
		t.Errorf("AppendBinary allocates %v times, want 0", n)
	}
}
