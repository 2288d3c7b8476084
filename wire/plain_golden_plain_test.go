//go:build usp_noproto

package wire_test

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/uspkit/uspkit/wire"
)

// TestPlainCodecGolden checks the usp_noproto build against the vectors
// the protobuf build wrote to testdata/plain.golden (plain_golden_test.go):
// it accepts and refuses the same input, except a field with another wire
// type (which only proto.Unmarshal accepts), and writes the same bytes
// after decoding; CloneVT copies a message to one that encodes the same.
func TestPlainCodecGolden(t *testing.T) {
	f, err := os.Open("testdata/plain.golden")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<22)
	n := 0
	for sc.Scan() {
		fs := strings.Split(sc.Text(), " ")
		if len(fs) != 4 {
			t.Fatalf("malformed line %q", sc.Text())
		}
		name, kind := fs[0], fs[1]
		in, err1 := hex.DecodeString(fs[2])
		want, err2 := hex.DecodeString(fs[3])
		if err1 != nil || err2 != nil {
			t.Fatalf("%s: %v %v", name, err1, err2)
		}
		n++
		t.Run(name, func(t *testing.T) {
			var m wire.Msg
			err := wire.UnmarshalMsg(in, &m)
			switch kind {
			case "error", "fallback":
				if err == nil {
					t.Fatalf("accepted (%s in the protobuf build)", kind)
				}
				return
			}
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			got, err := wire.MarshalMsg(&m)
			if err != nil {
				t.Fatal(err)
			}
			clone, err := wire.MarshalMsg(m.CloneVT())
			if err != nil {
				t.Fatal(err)
			}
			if kind == "multimap" {
				var a, b wire.Msg
				if len(got) != len(want) || wire.UnmarshalMsg(got, &a) != nil || wire.UnmarshalMsg(want, &b) != nil || !reflect.DeepEqual(&a, &b) {
					t.Fatalf("encoded differently: %x, want %x", got, want)
				}
				return
			}
			if !bytes.Equal(got, want) || !bytes.Equal(clone, want) {
				t.Fatalf("encoded differently: %x (clone %x), want %x", got, clone, want)
			}
		})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if n < 50 {
		t.Fatalf("%d vectors", n)
	}
}

// TestPlainEnumString checks the plain enums' String: the name, or the
// number when it has none (as protobuf-go writes it).
func TestPlainEnumString(t *testing.T) {
	for _, tc := range []struct {
		v    wire.Header_MsgType
		want string
	}{{wire.Header_GET, "GET"}, {wire.Header_DEREGISTER_RESP, "DEREGISTER_RESP"}, {99, "99"}} {
		if got := tc.v.String(); got != tc.want {
			t.Errorf("%d: %q, want %q", int32(tc.v), got, tc.want)
		}
	}
}
