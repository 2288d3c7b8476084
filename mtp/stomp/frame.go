package stomp

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Frame limits.
const (
	// DefaultMaxHeader bounds the command line and headers of one frame,
	// EOLs included.
	DefaultMaxHeader = 8 << 10
	// bodyHeadroom is how far an inbound body may exceed the largest
	// Record: room for ERROR frame text and brokers that pad.
	bodyHeadroom = 4 << 10
	// maxLengthDigits bounds a content-length value before it is parsed.
	maxLengthDigits = 10
)

// Errors the frame codec returns, wrapped with detail.
var (
	// ErrMalformed reports bytes that are not a STOMP 1.2 frame.
	ErrMalformed = errors.New("stomp: malformed frame")
	// ErrFrameTooLarge reports a header section or body over the
	// Reader's limits.
	ErrFrameTooLarge = errors.New("stomp: frame too large")
)

// Header is one STOMP header, unescaped.
type Header struct {
	Key, Value string
}

// Frame is one STOMP 1.2 frame. Headers keep their wire order, repeats
// included; Get returns the first, which is the one that counts.
type Frame struct {
	Command string
	Headers []Header
	Body    []byte
}

// Get returns the value of the first header named key.
func (f *Frame) Get(key string) (string, bool) {
	for _, h := range f.Headers {
		if h.Key == key {
			return h.Value, true
		}
	}
	return "", false
}

// commands lists the frames of STOMP 1.2, client's and server's.
var commands = [...]string{
	"SEND", "MESSAGE", "RECEIPT", "ERROR", "CONNECTED", "CONNECT", "STOMP",
	"SUBSCRIBE", "UNSUBSCRIBE", "ACK", "NACK", "BEGIN", "COMMIT", "ABORT", "DISCONNECT",
}

// command returns the canonical string of a known command, or "".
func command(s string) string {
	for _, c := range commands {
		if s == c {
			return c
		}
	}
	return ""
}

// escaped reports whether a command's headers use the STOMP 1.2 escapes:
// all but CONNECT and CONNECTED do.
func escaped(cmd string) bool {
	return cmd != "CONNECT" && cmd != "CONNECTED"
}

// Reader reads STOMP frames from a stream, however the stream splits
// them. It skips heart-beat EOLs between frames and rejects a header
// section or a body over its limits before allocating for it. A Reader is
// not safe for concurrent use.
type Reader struct {
	rd        io.Reader
	buf       []byte // unread bytes are buf[r:w]
	r, w      int
	maxHeader int
	maxBody   int
}

// NewReader returns a Reader of rd that accepts at most maxHeader bytes of
// command and headers and maxBody bytes of body; zero or less means
// DefaultMaxHeader and DefaultMaxRecord plus some headroom.
func NewReader(rd io.Reader, maxHeader, maxBody int) *Reader {
	if maxHeader <= 0 {
		maxHeader = DefaultMaxHeader
	}
	if maxBody <= 0 {
		maxBody = DefaultMaxRecord + bodyHeadroom
	}
	return &Reader{rd: rd, buf: make([]byte, 4096), maxHeader: maxHeader, maxBody: maxBody}
}

// ReadFrame reads the next frame into f, reusing f.Headers' array. The
// body is newly allocated, so the caller owns it. At a clean end of the
// stream between frames it returns io.EOF; a stream that ends inside a
// frame gives io.ErrUnexpectedEOF. Any error leaves the stream out of
// step: the connection is to be dropped.
func (r *Reader) ReadFrame(f *Frame) error {
	f.Command, f.Headers, f.Body = "", f.Headers[:0], nil
	if err := r.skipHeartbeats(); err != nil {
		return err
	}
	n, err := r.headerEnd()
	if err != nil {
		return err
	}
	// One string holds all header text; headers are substrings of it.
	head := string(r.buf[r.r : r.r+n])
	r.r += n
	if err := parseHead(head, f); err != nil {
		return err
	}
	if v, ok := f.Get("content-length"); ok {
		return r.readSized(f, v)
	}
	return r.readTerminated(f)
}

// skipHeartbeats consumes EOLs before a frame.
func (r *Reader) skipHeartbeats() error {
	for {
		if r.r == r.w {
			if err := r.fill(); err != nil {
				return err
			}
			continue
		}
		switch r.buf[r.r] {
		case '\n':
			r.r++
		case '\r':
			if err := r.need(2); err != nil {
				return err
			}
			if r.buf[r.r+1] != '\n' {
				return fmt.Errorf("%w: CR without LF", ErrMalformed)
			}
			r.r += 2
		default:
			return nil
		}
	}
}

// headerEnd buffers the command line and the headers and returns their
// length up to and including the blank line that ends them.
func (r *Reader) headerEnd() (int, error) {
	scan, line := 0, 0 // offsets from r.r: scanned so far, start of line
	for {
		i := bytes.IndexByte(r.buf[r.r+scan:r.w], '\n')
		if i < 0 {
			scan = r.w - r.r
			if scan > r.maxHeader {
				return 0, fmt.Errorf("%w: headers over %d bytes", ErrFrameTooLarge, r.maxHeader)
			}
			if err := r.fill(); err != nil {
				return 0, eofInFrame(err)
			}
			continue
		}
		nl := scan + i
		if nl+1 > r.maxHeader {
			return 0, fmt.Errorf("%w: headers over %d bytes", ErrFrameTooLarge, r.maxHeader)
		}
		if l := r.buf[r.r+line : r.r+nl]; line > 0 && (len(l) == 0 || len(l) == 1 && l[0] == '\r') {
			return nl + 1, nil
		}
		line, scan = nl+1, nl+1
	}
}

// parseHead parses the command line and headers of head, which ends with
// the blank line.
func parseHead(head string, f *Frame) error {
	line, rest := nextLine(head)
	if f.Command = command(line); f.Command == "" {
		return fmt.Errorf("%w: unknown command %q", ErrMalformed, clip(line))
	}
	esc := escaped(f.Command)
	for {
		line, rest = nextLine(rest)
		if line == "" {
			return nil
		}
		h, err := parseHeader(line, esc)
		if err != nil {
			return err
		}
		f.Headers = append(f.Headers, h)
	}
}

// nextLine splits s after its first LF, dropping the EOL.
func nextLine(s string) (line, rest string) {
	i := strings.IndexByte(s, '\n')
	if i < 0 {
		return s, ""
	}
	line, rest = s[:i], s[i+1:]
	return strings.TrimSuffix(line, "\r"), rest
}

// parseHeader splits a header line at its first colon. A colon later in
// the value is taken literally, as lenient peers send it.
func parseHeader(line string, esc bool) (Header, error) {
	i := strings.IndexByte(line, ':')
	if i <= 0 {
		return Header{}, fmt.Errorf("%w: header line %q", ErrMalformed, clip(line))
	}
	h := Header{Key: line[:i], Value: line[i+1:]}
	if !esc {
		return h, nil
	}
	var err error
	if h.Key, err = unescape(h.Key); err != nil {
		return h, err
	}
	h.Value, err = unescape(h.Value)
	return h, err
}

// unescape undoes the STOMP 1.2 header escapes; any other backslash
// sequence is a fatal protocol error, as the STOMP Specification says.
func unescape(s string) (string, error) {
	i := strings.IndexByte(s, '\\')
	if i < 0 {
		return s, nil
	}
	b := make([]byte, 0, len(s))
	for ; i >= 0; i = strings.IndexByte(s, '\\') {
		b = append(b, s[:i]...)
		if i+1 == len(s) {
			return "", fmt.Errorf("%w: header ends in a backslash", ErrMalformed)
		}
		switch s[i+1] {
		case '\\':
			b = append(b, '\\')
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 'c':
			b = append(b, ':')
		default:
			return "", fmt.Errorf("%w: undefined escape \\%c", ErrMalformed, s[i+1])
		}
		s = s[i+2:]
	}
	return string(append(b, s...)), nil
}

// readSized reads a body of content-length bytes and its NUL.
func (r *Reader) readSized(f *Frame, v string) error {
	n, err := parseLength(v)
	if err != nil {
		return err
	}
	if n > r.maxBody {
		return fmt.Errorf("%w: body of %d bytes over %d", ErrFrameTooLarge, n, r.maxBody)
	}
	if n > 0 {
		f.Body = make([]byte, n)
		k := copy(f.Body, r.buf[r.r:r.w])
		r.r += k
		if k < n {
			if _, err := io.ReadFull(r.rd, f.Body[k:]); err != nil {
				return eofInFrame(err)
			}
		}
	}
	if err := r.need(1); err != nil {
		return err
	}
	if r.buf[r.r] != 0 {
		return fmt.Errorf("%w: no NUL after %d bytes of body", ErrMalformed, n)
	}
	r.r++
	return nil
}

// parseLength parses a content-length value: decimal digits only.
func parseLength(v string) (int, error) {
	if v == "" || len(v) > maxLengthDigits {
		return 0, fmt.Errorf("%w: content-length %q", ErrMalformed, clip(v))
	}
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return 0, fmt.Errorf("%w: content-length %q", ErrMalformed, clip(v))
		}
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Errorf("%w: content-length %q", ErrMalformed, clip(v))
	}
	return n, nil
}

// readTerminated reads a body that ends at the first NUL.
func (r *Reader) readTerminated(f *Frame) error {
	scan := 0
	for {
		i := bytes.IndexByte(r.buf[r.r+scan:r.w], 0)
		if i >= 0 {
			n := scan + i
			if n > r.maxBody {
				break
			}
			if n > 0 {
				f.Body = append([]byte(nil), r.buf[r.r:r.r+n]...)
			}
			r.r += n + 1
			return nil
		}
		scan = r.w - r.r
		if scan > r.maxBody {
			break
		}
		if err := r.fill(); err != nil {
			return eofInFrame(err)
		}
	}
	return fmt.Errorf("%w: body over %d bytes", ErrFrameTooLarge, r.maxBody)
}

// need buffers at least n unread bytes.
func (r *Reader) need(n int) error {
	for r.w-r.r < n {
		if err := r.fill(); err != nil {
			return eofInFrame(err)
		}
	}
	return nil
}

// fill reads more bytes, first making room by moving the unread ones to
// the front or, when they fill the buffer, by doubling it. Callers check
// their limits before calling, which bounds the buffer.
func (r *Reader) fill() error {
	if r.r == r.w {
		r.r, r.w = 0, 0
	}
	if r.w == len(r.buf) {
		if r.r > 0 {
			r.w = copy(r.buf, r.buf[r.r:r.w])
			r.r = 0
		} else {
			r.buf = append(r.buf, make([]byte, len(r.buf))...)
		}
	}
	for range 100 {
		n, err := r.rd.Read(r.buf[r.w:])
		r.w += n
		if n > 0 {
			return nil
		}
		if err != nil {
			return err
		}
	}
	return io.ErrNoProgress
}

// eofInFrame turns io.EOF inside a frame into io.ErrUnexpectedEOF.
func eofInFrame(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// clip shortens s for an error message.
func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// AppendFrame appends the wire form of f to dst. Headers are escaped,
// except in CONNECT and CONNECTED frames where STOMP 1.2 has no escapes
// (so their headers may not hold an LF, nor a key a colon). A body that
// holds a NUL needs a content-length header, and a content-length header
// must match the body.
func AppendFrame(dst []byte, f *Frame) ([]byte, error) {
	if command(f.Command) == "" {
		return dst, fmt.Errorf("%w: unknown command %q", ErrMalformed, clip(f.Command))
	}
	if err := checkBody(f); err != nil {
		return dst, err
	}
	esc := escaped(f.Command)
	dst = append(append(dst, f.Command...), '\n')
	for _, h := range f.Headers {
		if h.Key == "" {
			return dst, fmt.Errorf("%w: empty header name", ErrMalformed)
		}
		if esc {
			dst = append(appendEscaped(dst, h.Key), ':')
			dst = append(appendEscaped(dst, h.Value), '\n')
			continue
		}
		if strings.ContainsAny(h.Key, ":\n") || strings.Contains(h.Value, "\n") || strings.HasSuffix(h.Value, "\r") {
			return dst, fmt.Errorf("%w: %s header %q cannot be sent unescaped", ErrMalformed, f.Command, clip(h.Key))
		}
		dst = append(append(append(append(dst, h.Key...), ':'), h.Value...), '\n')
	}
	dst = append(append(dst, '\n'), f.Body...)
	return append(dst, 0), nil
}

// checkBody checks that a reader will find the end of f's body.
func checkBody(f *Frame) error {
	v, ok := f.Get("content-length")
	if !ok {
		if bytes.IndexByte(f.Body, 0) >= 0 {
			return fmt.Errorf("%w: body holds a NUL but has no content-length", ErrMalformed)
		}
		return nil
	}
	if n, err := parseLength(v); err != nil || n != len(f.Body) {
		return fmt.Errorf("%w: content-length %q for a body of %d bytes", ErrMalformed, clip(v), len(f.Body))
	}
	return nil
}

// appendEscaped appends s with the STOMP 1.2 header escapes.
func appendEscaped(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			dst = append(dst, '\\', '\\')
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case ':':
			dst = append(dst, '\\', 'c')
		default:
			dst = append(dst, c)
		}
	}
	return dst
}
