package journal

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/uspkit/uspkit/store"
)

// FuzzOpen opens a store whose journal holds arbitrary bytes after a valid
// header and one good record: Open must keep the good record, never panic,
// never allocate beyond the input's size, and leave a journal that takes
// appends.
func FuzzOpen(f *testing.F) {
	good := appendRecord(nil, &store.Batch{Put: []store.Object{{Path: "Device.X.1.", Params: map[string]string{"A": "1"}}}})
	f.Add(appendRecord(nil, &store.Batch{Delete: []string{"Device.X."}, Counters: map[string]uint32{"Device.X.": 3}}))
	f.Add([]byte{0x05, 0, 0, 0})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Add(appendRecord(nil, &store.Batch{PutItems: []store.Item{{Kind: "k", ID: "i", Data: []byte{1}}}})[:5])
	f.Fuzz(func(t *testing.T, tail []byte) {
		dir := t.TempDir()
		data := append(appendHeader(nil, 0), good...)
		if err := os.WriteFile(filepath.Join(dir, journalName), append(data, tail...), 0o600); err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		db, err := Open(ctx, dir, Options{})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		defer db.Close()
		snap, _ := db.Load(ctx)
		if _, _, err := readRecord(bufio.NewReader(bytes.NewReader(tail))); err != nil {
			// The tail holds no valid record: the state is the good one's.
			if len(snap.Objects) != 1 || snap.Objects[0].Path != "Device.X.1." {
				t.Fatalf("state after a torn tail: %+v", snap.Objects)
			}
		}
		if err := db.Apply(ctx, &store.Batch{Put: []store.Object{{Path: "Device.Z.1.", Params: map[string]string{}}}}); err != nil {
			t.Fatalf("Apply after Open: %v", err)
		}
	})
}

// FuzzDecodeBatch checks the record decoder alone against arbitrary bytes.
func FuzzDecodeBatch(f *testing.F) {
	f.Add(appendBatch(nil, &store.Batch{Put: []store.Object{{Path: "Device.X.1.", Params: map[string]string{"A": "1"}}}, Delete: []string{"Device.Y."}}))
	f.Add([]byte{0, 0, 0, 0, 0})
	f.Add([]byte{0, 0, 1, 0, 0xff, 0xff, 0xff, 0xff, 0x7f})
	f.Fuzz(func(t *testing.T, p []byte) {
		b, err := decodeBatch(p)
		if err != nil {
			return
		}
		if _, err := decodeBatch(appendBatch(nil, b)); err != nil {
			t.Fatalf("re-encoded batch refused: %v", err)
		}
	})
}
