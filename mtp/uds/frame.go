package uds

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"iter"
	"math"
	"strconv"
)

// Sizes of the fixed parts of a frame.
const (
	// HeaderLen is the size of a frame's Header: 4 synchronization bytes
	// and a 4-byte length [R-UDS.7].
	HeaderLen = 8
	// FieldHeaderLen is the size of a TLV field's Type and Length
	// [R-UDS.10], [R-UDS.11].
	FieldHeaderLen = 5
)

// syncMark is the synchronization part of every frame Header: the bytes
// 0x5f 0x55 0x53 0x50 [R-UDS.8].
const syncMark = "_USP"

// Type is the 1-byte Type of a TLV field [R-UDS.10].
type Type uint8

// The TLV Types TR-369 defines.
const (
	// TypeHandshake carries the sender's Endpoint ID as UTF-8 [R-UDS.12].
	TypeHandshake Type = 1
	// TypeError carries a UTF-8 message about a failure [R-UDS.13].
	TypeError Type = 2
	// TypeRecord carries one binary-encoded USP Record [R-UDS.14].
	TypeRecord Type = 3
)

func (t Type) String() string {
	switch t {
	case TypeHandshake:
		return "handshake"
	case TypeError:
		return "error"
	case TypeRecord:
		return "record"
	}
	return "type(" + strconv.Itoa(int(t)) + ")"
}

// Errors of the frame codec; decoders wrap them with %w and a detail.
var (
	// ErrSync means a frame did not start with "_USP" [R-UDS.8].
	ErrSync = errors.New("uds: bad frame synchronization")
	// ErrFrameTooLarge means a frame's length is over the reader's limit,
	// or a value does not fit a 4-byte length.
	ErrFrameTooLarge = errors.New("uds: frame too large")
	// ErrMalformed means a frame's body is not a sequence of one or more
	// whole TLV fields [R-UDS.6].
	ErrMalformed = errors.New("uds: malformed frame")
	// ErrIncomplete is returned by ParseFrame when its input holds only
	// the beginning of a frame: read more and call it again.
	ErrIncomplete = errors.New("uds: incomplete frame")
)

// Field is one TLV field.
type Field struct {
	Type  Type
	Value []byte
}

// Frame is one decoded frame: a body of one or more TLV fields, already
// checked to be well formed. It refers to the bytes it was decoded from.
// The zero Frame has no fields.
type Frame struct {
	body []byte
}

// Fields yields every TLV field in order, including ones of Types this
// package does not know (a receiver ignores those [R-UDS.15]). Values are
// sub-slices of the frame, capped at their own length.
func (f Frame) Fields() iter.Seq2[Type, []byte] {
	return func(yield func(Type, []byte) bool) {
		b := f.body
		for len(b) >= FieldHeaderLen {
			n := binary.BigEndian.Uint32(b[1:FieldHeaderLen])
			if uint64(n) > uint64(len(b)-FieldHeaderLen) {
				return
			}
			end := FieldHeaderLen + int(n)
			if !yield(Type(b[0]), b[FieldHeaderLen:end:end]) {
				return
			}
			b = b[end:]
		}
	}
}

// Value returns the value of the first field of Type t.
func (f Frame) Value(t Type) ([]byte, bool) {
	for ft, v := range f.Fields() {
		if ft == t {
			return v, true
		}
	}
	return nil, false
}

// Len returns the length of the frame's body, as its Header states it.
func (f Frame) Len() int { return len(f.body) }

// AppendFrame appends a frame holding one field of Type t with value v to
// dst [R-UDS.6]. It fails with ErrFrameTooLarge when the frame's length
// does not fit the Header's 4 bytes.
func AppendFrame(dst []byte, t Type, v []byte) ([]byte, error) {
	if uint64(len(v)) > math.MaxUint32-FieldHeaderLen {
		return dst, fmt.Errorf("%w: value of %d bytes", ErrFrameTooLarge, len(v))
	}
	dst = appendHeaders(dst, t, len(v))
	return append(dst, v...), nil
}

// AppendFields appends a frame holding fields, in order, to dst. A frame
// needs at least one field [R-UDS.6]; with none it fails with ErrMalformed.
func AppendFields(dst []byte, fields ...Field) ([]byte, error) {
	if len(fields) == 0 {
		return dst, fmt.Errorf("%w: no fields", ErrMalformed)
	}
	var n uint64
	for _, f := range fields {
		n += FieldHeaderLen + uint64(len(f.Value))
	}
	if n > math.MaxUint32 {
		return dst, fmt.Errorf("%w: body of %d bytes", ErrFrameTooLarge, n)
	}
	dst = append(dst, syncMark...)
	dst = binary.BigEndian.AppendUint32(dst, uint32(n))
	for _, f := range fields {
		dst = append(dst, byte(f.Type))
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(f.Value)))
		dst = append(dst, f.Value...)
	}
	return dst, nil
}

// appendHeaders appends the frame Header and the field header of a frame
// with one field of n bytes; n must be at most MaxUint32-FieldHeaderLen.
func appendHeaders(dst []byte, t Type, n int) []byte {
	dst = append(dst, syncMark...)
	// The Header's length counts everything after the Header [R-UDS.9].
	dst = binary.BigEndian.AppendUint32(dst, uint32(FieldHeaderLen+n))
	dst = append(dst, byte(t))
	return binary.BigEndian.AppendUint32(dst, uint32(n))
}

// checkHeader validates a frame Header and returns the body length.
func checkHeader(h []byte, limit int) (int, error) {
	if string(h[:4]) != syncMark {
		return 0, fmt.Errorf("%w: % x", ErrSync, h[:4])
	}
	n := binary.BigEndian.Uint32(h[4:HeaderLen])
	if uint64(n) > uint64(limit) {
		return 0, fmt.Errorf("%w: %d bytes, limit %d", ErrFrameTooLarge, n, limit)
	}
	return int(n), nil
}

// checkBody validates that body is one or more whole TLV fields.
func checkBody(body []byte) error {
	if len(body) == 0 {
		return fmt.Errorf("%w: no fields", ErrMalformed)
	}
	for b := body; len(b) > 0; {
		if len(b) < FieldHeaderLen {
			return fmt.Errorf("%w: %d stray bytes after the last field", ErrMalformed, len(b))
		}
		n := binary.BigEndian.Uint32(b[1:FieldHeaderLen])
		if uint64(n) > uint64(len(b)-FieldHeaderLen) {
			return fmt.Errorf("%w: %s field of %d bytes overruns the frame by %d", ErrMalformed,
				Type(b[0]), n, uint64(n)-uint64(len(b)-FieldHeaderLen))
		}
		b = b[FieldHeaderLen+int(n):]
	}
	return nil
}

// ParseFrame decodes the frame at the start of b, whose body may be at most
// limit bytes, and returns it with the number of bytes it took. When b
// holds only part of a frame it returns ErrIncomplete, except that bad
// synchronization bytes are reported as soon as the first 4 bytes are
// there, and an oversize length as soon as the Header is. The Frame refers
// to b. As for NewReader, limit <= 0 means DefaultMaxRecord plus
// FieldHeaderLen.
func ParseFrame(b []byte, limit int) (Frame, int, error) {
	limit = defaultLimit(limit)
	if len(b) < HeaderLen {
		if len(b) >= len(syncMark) && string(b[:4]) != syncMark {
			return Frame{}, 0, fmt.Errorf("%w: % x", ErrSync, b[:4])
		}
		return Frame{}, 0, ErrIncomplete
	}
	n, err := checkHeader(b, limit)
	if err != nil {
		return Frame{}, 0, err
	}
	if len(b)-HeaderLen < n {
		return Frame{}, 0, ErrIncomplete
	}
	body := b[HeaderLen : HeaderLen+n : HeaderLen+n]
	if err := checkBody(body); err != nil {
		return Frame{}, 0, err
	}
	return Frame{body: body}, HeaderLen + n, nil
}

// Reader reads frames from a byte stream, however the stream splits them.
// It is not safe for concurrent use.
type Reader struct {
	r     *bufio.Reader
	limit int
	hdr   [HeaderLen]byte
}

// readBuffer is the size of a Reader's read buffer: small frames cost one
// read call, large bodies are read straight into their own buffer.
const readBuffer = 4096

// NewReader returns a Reader of frames from r whose bodies are at most
// limit bytes; limit <= 0 means DefaultMaxRecord plus FieldHeaderLen.
func NewReader(r io.Reader, limit int) *Reader {
	return &Reader{r: bufio.NewReaderSize(r, readBuffer), limit: defaultLimit(limit)}
}

func defaultLimit(limit int) int {
	if limit <= 0 {
		return DefaultMaxRecord + FieldHeaderLen
	}
	return limit
}

// ReadFrame reads the next frame. The Frame's bytes are newly allocated
// and belong to the caller. It returns io.EOF when the stream ends between
// frames, io.ErrUnexpectedEOF when it ends inside one, and an error
// wrapping ErrSync, ErrFrameTooLarge or ErrMalformed for a frame it cannot
// parse [R-UDS.24]; after an error the stream is out of step and should be
// closed. An oversize frame is refused from its Header, before its body is
// read or a buffer for it allocated.
func (r *Reader) ReadFrame() (Frame, error) {
	// The synchronization bytes are checked before the length is read, so
	// a peer that is not speaking this protocol is found out early.
	if _, err := io.ReadFull(r.r, r.hdr[:len(syncMark)]); err != nil {
		return Frame{}, err
	}
	if string(r.hdr[:4]) != syncMark {
		return Frame{}, fmt.Errorf("%w: % x", ErrSync, r.hdr[:4])
	}
	if _, err := io.ReadFull(r.r, r.hdr[len(syncMark):]); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return Frame{}, err
	}
	n, err := checkHeader(r.hdr[:], r.limit)
	if err != nil {
		return Frame{}, err
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r.r, body); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return Frame{}, err
	}
	if err := checkBody(body); err != nil {
		return Frame{}, err
	}
	return Frame{body: body}, nil
}
