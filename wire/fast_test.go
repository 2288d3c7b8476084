//go:build !usp_noproto

package wire_test

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/uspkit/uspkit/wire"
)

// corpus returns the golden Msg vectors and the Msg inputs of the fuzz
// corpora that exist in the repository.
func corpus(t testing.TB) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	golden, _ := filepath.Glob("../record/testdata/golden/*.msg.bin")
	for _, f := range golden {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[f] = b
	}
	fuzz, _ := filepath.Glob("../*/testdata/fuzz/*/*")
	for _, f := range fuzz {
		if !strings.Contains(f, "FuzzDispatch") && !strings.Contains(f, "FuzzDecode") && !strings.Contains(f, "FuzzFastCodec") {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Buffer(nil, 1<<20)
		for i := 0; sc.Scan(); i++ {
			line := sc.Text()
			if s, ok := strings.CutPrefix(line, "[]byte("); ok {
				if v, err := strconv.Unquote(strings.TrimSuffix(s, ")")); err == nil {
					out[f+"#"+strconv.Itoa(i)] = []byte(v)
				}
			}
		}
	}
	if len(golden) == 0 || len(out) == len(golden) {
		t.Fatalf("corpus: %d golden vectors, %d inputs in all", len(golden), len(out))
	}
	return out
}

// multiMap reports whether m holds a map with more than one entry, whose
// order neither encoder fixes.
func multiMap(m protoreflect.Message) bool {
	found := false
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.IsMap():
			found = v.Map().Len() > 1
		case fd.IsList() && fd.Message() != nil:
			for i := 0; i < v.List().Len() && !found; i++ {
				found = multiMap(v.List().Get(i).Message())
			}
		case fd.Message() != nil:
			found = multiMap(v.Message())
		}
		return !found
	})
	return found
}

// canonical decodes m's encoding again with proto.Unmarshal, which writes
// the tag of an unknown field in its shortest form (the generated decoder
// keeps the bytes it read).
func canonical(t *testing.T, m *wire.Msg) *wire.Msg {
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var out wire.Msg
	if err := proto.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return &out
}

// checkSame checks that the generated codec reads data as proto.Unmarshal
// does and writes what proto.Marshal writes.
func checkSame(t *testing.T, data []byte) {
	var std, fast wire.Msg
	errStd := proto.Unmarshal(data, &std)
	errFast := wire.UnmarshalMsg(data, &fast)
	if (errStd == nil) != (errFast == nil) {
		t.Fatalf("proto.Unmarshal: %v; UnmarshalMsg: %v", errStd, errFast)
	}
	if errStd != nil {
		return
	}
	if !proto.Equal(&std, &fast) && !proto.Equal(&std, canonical(t, &fast)) {
		t.Fatalf("decoded differently:\n%v\n%v", &std, &fast)
	}
	want, errStd := proto.Marshal(&std)
	got, errFast := wire.MarshalMsg(&std)
	if errStd != nil || errFast != nil {
		t.Fatalf("proto.Marshal: %v; MarshalMsg: %v", errStd, errFast)
	}
	if multiMap(std.ProtoReflect()) {
		var back wire.Msg
		if len(got) != len(want) || proto.Unmarshal(got, &back) != nil || !proto.Equal(&back, &std) {
			t.Fatalf("encoded differently: %x, want %x", got, want)
		}
		return
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("encoded differently: %x, want %x", got, want)
	}
}

// TestFastCodecMatchesProto runs the generated codec and the standard one
// on the golden vectors and the fuzz corpora.
func TestFastCodecMatchesProto(t *testing.T) {
	for name, data := range corpus(t) {
		t.Run(filepath.Base(name), func(t *testing.T) { checkSame(t, data) })
	}
}

// TestFastCodecUTF8 checks that a string that is not valid UTF-8 is
// refused by the generated codec as by the standard one.
func TestFastCodecUTF8(t *testing.T) {
	bad := "Device.\xff."
	tests := []struct {
		name string
		msg  *wire.Msg
	}{
		{"header", &wire.Msg{Header: &wire.Header{MsgId: bad}}},
		{"list", &wire.Msg{Body: &wire.Body{MsgBody: &wire.Body_Request{Request: &wire.Request{ReqType: &wire.Request_Get{Get: &wire.Get{ParamPaths: []string{"Device.", bad}}}}}}}},
		{"map value", &wire.Msg{Body: &wire.Body{MsgBody: &wire.Body_Request{Request: &wire.Request{ReqType: &wire.Request_Operate{Operate: &wire.Operate{Command: "Device.X()", InputArgs: map[string]string{"A": bad}}}}}}}},
		{"map key", &wire.Msg{Body: &wire.Body{MsgBody: &wire.Body_Request{Request: &wire.Request{ReqType: &wire.Request_Operate{Operate: &wire.Operate{Command: "Device.X()", InputArgs: map[string]string{bad: "1"}}}}}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := proto.Marshal(tc.msg); err == nil {
				t.Fatal("proto.Marshal accepted it")
			}
			if _, err := wire.MarshalMsg(tc.msg); !errors.Is(err, wire.ErrInvalidUTF8) {
				t.Fatalf("MarshalMsg: %v, want ErrInvalidUTF8", err)
			}
			data, err := tc.msg.MarshalVT() // the generated encoder does not check
			if err != nil {
				t.Fatal(err)
			}
			var m wire.Msg
			if err := wire.UnmarshalMsg(data, &m); err == nil {
				t.Fatal("UnmarshalMsg accepted it")
			}
			if err := proto.Unmarshal(data, &m); err == nil {
				t.Fatal("proto.Unmarshal accepted it")
			}
		})
	}
}

// FuzzFastCodec checks the generated codec against the standard one on
// arbitrary input.
func FuzzFastCodec(f *testing.F) {
	for _, data := range corpus(f) {
		f.Add(data)
	}
	f.Fuzz(checkSame)
}

// TestMapEntryWireType checks a map entry whose key comes with another
// wire type than its own: proto.Unmarshal skips it as unknown, the
// generated decoder would read it as a string length (the walker sends
// such input to proto.Unmarshal).
func TestMapEntryWireType(t *testing.T) {
	// key 2 (a varint), value "", value "v": {"": "v"} for proto.Unmarshal;
	// the generated decoder would take the two bytes after the 2 as the key.
	entry := protowire.AppendVarint(protowire.AppendTag(nil, 1, protowire.VarintType), 2)
	entry = protowire.AppendString(protowire.AppendTag(entry, 2, protowire.BytesType), "")
	entry = protowire.AppendString(protowire.AppendTag(entry, 2, protowire.BytesType), "v")
	op := protowire.AppendString(protowire.AppendTag(nil, 1, protowire.BytesType), "Device.X()")
	op = protowire.AppendBytes(protowire.AppendTag(op, 4, protowire.BytesType), entry)
	req := protowire.AppendBytes(protowire.AppendTag(nil, 7, protowire.BytesType), op) // Request.operate
	body := protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), req)
	data := protowire.AppendBytes(protowire.AppendTag(nil, 2, protowire.BytesType), body)
	checkSame(t, data)
	var m wire.Msg
	if err := wire.UnmarshalMsg(data, &m); err != nil {
		t.Fatal(err)
	}
	if got := m.GetBody().GetRequest().GetOperate().GetInputArgs(); len(got) != 1 || got[""] != "v" {
		t.Fatalf("input_args %q, want \"\": v", got)
	}
}
