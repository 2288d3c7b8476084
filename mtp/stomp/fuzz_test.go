package stomp_test

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/uspkit/uspkit/mtp/stomp"
)

// chunkReader returns at most n bytes per Read, to split frames anywhere.
type chunkReader struct {
	data []byte
	n    int
}

func (r *chunkReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	k := copy(p[:min(len(p), r.n)], r.data)
	r.data = r.data[k:]
	return k, nil
}

// errKind reduces a read error to what the caller can tell apart.
func errKind(err error) error {
	for _, k := range []error{stomp.ErrMalformed, stomp.ErrFrameTooLarge, io.ErrUnexpectedEOF, io.EOF} {
		if errors.Is(err, k) {
			return k
		}
	}
	return err
}

// FuzzReadFrame feeds arbitrary bytes, whole and split into chunks of 1
// to 17 bytes: both reads must agree frame for frame and error for error,
// never panic, and every frame read must encode and read back the same.
func FuzzReadFrame(f *testing.F) {
	for _, tc := range frameCases {
		f.Add([]byte(tc.in), uint8(len(tc.name)))
	}
	f.Add(messageFrame(100), uint8(3))
	f.Fuzz(func(t *testing.T, data []byte, chunk uint8) {
		whole, werr := readFrames(bytes.NewReader(data))
		split, serr := readFrames(&chunkReader{data: data, n: int(chunk)%17 + 1})
		if errKind(werr) != errKind(serr) {
			t.Fatalf("whole read ends with %v, split read with %v", werr, serr)
		}
		if !sameFrames(whole, split) {
			t.Fatalf("whole and split reads differ:\n%s", cmp.Diff(whole, split, cmpopts.EquateEmpty()))
		}
		for _, fr := range whole {
			enc, err := stomp.AppendFrame(nil, &fr)
			if err != nil {
				t.Fatalf("frame read cannot be written: %v\n%#v", err, fr)
			}
			var back stomp.Frame
			if err := stomp.NewReader(bytes.NewReader(enc), 1<<20, 1<<20).ReadFrame(&back); err != nil {
				t.Fatalf("written frame does not read back: %v\n%q", err, enc)
			}
			if !sameFrames([]stomp.Frame{fr}, []stomp.Frame{back}) {
				t.Fatalf("round trip (-read +reread):\n%s", cmp.Diff(fr, back, cmpopts.EquateEmpty()))
			}
		}
	})
}

// sameFrames is a fast equality for the fuzz loop; cmp explains failures.
func sameFrames(a, b []stomp.Frame) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Command != b[i].Command || !bytes.Equal(a[i].Body, b[i].Body) || len(a[i].Headers) != len(b[i].Headers) {
			return false
		}
		for j, h := range a[i].Headers {
			if h != b[i].Headers[j] {
				return false
			}
		}
	}
	return true
}
