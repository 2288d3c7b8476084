//go:build !usp_noproto

package wire_test

import (
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/uspkit/uspkit/wire"
)

var update = flag.Bool("update", false, "rewrite testdata/plain.golden from the protobuf build")

// fill sets every field of m: scalars to a value that is not the default,
// strings to text with a non-ASCII letter, one element in lists and maps,
// and in each oneof the option that choice picks at that depth (the first
// oneof met along a path uses choice[0], a oneof under it choice[1], and
// so on). Messages are filled down to a depth of 8.
func fill(m protoreflect.Message, depth int, choice []int) {
	md := m.Descriptor()
	oneofs := md.Oneofs()
	skip := map[protoreflect.FullName]bool{}
	for i := 0; i < oneofs.Len(); i++ {
		od := oneofs.Get(i)
		fs := od.Fields()
		c := 0
		if len(choice) > 0 {
			c = choice[0] % fs.Len()
		}
		for j := 0; j < fs.Len(); j++ {
			if j != c {
				skip[fs.Get(j).FullName()] = true
			}
		}
	}
	fields := md.Fields()
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		if skip[fd.FullName()] {
			continue
		}
		rest := choice
		if fd.ContainingOneof() != nil && len(rest) > 0 {
			rest = rest[1:]
		}
		switch {
		case fd.IsMap():
			mp := m.Mutable(fd).Map()
			k := scalar(fd.MapKey(), i)
			if fd.MapValue().Kind() == protoreflect.MessageKind {
				v := mp.NewValue()
				if depth < 8 {
					fill(v.Message(), depth+1, rest)
				}
				mp.Set(k.MapKey(), v)
			} else {
				mp.Set(k.MapKey(), scalar(fd.MapValue(), i+1))
			}
		case fd.IsList():
			l := m.Mutable(fd).List()
			if fd.Kind() == protoreflect.MessageKind {
				v := l.NewElement()
				if depth < 8 {
					fill(v.Message(), depth+1, rest)
				}
				l.Append(v)
			} else {
				l.Append(scalar(fd, i))
			}
		case fd.Kind() == protoreflect.MessageKind:
			v := m.Mutable(fd).Message()
			if depth < 8 {
				fill(v, depth+1, rest)
			}
		default:
			m.Set(fd, scalar(fd, i))
		}
	}
}

// scalar is a value of fd's kind that is not its default.
func scalar(fd protoreflect.FieldDescriptor, i int) protoreflect.Value {
	switch fd.Kind() {
	case protoreflect.StringKind:
		return protoreflect.ValueOfString(fmt.Sprintf("%s.%d·é", fd.Name(), i))
	case protoreflect.BytesKind:
		return protoreflect.ValueOfBytes([]byte{0, byte(i), 0xff})
	case protoreflect.BoolKind:
		return protoreflect.ValueOfBool(true)
	case protoreflect.EnumKind:
		vs := fd.Enum().Values()
		return protoreflect.ValueOfEnum(vs.Get(vs.Len() - 1).Number())
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return protoreflect.ValueOfInt32(int32(-1000 - i))
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return protoreflect.ValueOfInt64(int64(-1) << 40)
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return protoreflect.ValueOfUint32(uint32(70000 + i))
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return protoreflect.ValueOfUint64(uint64(1) << 50)
	case protoreflect.FloatKind:
		return protoreflect.ValueOfFloat32(1.5)
	case protoreflect.DoubleKind:
		return protoreflect.ValueOfFloat64(2.25)
	}
	panic("kind " + fd.Kind().String())
}

// representatives are filled Msgs and Records for every combination of
// oneof options down to four oneofs deep, each encoding once.
func representatives(t *testing.T) [][]byte {
	var out [][]byte
	seen := map[string]bool{}
	add := func(m proto.Message) {
		b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		if !seen[string(b)] {
			seen[string(b)] = true
			out = append(out, b)
		}
	}
	for a := range 3 {
		for b := range 11 {
			for c := range 6 {
				for d := range 3 {
					m := &wire.Msg{}
					fill(m.ProtoReflect(), 0, []int{a, b, c, d})
					add(m)
				}
			}
		}
	}
	add(&wire.Msg{})
	return out
}

// goldenLine is one vector of testdata/plain.golden: its name, what the
// protobuf build does with it, the input and (for ok and multimap) what
// wire.MarshalMsg writes after wire.UnmarshalMsg.
//
//	ok        the generated decoder accepts it; the output is byte for byte
//	multimap  as ok, but a map of more than one entry may come in any order
//	fallback  only proto.Unmarshal accepts it (a field with another wire type)
//	error     both refuse it
func goldenLines(t *testing.T) []string {
	type vec struct {
		name string
		in   []byte
	}
	var vecs []vec
	for name, in := range corpus(t) {
		vecs = append(vecs, vec{strings.TrimPrefix(name, "../"), in})
	}
	slices.SortFunc(vecs, func(a, b vec) int { return strings.Compare(a.name, b.name) })
	for i, in := range representatives(t) {
		vecs = append(vecs, vec{fmt.Sprintf("representative/%03d", i), in})
	}
	var lines []string
	for _, v := range vecs {
		lines = append(lines, goldenLine(t, v.name, v.in))
	}
	return lines
}

// goldenLine is the line of testdata/plain.golden for the input in.
func goldenLine(t *testing.T, name string, in []byte) string {
	var m wire.Msg
	kind, out := "error", []byte(nil)
	if err := wire.UnmarshalMsg(in, &m); err == nil {
		b, err := wire.MarshalMsg(&m)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		kind, out = "ok", b
		if multiMap(m.ProtoReflect()) {
			kind = "multimap"
			if out, err = (proto.MarshalOptions{Deterministic: true}).Marshal(&m); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
		}
		if (&wire.Msg{}).UnmarshalVT(in) != nil {
			kind = "fallback"
		}
	}
	return fmt.Sprintf("%s %s %x %x", name, kind, in, out)
}

// TestPlainCodecGolden writes (with -update) testdata/plain.golden, the
// vectors the usp_noproto build's TestPlainCodecGolden reads
// (plain_golden_plain_test.go): the golden and fuzz corpora of the time,
// and a filled Msg for every oneof option, decoded and encoded by this
// build. Without -update it checks that this build still does with every
// vector what the file says.
func TestPlainCodecGolden(t *testing.T) {
	if *update {
		want := []byte(strings.Join(goldenLines(t), "\n") + "\n")
		if err := os.WriteFile("testdata/plain.golden", want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile("testdata/plain.golden")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	if len(lines) < 50 {
		t.Fatalf("%d vectors", len(lines))
	}
	for _, l := range lines {
		fs := strings.Split(l, " ")
		if len(fs) != 4 {
			t.Fatalf("malformed line %q", l)
		}
		in, err := hex.DecodeString(fs[2])
		if err != nil {
			t.Fatalf("%s: %v", fs[0], err)
		}
		if got := goldenLine(t, fs[0], in); got != l {
			t.Errorf("%s: this build now gives\n%s\nwhere testdata/plain.golden has\n%s\n(go test ./wire -run TestPlainCodecGolden -update, if the change is meant)", fs[0], got, l)
		}
	}
}
