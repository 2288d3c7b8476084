package bolt

import (
	"maps"
	"testing"
)

// FuzzDecodeParams feeds arbitrary bytes to the value decoder: it must
// return an error or a map, never panic or allocate beyond its input, and
// whatever it accepts must encode back to a value that decodes the same.
func FuzzDecodeParams(f *testing.F) {
	f.Add(encodeParams(map[string]string{"Enable": "true", "Alias": "cpe-1"}))
	f.Add(encodeParams(map[string]string{}))
	f.Add([]byte{5, 200})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := decodeParams(b)
		if err != nil {
			return
		}
		q, err := decodeParams(encodeParams(p))
		if err != nil {
			t.Fatalf("re-encoded value refused: %v", err)
		}
		if !maps.Equal(p, q) {
			t.Fatalf("round trip changed %v into %v", p, q)
		}
	})
}
