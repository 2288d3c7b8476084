//go:build !usp_noproto

package record_test

import (
	"bytes"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"google.golang.org/protobuf/proto"

	"github.com/uspkit/uspkit/record"
	"github.com/uspkit/uspkit/wire"
)

// FuzzDecode checks Decode against protobuf's own decoder on arbitrary
// input: both accept or both reject, they agree on every field, and an
// accepted Record survives Validate, MarshalJSON and a re-encoding.
func FuzzDecode(f *testing.F) {
	for _, name := range goldenRecords(f) {
		f.Add(readFile(f, name+".bin"))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var got record.Record
		err := record.Decode(b, &got, nil)
		var want wire.Record
		perr := proto.Unmarshal(b, &want)
		if (err == nil) != (perr == nil) {
			t.Fatalf("Decode error %v, protobuf error %v", err, perr)
		}
		if err != nil {
			return
		}
		if diff := cmp.Diff(record.FromWire(&want), &got, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("differs from protobuf (-proto +ours):\n%s", diff)
		}
		_ = got.Validate()
		_, _ = got.MarshalJSON()
		enc, err := got.AppendBinary(nil)
		if err != nil {
			t.Fatal(err)
		}
		var again record.Record
		if err := record.Decode(enc, &again, nil); err != nil {
			t.Fatalf("re-encoding does not decode: %v", err)
		}
		enc2, _ := again.AppendBinary(nil)
		if !bytes.Equal(enc, enc2) {
			t.Fatal("encoding is not stable")
		}
	})
}
