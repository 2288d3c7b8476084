package stomp_test

import (
	"bytes"
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/uspkit/uspkit/mtp/stomp"
)

type frameCase struct {
	name string
	in   string
	want []stomp.Frame // frames before the end or the error
	err  error         // the error after them; nil means io.EOF
}

func hdrs(kv ...string) []stomp.Header {
	var h []stomp.Header
	for i := 0; i < len(kv); i += 2 {
		h = append(h, stomp.Header{Key: kv[i], Value: kv[i+1]})
	}
	return h
}

var frameCases = []frameCase{
	{name: "send with content-length",
		in:   "SEND\ndestination:/queue/a\ncontent-length:3\n\na\x00b\x00",
		want: []stomp.Frame{{Command: "SEND", Headers: hdrs("destination", "/queue/a", "content-length", "3"), Body: []byte("a\x00b")}}},
	{name: "body up to NUL",
		in:   "MESSAGE\nsubscription:0\n\nhello\x00",
		want: []stomp.Frame{{Command: "MESSAGE", Headers: hdrs("subscription", "0"), Body: []byte("hello")}}},
	{name: "CRLF EOLs and heart-beats",
		in:   "\n\r\n\nRECEIPT\r\nreceipt-id:77\r\n\r\n\x00\r\n\n",
		want: []stomp.Frame{{Command: "RECEIPT", Headers: hdrs("receipt-id", "77")}}},
	{name: "escapes",
		in:   "MESSAGE\nreply-to-dest:a\\cb\\nc\\rd\\\\e\nk\\cey:v\n\n\x00",
		want: []stomp.Frame{{Command: "MESSAGE", Headers: hdrs("reply-to-dest", "a:b\nc\rd\\e", "k:ey", "v")}}},
	{name: "CONNECTED is not unescaped",
		in:   "CONNECTED\nversion:1.2\nserver:x\\cy\nsubscribe-dest:/q/a:b\n\n\x00",
		want: []stomp.Frame{{Command: "CONNECTED", Headers: hdrs("version", "1.2", "server", "x\\cy", "subscribe-dest", "/q/a:b")}}},
	{name: "repeated header and empty value",
		in:   "ERROR\nmessage:first\nmessage:second\nempty:\n\nwhy\x00",
		want: []stomp.Frame{{Command: "ERROR", Headers: hdrs("message", "first", "message", "second", "empty", ""), Body: []byte("why")}}},
	{name: "two frames",
		in: "RECEIPT\nreceipt-id:1\n\n\x00\nRECEIPT\nreceipt-id:2\n\n\x00",
		want: []stomp.Frame{{Command: "RECEIPT", Headers: hdrs("receipt-id", "1")},
			{Command: "RECEIPT", Headers: hdrs("receipt-id", "2")}}},
	{name: "zero content-length", in: "SEND\ncontent-length:0\n\n\x00",
		want: []stomp.Frame{{Command: "SEND", Headers: hdrs("content-length", "0")}}},
	{name: "unknown command", in: "HELLO\n\n\x00", err: stomp.ErrMalformed},
	{name: "lower-case command", in: "send\n\n\x00", err: stomp.ErrMalformed},
	{name: "header without colon", in: "SEND\nnocolon\n\n\x00", err: stomp.ErrMalformed},
	{name: "empty header name", in: "SEND\n:v\n\n\x00", err: stomp.ErrMalformed},
	{name: "undefined escape", in: "MESSAGE\nk:a\\tb\n\n\x00", err: stomp.ErrMalformed},
	{name: "trailing backslash", in: "MESSAGE\nk:a\\\n\n\x00", err: stomp.ErrMalformed},
	{name: "content-length not a number", in: "SEND\ncontent-length:1x\n\nx\x00", err: stomp.ErrMalformed},
	{name: "negative content-length", in: "SEND\ncontent-length:-1\n\n\x00", err: stomp.ErrMalformed},
	{name: "content-length too large", in: "SEND\ncontent-length:99999999999\n\n", err: stomp.ErrMalformed},
	{name: "no NUL after sized body", in: "SEND\ncontent-length:1\n\nab\x00", err: stomp.ErrMalformed},
	{name: "CR without LF", in: "\rSEND\n\n\x00", err: stomp.ErrMalformed},
	{name: "body over limit, sized", in: "SEND\ncontent-length:65\n\n", err: stomp.ErrFrameTooLarge},
	{name: "body over limit, NUL-terminated", in: "SEND\n\n" + strings.Repeat("x", 65) + "\x00", err: stomp.ErrFrameTooLarge},
	{name: "headers over limit", in: "SEND\nk:" + strings.Repeat("v", 200) + "\n\n\x00", err: stomp.ErrFrameTooLarge},
	{name: "endless header line", in: "SEND\nk:" + strings.Repeat("v", 200), err: stomp.ErrFrameTooLarge},
	{name: "end inside headers", in: "SEND\nk:v\n", err: io.ErrUnexpectedEOF},
	{name: "end inside body", in: "SEND\ncontent-length:5\n\nab", err: io.ErrUnexpectedEOF},
	{name: "end before NUL", in: "SEND\n\nabc", err: io.ErrUnexpectedEOF},
	{name: "end after CR", in: "\r", err: io.ErrUnexpectedEOF},
}

// readFrames reads frames until an error, with small limits.
func readFrames(rd io.Reader) ([]stomp.Frame, error) {
	r := stomp.NewReader(rd, 128, 64)
	var out []stomp.Frame
	for {
		var f stomp.Frame
		if err := r.ReadFrame(&f); err != nil {
			return out, err
		}
		out = append(out, f)
	}
}

func TestReadFrame(t *testing.T) {
	readers := map[string]func(string) io.Reader{
		"whole":    func(s string) io.Reader { return strings.NewReader(s) },
		"one byte": func(s string) io.Reader { return iotest.OneByteReader(strings.NewReader(s)) },
		"halves":   func(s string) io.Reader { return iotest.HalfReader(strings.NewReader(s)) },
	}
	for _, tc := range frameCases {
		for how, mk := range readers {
			t.Run(tc.name+"/"+how, func(t *testing.T) {
				got, err := readFrames(mk(tc.in))
				want := tc.err
				if want == nil {
					want = io.EOF
				}
				if !errors.Is(err, want) {
					t.Errorf("error %v, want %v", err, want)
				}
				if diff := cmp.Diff(tc.want, got, cmpopts.EquateEmpty()); diff != "" {
					t.Errorf("frames (-want +got):\n%s", diff)
				}
			})
		}
	}
}

func TestFrameGet(t *testing.T) {
	f := stomp.Frame{Headers: hdrs("a", "1", "a", "2")}
	if v, ok := f.Get("a"); !ok || v != "1" {
		t.Errorf("Get(a) = %q, %v; want the first, 1", v, ok)
	}
	if _, ok := f.Get("b"); ok {
		t.Error("Get(b) found a header")
	}
}

func TestAppendFrame(t *testing.T) {
	cases := []struct {
		name string
		f    stomp.Frame
		want string
		err  bool
	}{
		{name: "escaped", f: stomp.Frame{Command: "STOMP", Headers: hdrs("endpoint-id", "proto::a\\b\r\n")},
			want: "STOMP\nendpoint-id:proto\\c\\ca\\\\b\\r\\n\n\n\x00"},
		{name: "CONNECT unescaped", f: stomp.Frame{Command: "CONNECT", Headers: hdrs("login", "a:b\\c")},
			want: "CONNECT\nlogin:a:b\\c\n\n\x00"},
		{name: "sized body", f: stomp.Frame{Command: "SEND", Headers: hdrs("content-length", "2"), Body: []byte{0, 1}},
			want: "SEND\ncontent-length:2\n\n\x00\x01\x00"},
		{name: "unknown command", f: stomp.Frame{Command: "PING"}, err: true},
		{name: "empty header name", f: stomp.Frame{Command: "SEND", Headers: hdrs("", "v")}, err: true},
		{name: "CONNECT LF in value", f: stomp.Frame{Command: "CONNECT", Headers: hdrs("k", "a\nb")}, err: true},
		{name: "CONNECT colon in key", f: stomp.Frame{Command: "CONNECT", Headers: hdrs("k:", "v")}, err: true},
		{name: "CONNECTED trailing CR", f: stomp.Frame{Command: "CONNECTED", Headers: hdrs("k", "v\r")}, err: true},
		{name: "NUL without content-length", f: stomp.Frame{Command: "SEND", Body: []byte{0}}, err: true},
		{name: "content-length mismatch", f: stomp.Frame{Command: "SEND", Headers: hdrs("content-length", "3"), Body: []byte{1}}, err: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := stomp.AppendFrame([]byte("x"), &tc.f)
			if tc.err {
				if !errors.Is(err, stomp.ErrMalformed) {
					t.Fatalf("error %v, want ErrMalformed", err)
				}
				return
			}
			if err != nil || string(got) != "x"+tc.want {
				t.Fatalf("AppendFrame = %q, %v; want %q", got, err, "x"+tc.want)
			}
			back, err := readFrames(strings.NewReader(tc.want))
			if err != io.EOF || len(back) != 1 {
				t.Fatalf("read back %d frames, %v", len(back), err)
			}
			if diff := cmp.Diff(tc.f, back[0], cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("round trip (-sent +read):\n%s", diff)
			}
		})
	}
}

// repeatReader yields its data over and over.
type repeatReader struct {
	data []byte
	off  int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	n := copy(p, r.data[r.off:])
	r.off = (r.off + n) % len(r.data)
	return n, nil
}

// messageFrame is a MESSAGE as RabbitMQ delivers a USP Record.
func messageFrame(size int) []byte {
	f := stomp.Frame{Command: "MESSAGE", Headers: hdrs(
		"subscription", "usp", "destination", "/queue/usp.agent", "message-id", "T_usp@@session-Hk2x@@1",
		"redelivered", "false", "content-type", "application/vnd.bbf.usp.msg",
		"reply-to-dest", "/queue/usp.controller", "content-length", strconv.Itoa(size)),
		Body: bytes.Repeat([]byte{0xA5}, size)}
	b, err := stomp.AppendFrame(nil, &f)
	if err != nil {
		panic(err)
	}
	return append(b, '\n')
}

// TestReadFrameAllocs guards the read path: one string for all header
// text and one body, the Record the handler owns.
func TestReadFrameAllocs(t *testing.T) {
	r := stomp.NewReader(&repeatReader{data: messageFrame(300)}, 0, 0)
	var f stomp.Frame
	allocs := testing.AllocsPerRun(1000, func() {
		if err := r.ReadFrame(&f); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 2 {
		t.Errorf("ReadFrame of a MESSAGE: %v allocations, want at most 2", allocs)
	}
}

func BenchmarkFrameRead(b *testing.B) {
	for _, size := range []int{256, 4 << 10, 64 << 10} {
		b.Run(strconv.Itoa(size), func(b *testing.B) {
			data := messageFrame(size)
			r := stomp.NewReader(&repeatReader{data: data}, 0, 0)
			var f stomp.Frame
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				if err := r.ReadFrame(&f); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
