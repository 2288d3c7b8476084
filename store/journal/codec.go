package journal

import (
	"bufio"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"maps"
	"slices"

	"github.com/uspkit/uspkit/store"
)

// A record is the payload's length (uvarint), its CRC-32C (4 bytes,
// big-endian) and the payload: one encoded Batch.
func appendRecord(b []byte, batch *store.Batch) []byte {
	payload := appendBatch(nil, batch)
	b = binary.AppendUvarint(b, uint64(len(payload)))
	b = binary.BigEndian.AppendUint32(b, crc32.Checksum(payload, crcTable))
	return append(b, payload...)
}

var errShort = errors.New("truncated or corrupt encoding")

// readRecord reads one record and returns its Batch and its size in bytes.
func readRecord(r *bufio.Reader) (*store.Batch, int, error) {
	n, err := binary.ReadUvarint(r)
	if err != nil {
		return nil, 0, err
	}
	if n > maxRecord {
		return nil, 0, errShort
	}
	buf := make([]byte, 4+n)
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, 0, err
	}
	payload := buf[4:]
	if crc32.Checksum(payload, crcTable) != binary.BigEndian.Uint32(buf) {
		return nil, 0, errShort
	}
	b, err := decodeBatch(payload)
	if err != nil {
		return nil, 0, err
	}
	return b, uvarintLen(n) + len(buf), nil
}

func uvarintLen(n uint64) int {
	var tmp [binary.MaxVarintLen64]byte
	return binary.PutUvarint(tmp[:], n)
}

// A snapshot file is the header, the CRC-32C of the rest, and one Batch
// putting every object, counter and item.
func encodeSnapshot(gen uint64, snap *store.Snapshot) []byte {
	payload := appendBatch(nil, &store.Batch{Put: snap.Objects, Counters: snap.Counters, PutItems: snap.Items})
	b := appendHeader(make([]byte, 0, headerLen+4+len(payload)), gen)
	b = binary.BigEndian.AppendUint32(b, crc32.Checksum(payload, crcTable))
	return append(b, payload...)
}

func decodeSnapshot(data []byte) (uint64, *store.Batch, error) {
	gen, ok := parseHeader(data)
	if !ok || len(data) < headerLen+4 {
		return 0, nil, errors.New("bad header")
	}
	payload := data[headerLen+4:]
	if crc32.Checksum(payload, crcTable) != binary.BigEndian.Uint32(data[headerLen:]) {
		return 0, nil, errors.New("checksum mismatch")
	}
	b, err := decodeBatch(payload)
	return gen, b, err
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// appendBatch encodes every part of a Batch, each a count then its
// entries; parameters and counters in sorted order so that equal batches
// encode equally.
func appendBatch(b []byte, batch *store.Batch) []byte {
	b = binary.AppendUvarint(b, uint64(len(batch.Delete)))
	for _, d := range batch.Delete {
		b = appendString(b, d)
	}
	b = binary.AppendUvarint(b, uint64(len(batch.Put)))
	for _, o := range batch.Put {
		b = appendString(b, o.Path)
		b = binary.AppendUvarint(b, uint64(len(o.Params)))
		for _, k := range slices.Sorted(maps.Keys(o.Params)) {
			b = appendString(b, k)
			b = appendString(b, o.Params[k])
		}
	}
	b = binary.AppendUvarint(b, uint64(len(batch.Counters)))
	for _, k := range slices.Sorted(maps.Keys(batch.Counters)) {
		b = appendString(b, k)
		b = binary.AppendUvarint(b, uint64(batch.Counters[k]))
	}
	b = binary.AppendUvarint(b, uint64(len(batch.DeleteItems)))
	for _, it := range batch.DeleteItems {
		b = appendString(b, it.Kind)
		b = appendString(b, it.ID)
	}
	b = binary.AppendUvarint(b, uint64(len(batch.PutItems)))
	for _, it := range batch.PutItems {
		b = appendString(b, it.Kind)
		b = appendString(b, it.ID)
		b = appendString(b, string(it.Data))
	}
	return b
}

// decoder reads the encoding appendBatch writes, failing on the first
// inconsistency; counts are checked against the bytes left so that no
// input makes it allocate more than its own size.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errShort
		return 0
	}
	d.b = d.b[n:]
	return v
}

// count reads a count of entries, each at least min bytes long.
func (d *decoder) count(min int) int {
	n := d.uvarint()
	if d.err == nil && n > uint64(len(d.b)/min) {
		d.err = errShort
		return 0
	}
	return int(n)
}

func (d *decoder) string() string {
	n := d.uvarint()
	if d.err != nil {
		return ""
	}
	if n > uint64(len(d.b)) {
		d.err = errShort
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

func decodeBatch(p []byte) (*store.Batch, error) {
	d := &decoder{b: p}
	b := &store.Batch{}
	for range d.count(1) {
		b.Delete = append(b.Delete, d.string())
	}
	for range d.count(2) {
		o := store.Object{Path: d.string()}
		n := d.count(2)
		o.Params = make(map[string]string, n)
		for range n {
			k := d.string()
			o.Params[k] = d.string()
		}
		b.Put = append(b.Put, o)
	}
	if n := d.count(2); n > 0 {
		b.Counters = make(map[string]uint32, n)
		for range n {
			k := d.string()
			v := d.uvarint()
			if v > 1<<32-1 {
				d.err = errShort
			}
			b.Counters[k] = uint32(v)
		}
	}
	for range d.count(2) {
		b.DeleteItems = append(b.DeleteItems, store.Item{Kind: d.string(), ID: d.string()})
	}
	for range d.count(3) {
		b.PutItems = append(b.PutItems, store.Item{Kind: d.string(), ID: d.string(), Data: []byte(d.string())})
	}
	if d.err == nil && len(d.b) != 0 {
		d.err = errShort
	}
	if d.err != nil {
		return nil, d.err
	}
	return b, nil
}
