package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sort"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/uspkit/uspkit/store"
)

var (
	bucketObjects  = []byte("objects")
	bucketCounters = []byte("counters")
	bucketItems    = []byte("items")
	bucketMeta     = []byte("meta")
	keyVersion     = []byte("version")
)

// formatVersion is the layout this package writes; a file with a newer one
// is refused rather than misread.
const formatVersion = 1

// ErrNewerFormat is returned by Open for a file written by a newer version.
var ErrNewerFormat = errors.New("bolt: file format is newer than this program's")

// DB is a bbolt-backed store, safe for concurrent use.
type DB struct {
	db *bbolt.DB
}

// Open opens (creating if needed) the store file at path, readable by its
// owner only (mode 0600): it holds configuration, queued messages and
// credentials. A second process opening the same file waits up to a
// second for the first to close it, then fails.
func Open(ctx context.Context, path string) (*DB, error) {
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: time.Second, FreelistType: bbolt.FreelistMapType, NoFreelistSync: true})
	if err != nil {
		return nil, fmt.Errorf("bolt: open %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		db.Close()
		return nil, fmt.Errorf("bolt: %w", err)
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		for _, b := range [][]byte{bucketObjects, bucketCounters, bucketItems, bucketMeta} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		meta := tx.Bucket(bucketMeta)
		if v := meta.Get(keyVersion); v != nil {
			if n, _ := binary.Uvarint(v); n > formatVersion {
				return fmt.Errorf("%w (%d > %d)", ErrNewerFormat, n, formatVersion)
			}
			return nil
		}
		return meta.Put(keyVersion, binary.AppendUvarint(nil, formatVersion))
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("bolt: %s: %w", path, err)
	}
	return &DB{db: db}, ctx.Err()
}

// Path returns the store file's path.
func (s *DB) Path() string { return s.db.Path() }

// Close closes the store.
func (s *DB) Close() error { return s.db.Close() }

// Load returns everything stored.
func (s *DB) Load(ctx context.Context) (*store.Snapshot, error) {
	snap := &store.Snapshot{Counters: map[string]uint32{}}
	err := s.db.View(func(tx *bbolt.Tx) error {
		err := tx.Bucket(bucketObjects).ForEach(func(k, v []byte) error {
			params, err := decodeParams(v)
			if err != nil {
				return fmt.Errorf("object %q: %w", k, err)
			}
			snap.Objects = append(snap.Objects, store.Object{Path: string(k), Params: params})
			return nil
		})
		if err != nil {
			return err
		}
		err = tx.Bucket(bucketCounters).ForEach(func(k, v []byte) error {
			if len(v) != 4 {
				return fmt.Errorf("counter %q: %d bytes", k, len(v))
			}
			snap.Counters[string(k)] = binary.BigEndian.Uint32(v)
			return nil
		})
		if err != nil {
			return err
		}
		return tx.Bucket(bucketItems).ForEach(func(k, v []byte) error {
			kind, id, ok := bytes.Cut(k, []byte{0})
			if !ok {
				return fmt.Errorf("item key %q has no kind", k)
			}
			snap.Items = append(snap.Items, store.Item{Kind: string(kind), ID: string(id), Data: bytes.Clone(v)})
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("bolt: load: %w", err)
	}
	// Object keys come in byte order, the order Snapshot asks for; items are
	// sorted by kind, then id, whatever bytes a kind holds.
	sort.SliceStable(snap.Items, func(i, j int) bool {
		a, b := snap.Items[i], snap.Items[j]
		if a.Kind != b.Kind {
			return a.Kind < b.Kind
		}
		return a.ID < b.ID
	})
	return snap, ctx.Err()
}

// Apply applies b in one durable transaction.
func (s *DB) Apply(ctx context.Context, b *store.Batch) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if b.Empty() {
		return nil
	}
	err := s.db.Update(func(tx *bbolt.Tx) error {
		objs := tx.Bucket(bucketObjects)
		for _, prefix := range b.Delete {
			if err := deletePrefix(objs, []byte(prefix)); err != nil {
				return err
			}
		}
		for _, o := range b.Put {
			if err := objs.Put([]byte(o.Path), encodeParams(o.Params)); err != nil {
				return err
			}
		}
		ctrs := tx.Bucket(bucketCounters)
		for name, v := range b.Counters {
			if old := ctrs.Get([]byte(name)); len(old) == 4 && binary.BigEndian.Uint32(old) >= v {
				continue // a counter only ever grows
			}
			if err := ctrs.Put([]byte(name), binary.BigEndian.AppendUint32(nil, v)); err != nil {
				return err
			}
		}
		items := tx.Bucket(bucketItems)
		for _, it := range b.DeleteItems {
			if err := items.Delete(itemKey(it)); err != nil {
				return err
			}
		}
		for _, it := range b.PutItems {
			if err := items.Put(itemKey(it), it.Data); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("bolt: apply: %w", err)
	}
	return nil
}

// deletePrefix deletes every key starting with prefix, reading only those.
func deletePrefix(b *bbolt.Bucket, prefix []byte) error {
	c := b.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Seek(prefix) {
		if err := c.Delete(); err != nil {
			return err
		}
	}
	return nil
}

func itemKey(it store.Item) []byte {
	k := make([]byte, 0, len(it.Kind)+1+len(it.ID))
	k = append(k, it.Kind...)
	k = append(k, 0)
	return append(k, it.ID...)
}

// encodeParams writes the count, then each name and value, every one
// preceded by its length as a uvarint, names in sorted order so that the
// same object always encodes to the same bytes.
func encodeParams(p map[string]string) []byte {
	names := make([]string, 0, len(p))
	n := binary.MaxVarintLen64
	for k, v := range p {
		names = append(names, k)
		n += 2*binary.MaxVarintLen64 + len(k) + len(v)
	}
	sort.Strings(names)
	buf := make([]byte, 0, n)
	buf = binary.AppendUvarint(buf, uint64(len(names)))
	for _, k := range names {
		buf = binary.AppendUvarint(buf, uint64(len(k)))
		buf = append(buf, k...)
		v := p[k]
		buf = binary.AppendUvarint(buf, uint64(len(v)))
		buf = append(buf, v...)
	}
	return buf
}

var errCorrupt = errors.New("corrupt parameter encoding")

func decodeParams(b []byte) (map[string]string, error) {
	count, n := binary.Uvarint(b)
	if n <= 0 || count > uint64(len(b)) {
		return nil, errCorrupt
	}
	b = b[n:]
	p := make(map[string]string, count)
	next := func() (string, bool) {
		l, n := binary.Uvarint(b)
		if n <= 0 || l > uint64(len(b)-n) {
			return "", false
		}
		s := string(b[n : n+int(l)])
		b = b[n+int(l):]
		return s, true
	}
	for range count {
		k, ok := next()
		if !ok {
			return nil, errCorrupt
		}
		v, ok := next()
		if !ok {
			return nil, errCorrupt
		}
		p[k] = v
	}
	if len(b) != 0 {
		return nil, errCorrupt
	}
	return p, nil
}
