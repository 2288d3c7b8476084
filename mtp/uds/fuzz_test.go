package uds_test

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/uspkit/uspkit/mtp/uds"
)

// chunkReader returns its input in pieces of at most n bytes, so a stream
// decoder sees frames split at every possible place.
type chunkReader struct {
	b []byte
	n int
}

func (r *chunkReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	k := min(len(p), r.n, len(r.b))
	copy(p, r.b[:k])
	r.b = r.b[k:]
	return k, nil
}

// FuzzReadFrame feeds arbitrary bytes, split into chunks of a fuzzed size,
// to the stream Reader under a fuzzed body limit, and checks that:
// it never panics nor returns a body over the limit; every error is one of
// the codec's; the slice decoder ParseFrame agrees frame by frame; and each
// frame re-encodes to exactly the bytes it was read from.
func FuzzReadFrame(f *testing.F) {
	for _, seed := range [][]byte{
		frame(-1, tlv(uds.TypeHandshake, -1, []byte("os::00256D-0123456789"))),
		frame(-1, tlv(uds.TypeRecord, -1, []byte("\x0a\x031.3\x12\x03a::"))),
		frame(-1, tlv(uds.TypeError, -1, []byte("bad"))),
		append(frame(-1, tlv(uds.TypeHandshake, -1, []byte("a::b"))), frame(-1, tlv(uds.TypeRecord, -1, []byte("r")))...),
		frame(-1, tlv(7, -1, []byte("unknown type")), tlv(uds.TypeRecord, -1, []byte("r"))),
		frame(0xffffffff, tlv(uds.TypeRecord, -1, []byte("oversize"))),
		frame(-1, tlv(uds.TypeRecord, 0x7fffffff, []byte("overrun"))),
		frame(0),
		frame(-1, tlv(uds.TypeRecord, -1, []byte("x")), []byte{1, 2}),
		frame(-1, tlv(uds.TypeRecord, -1, bytes.Repeat([]byte{1}, 300)))[:100],
		[]byte("GET / HTTP/1.1\r\n\r\n"),
		[]byte("_US"),
	} {
		for _, chunk := range []uint8{0, 1, 3} {
			f.Add(seed, chunk, uint16(256))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte, chunk uint8, limit uint16) {
		lim := int(limit)
		rd := uds.NewReader(&chunkReader{b: data, n: int(chunk) + 1}, lim)
		if lim == 0 {
			lim = uds.DefaultMaxRecord + uds.FieldHeaderLen
		}
		rest := data
		for {
			fr, err := rd.ReadFrame()
			want, n, perr := uds.ParseFrame(rest, lim)
			if err != nil {
				checkErrors(t, err, perr, len(rest))
				return
			}
			if perr != nil {
				t.Fatalf("Reader read a frame where ParseFrame failed: %v", perr)
			}
			if fr.Len() > lim {
				t.Fatalf("frame body of %d bytes over limit %d", fr.Len(), lim)
			}
			var fs []uds.Field
			for typ, v := range fr.Fields() {
				fs = append(fs, uds.Field{Type: typ, Value: v})
			}
			enc, eerr := uds.AppendFields(nil, fs...)
			if eerr != nil || !bytes.Equal(enc, rest[:n]) {
				t.Fatalf("re-encoded frame differs (%v):\n got % x\nwant % x", eerr, enc, rest[:n])
			}
			if !equalFields(fr, want) {
				t.Fatal("Reader and ParseFrame decoded different fields")
			}
			rest = rest[n:]
		}
	})
}

// checkErrors checks the Reader's error err against ParseFrame's perr on
// the rest of the input (rest bytes).
func checkErrors(t *testing.T, err, perr error, rest int) {
	t.Helper()
	switch {
	case err == io.EOF:
		if rest != 0 || !errors.Is(perr, uds.ErrIncomplete) {
			t.Fatalf("EOF with %d bytes left, ParseFrame: %v", rest, perr)
		}
	case err == io.ErrUnexpectedEOF:
		if !errors.Is(perr, uds.ErrIncomplete) {
			t.Fatalf("unexpected EOF where ParseFrame says %v", perr)
		}
	default:
		for _, class := range []error{uds.ErrSync, uds.ErrFrameTooLarge, uds.ErrMalformed} {
			if errors.Is(err, class) {
				if !errors.Is(perr, class) {
					t.Fatalf("Reader: %v; ParseFrame: %v", err, perr)
				}
				return
			}
		}
		t.Fatalf("error of no known class: %v", err)
	}
}

func equalFields(a, b uds.Frame) bool {
	var x, y []uds.Field
	for t, v := range a.Fields() {
		x = append(x, uds.Field{Type: t, Value: v})
	}
	for t, v := range b.Fields() {
		y = append(y, uds.Field{Type: t, Value: v})
	}
	if len(x) != len(y) {
		return false
	}
	for i := range x {
		if x[i].Type != y[i].Type || !bytes.Equal(x[i].Value, y[i].Value) {
			return false
		}
	}
	return true
}
