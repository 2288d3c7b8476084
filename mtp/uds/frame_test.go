package uds_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"

	"github.com/uspkit/uspkit/mtp/uds"
)

// frame builds raw frame bytes: the "_USP" Header with length n (or the
// body's length when n < 0), then body.
func frame(n int, body ...[]byte) []byte {
	b := bytes.Join(body, nil)
	if n < 0 {
		n = len(b)
	}
	out := append([]byte("_USP"), binary.BigEndian.AppendUint32(nil, uint32(n))...)
	return append(out, b...)
}

// tlv builds one TLV field whose Length is n (or len(v) when n < 0).
func tlv(t uds.Type, n int, v []byte) []byte {
	if n < 0 {
		n = len(v)
	}
	return append(binary.BigEndian.AppendUint32([]byte{byte(t)}, uint32(n)), v...)
}

type field struct {
	Type  uds.Type
	Value string
}

func fields(f uds.Frame) []field {
	var out []field
	for t, v := range f.Fields() {
		out = append(out, field{t, string(v)})
	}
	return out
}

// TestSpecHandshake checks the Handshake frame of the spec's figure for
// "os::00256D-0123456789", with the Header the normative text gives:
// "_USP" [R-UDS.8] and the length of the rest of the frame, 5+21 = 26
// [R-UDS.9]. (The figure itself shows "_UDS" and 21, contradicting both.)
func TestSpecHandshake(t *testing.T) {
	eid := "os::00256D-0123456789"
	got, err := uds.AppendFrame(nil, uds.TypeHandshake, []byte(eid))
	if err != nil {
		t.Fatal(err)
	}
	want := append([]byte{0x5f, 0x55, 0x53, 0x50, 0, 0, 0, 0x1a, 0x01, 0, 0, 0, 0x15}, eid...)
	if !bytes.Equal(got, want) {
		t.Fatalf("AppendFrame = % x\nwant          % x", got, want)
	}
	f, n, err := uds.ParseFrame(got, 1024)
	if err != nil || n != len(got) {
		t.Fatalf("ParseFrame = %d, %v", n, err)
	}
	if v, ok := f.Value(uds.TypeHandshake); !ok || string(v) != eid {
		t.Errorf("handshake value %q, %v", v, ok)
	}
}

func TestParse(t *testing.T) {
	rec := bytes.Repeat([]byte{0xab}, 100)
	tests := []struct {
		name  string
		in    []byte
		limit int
		want  []field
		err   error // nil: parses; else the error's class
	}{
		{"record", frame(-1, tlv(uds.TypeRecord, -1, rec)), 200, []field{{uds.TypeRecord, string(rec)}}, nil},
		{"several fields", frame(-1, tlv(uds.TypeHandshake, -1, []byte("a::b")), tlv(uds.TypeRecord, -1, []byte("r"))), 200,
			[]field{{uds.TypeHandshake, "a::b"}, {uds.TypeRecord, "r"}}, nil},
		{"unknown type kept for the receiver to ignore", frame(-1, tlv(9, -1, []byte("x"))), 200, []field{{9, "x"}}, nil},
		{"empty value", frame(-1, tlv(uds.TypeError, -1, nil)), 200, []field{{uds.TypeError, ""}}, nil},
		{"limit exact", frame(-1, tlv(uds.TypeRecord, -1, rec)), 105, []field{{uds.TypeRecord, string(rec)}}, nil},
		{"over limit", frame(-1, tlv(uds.TypeRecord, -1, rec)), 104, nil, uds.ErrFrameTooLarge},
		{"huge length", frame(0xffffffff), 1 << 20, nil, uds.ErrFrameTooLarge},
		{"bad sync", append([]byte("_UDS"), frame(-1, tlv(uds.TypeRecord, -1, rec))[4:]...), 200, nil, uds.ErrSync},
		{"http garbage", []byte("GET / HTTP/1.1\r\n\r\n"), 200, nil, uds.ErrSync},
		{"no fields", frame(0), 200, nil, uds.ErrMalformed},
		{"stray bytes", frame(-1, tlv(uds.TypeRecord, -1, rec), []byte{3, 0}), 200, nil, uds.ErrMalformed},
		{"field overruns frame", frame(-1, tlv(uds.TypeRecord, 101, rec)), 200, nil, uds.ErrMalformed},
		{"field length huge", frame(-1, tlv(uds.TypeRecord, 0xfffffffb, rec)), 200, nil, uds.ErrMalformed},
		{"truncated header", []byte("_US"), 200, nil, io.ErrUnexpectedEOF},
		{"truncated body", frame(-1, tlv(uds.TypeRecord, -1, rec))[:50], 200, nil, io.ErrUnexpectedEOF},
		{"empty input", nil, 200, nil, io.EOF},
		// Fuzz finding (testdata/fuzz/FuzzReadFrame/finding_limit_zero):
		// ParseFrame took limit 0 literally where NewReader meant 64 KiB.
		{"limit 0 means default", frame(-1, tlv(uds.TypeRecord, -1, rec)), 0, []field{{uds.TypeRecord, string(rec)}}, nil},
		{"limit 0 truncated", frame(12336, tlv(uds.TypeRecord, -1, rec)), 0, nil, io.ErrUnexpectedEOF},
		{"limit 0 over default", frame(uds.DefaultMaxRecord + uds.FieldHeaderLen + 1), 0, nil, uds.ErrFrameTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The slice decoder.
			f, n, err := uds.ParseFrame(tt.in, tt.limit)
			switch {
			case tt.err == io.EOF || tt.err == io.ErrUnexpectedEOF:
				if !errors.Is(err, uds.ErrIncomplete) {
					t.Errorf("ParseFrame err = %v, want ErrIncomplete", err)
				}
			case tt.err != nil:
				if !errors.Is(err, tt.err) {
					t.Errorf("ParseFrame err = %v, want %v", err, tt.err)
				}
			case err != nil || n != len(tt.in):
				t.Errorf("ParseFrame = %d, %v; want %d, nil", n, err, len(tt.in))
			default:
				if d := cmp.Diff(tt.want, fields(f)); d != "" {
					t.Errorf("ParseFrame fields (-want +got):\n%s", d)
				}
			}
			// The stream decoder, whole and one byte at a time.
			for name, r := range map[string]io.Reader{
				"whole":    bytes.NewReader(tt.in),
				"one byte": iotest.OneByteReader(bytes.NewReader(tt.in)),
				"half":     iotest.HalfReader(bytes.NewReader(tt.in)),
			} {
				f, err := uds.NewReader(r, tt.limit).ReadFrame()
				if !errors.Is(err, tt.err) {
					t.Errorf("%s: ReadFrame err = %v, want %v", name, err, tt.err)
				}
				if err == nil {
					if d := cmp.Diff(tt.want, fields(f)); d != "" {
						t.Errorf("%s: ReadFrame fields (-want +got):\n%s", name, d)
					}
				}
			}
		})
	}
}

// TestReaderStream reads several frames, of every field Type, from one
// stream split in the worst way.
func TestReaderStream(t *testing.T) {
	var stream []byte
	var want [][]field
	for i := range 20 {
		v := bytes.Repeat([]byte{byte(i)}, i*37)
		typ := uds.Type(i%4 + 1)
		var err error
		stream, err = uds.AppendFrame(stream, typ, v)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, []field{{typ, string(v)}})
	}
	stream, _ = uds.AppendFields(stream, uds.Field{Type: uds.TypeHandshake, Value: []byte("x::y")},
		uds.Field{Type: uds.TypeRecord, Value: []byte("rec")})
	want = append(want, []field{{uds.TypeHandshake, "x::y"}, {uds.TypeRecord, "rec"}})

	rd := uds.NewReader(iotest.OneByteReader(bytes.NewReader(stream)), 4096)
	var got [][]field
	for {
		f, err := rd.ReadFrame()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("frame %d: %v", len(got), err)
		}
		got = append(got, fields(f))
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("frames (-want +got):\n%s", d)
	}
	// The slice decoder agrees, frame by frame.
	for i := 0; len(stream) > 0; i++ {
		f, n, err := uds.ParseFrame(stream, 4096)
		if err != nil {
			t.Fatalf("ParseFrame %d: %v", i, err)
		}
		if d := cmp.Diff(want[i], fields(f)); d != "" {
			t.Errorf("ParseFrame %d (-want +got):\n%s", i, d)
		}
		stream = stream[n:]
	}
}

func TestAppendErrors(t *testing.T) {
	if _, err := uds.AppendFields(nil); !errors.Is(err, uds.ErrMalformed) {
		t.Errorf("AppendFields() = %v, want ErrMalformed", err)
	}
}

func TestTypeString(t *testing.T) {
	for typ, want := range map[uds.Type]string{
		uds.TypeHandshake: "handshake", uds.TypeError: "error", uds.TypeRecord: "record", 200: "type(200)",
	} {
		if got := typ.String(); got != want {
			t.Errorf("Type(%d).String() = %q, want %q", typ, got, want)
		}
	}
}

// TestAllocs guards the paths that must not allocate: encoding into a
// buffer with room, and walking a frame's fields.
func TestAllocs(t *testing.T) {
	rec := make([]byte, 1000)
	buf := make([]byte, 0, 2048)
	if n := testing.AllocsPerRun(100, func() {
		buf, _ = uds.AppendFrame(buf[:0], uds.TypeRecord, rec)
	}); n != 0 {
		t.Errorf("AppendFrame: %v allocs, want 0", n)
	}
	f, _, err := uds.ParseFrame(buf, 2048)
	if err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() {
		for _, v := range f.Fields() {
			_ = v
		}
		_, _, _ = uds.ParseFrame(buf, 2048)
	}); n != 0 {
		t.Errorf("Fields/ParseFrame: %v allocs, want 0", n)
	}
}
