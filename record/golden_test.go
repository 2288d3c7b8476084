//go:build !usp_noproto

package record_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/uspkit/uspkit/record"
	"github.com/uspkit/uspkit/wire"
)

// goldenRecords returns the names of the golden Record vectors, which were
// encoded by protoc from the published TR-369 schema.
func goldenRecords(t testing.TB) []string {
	t.Helper()
	files, err := filepath.Glob("testdata/golden/*.record.bin")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden records: %v", err)
	}
	for i, f := range files {
		files[i] = strings.TrimSuffix(f, ".bin")
	}
	return files
}

func readFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestGoldenDecode(t *testing.T) {
	for _, name := range goldenRecords(t) {
		t.Run(filepath.Base(name), func(t *testing.T) {
			bin := readFile(t, name+".bin")
			var want wire.Record
			if err := prototext.Unmarshal(readFile(t, name+".txtpb"), &want); err != nil {
				t.Fatal(err)
			}
			var got record.Record
			if err := record.Decode(bin, &got, nil); err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if diff := cmp.Diff(&want, got.Wire(), protocmp.Transform()); diff != "" {
				t.Errorf("decoded record differs from its text (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(record.FromWire(&want), &got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("FromWire differs from Decode (-want +got):\n%s", diff)
			}
		})
	}
}

// TestGoldenEncode checks that records re-encode to protoc's exact bytes:
// Records have no maps, so their canonical encoding is unique.
func TestGoldenEncode(t *testing.T) {
	for _, name := range goldenRecords(t) {
		t.Run(filepath.Base(name), func(t *testing.T) {
			bin := readFile(t, name+".bin")
			var r record.Record
			if err := record.Decode(bin, &r, nil); err != nil {
				t.Fatal(err)
			}
			prefix := []byte("prefix")
			out, err := r.AppendBinary(prefix)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(out, prefix) {
				t.Fatal("AppendBinary did not keep dst")
			}
			if got := out[len(prefix):]; !bytes.Equal(got, bin) {
				t.Errorf("encoding differs from protoc's:\n got %x\nwant %x", got, bin)
			}
			if r.Size() != len(bin) {
				t.Errorf("Size() = %d, want %d", r.Size(), len(bin))
			}
			viaProto, err := proto.MarshalOptions{Deterministic: true}.Marshal(r.Wire())
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(viaProto, bin) {
				t.Errorf("wire.Record encoding differs from protoc's")
			}
		})
	}
}

// TestGoldenMsgs checks that the generated Msg types read every golden Msg to
// the fields of its text.
func TestGoldenMsgs(t *testing.T) {
	files, _ := filepath.Glob("testdata/golden/*.msg.bin")
	if len(files) == 0 {
		t.Fatal("no golden msgs")
	}
	for _, f := range files {
		name := strings.TrimSuffix(f, ".bin")
		t.Run(filepath.Base(name), func(t *testing.T) {
			var want, got wire.Msg
			if err := prototext.Unmarshal(readFile(t, name+".txtpb"), &want); err != nil {
				t.Fatal(err)
			}
			if err := proto.Unmarshal(readFile(t, f), &got); err != nil {
				t.Fatal(err)
			}
			if len(got.ProtoReflect().GetUnknown()) != 0 {
				t.Error("schema left fields unknown")
			}
			if diff := cmp.Diff(&want, &got, protocmp.Transform()); diff != "" {
				t.Errorf("(-text +binary):\n%s", diff)
			}
		})
	}
}
