package cli_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/uspkit/uspkit/internal/cli"
	"github.com/uspkit/uspkit/record"
	"github.com/uspkit/uspkit/wire"
)

const goldenDir = "../../record/testdata/golden"

// run calls the CLI in-process and returns stdout, stderr and the status.
func run(t *testing.T, stdin []byte, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := cli.Main(context.Background(), args, bytes.NewReader(stdin), &out, &errb)
	return out.String(), errb.String(), code
}

func golden(t *testing.T, pattern string) []string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(goldenDir, pattern))
	if len(files) == 0 {
		t.Fatalf("no golden files %s", pattern)
	}
	return files
}

// wantRecord reads the text a golden record was encoded from, with its
// payload Msg decoded.
func wantRecord(t *testing.T, bin string) (*wire.Record, *wire.Msg) {
	t.Helper()
	txt, err := os.ReadFile(strings.TrimSuffix(bin, ".bin") + ".txtpb")
	if err != nil {
		t.Fatal(err)
	}
	var w wire.Record
	if err := prototext.Unmarshal(txt, &w); err != nil {
		t.Fatal(err)
	}
	var m *wire.Msg
	if p := w.GetNoSessionContext().GetPayload(); p != nil {
		m = new(wire.Msg)
		if err := proto.Unmarshal(p, m); err != nil {
			t.Fatal(err)
		}
	}
	return &w, m
}

// TestDecodeGolden checks that `usp decode` reads records encoded by protoc
// from the published schema to the fields of the text they came from, and
// that `usp encode` turns that output back into the same record.
func TestDecodeGolden(t *testing.T) {
	for _, bin := range golden(t, "*.record.bin") {
		t.Run(filepath.Base(bin), func(t *testing.T) {
			out, stderr, code := run(t, nil, "decode", bin)
			if code != 0 || stderr != "" {
				t.Fatalf("decode: status %d, stderr %q", code, stderr)
			}
			var got record.Record
			if err := got.UnmarshalJSON([]byte(out)); err != nil {
				t.Fatalf("decode printed unreadable JSON: %v\n%s", err, out)
			}
			want, wantMsg := wantRecord(t, bin)
			gw := got.Wire()
			if wantMsg != nil {
				var gotMsg wire.Msg
				if err := proto.Unmarshal(got.Payload, &gotMsg); err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(wantMsg, &gotMsg, protocmp.Transform()); diff != "" {
					t.Errorf("payload Msg (-want +got):\n%s", diff)
				}
				gw.GetNoSessionContext().Payload = want.GetNoSessionContext().GetPayload()
			}
			if diff := cmp.Diff(want, gw, protocmp.Transform()); diff != "" {
				t.Errorf("record (-want +got):\n%s", diff)
			}

			enc, stderr, code := run(t, []byte(out), "encode")
			if code != 0 {
				t.Fatalf("encode: status %d: %s", code, stderr)
			}
			again, _, code := run(t, []byte(enc), "decode")
			if code != 0 || again != out {
				t.Errorf("encode|decode changed the record:\n%s\n%s", out, again)
			}
		})
	}
}

func TestDecodeMsgGolden(t *testing.T) {
	for _, bin := range golden(t, "*.msg.bin") {
		t.Run(filepath.Base(bin), func(t *testing.T) {
			out, stderr, code := run(t, nil, "decode", "--msg", bin)
			if code != 0 {
				t.Fatalf("status %d: %s", code, stderr)
			}
			got, err := record.ParseMsgJSON([]byte(out))
			if err != nil {
				t.Fatal(err)
			}
			txt, _ := os.ReadFile(strings.TrimSuffix(bin, ".bin") + ".txtpb")
			var want wire.Msg
			if err := prototext.Unmarshal(txt, &want); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(&want, got, protocmp.Transform()); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			enc, _, code := run(t, []byte(out), "encode", "--msg")
			var back wire.Msg
			if code != 0 || proto.Unmarshal([]byte(enc), &back) != nil || !proto.Equal(&back, &want) {
				t.Errorf("encode --msg did not round-trip")
			}
		})
	}
}

func TestMalformedInput(t *testing.T) {
	valid, err := os.ReadFile(filepath.Join(goldenDir, "nosession_get.record.bin"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		stdin []byte
		args  []string
		want  string
		code  int
	}{
		{"truncated record", valid[:len(valid)-3], []string{"decode"}, "7100", 1},
		{"garbage", []byte{0xff, 0xff, 0xff}, []string{"decode"}, "could not be parsed", 1},
		{"empty", nil, []string{"decode"}, "empty", 1},
		{"garbage msg", []byte{0x0a, 0x09}, []string{"decode", "--msg"}, "not a valid USP Msg", 1},
		{"payload not a msg", mustHex(t, "0a03312e331201741a01663a051203ffffff"), []string{"decode"}, "payload is not a valid USP Msg", 1},
		{"bad json", []byte("{"), []string{"encode"}, "record JSON", 1},
		{"unknown field", []byte(`{"to":"x"}`), []string{"encode"}, "record JSON", 1},
		{"bad msg json", []byte(`{"header":{"msg_type":"NOPE"}}`), []string{"encode", "--msg"}, "msg JSON", 1},
		{"missing file", nil, []string{"decode", "/nonexistent/file"}, "no such file", 1},
		{"two files", nil, []string{"decode", "a", "b"}, "at most one", 2},
		{"bad flag", nil, []string{"decode", "--nope"}, "flag provided but not defined", 2},
		{"unknown command", nil, []string{"frobnicate"}, "unknown command", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, stderr, code := run(t, tt.stdin, tt.args...)
			if code != tt.code {
				t.Errorf("status %d, want %d (stderr %q)", code, tt.code, stderr)
			}
			if !strings.Contains(stderr, tt.want) {
				t.Errorf("stderr %q does not mention %q", stderr, tt.want)
			}
			if strings.Contains(stderr, "goroutine") || strings.Contains(stderr, "panic") {
				t.Errorf("stack trace printed: %s", stderr)
			}
			if tt.code == 1 && strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
				t.Errorf("error is not one line: %q", stderr)
			}
		})
	}
}

func TestInvalidRecordWarns(t *testing.T) {
	in, _ := (&record.Record{Version: "1.3", ToID: "self::a", Type: record.TypeWebSocketConnect}).MarshalBinary()
	out, stderr, code := run(t, in, "decode")
	if code != 0 || !strings.Contains(stderr, "from_id is required") || !strings.Contains(out, "websocket_connect") {
		t.Errorf("status %d, stderr %q, out %q", code, stderr, out)
	}
}

func TestVersionAndHelp(t *testing.T) {
	out, _, code := run(t, nil, "version")
	if code != 0 || !strings.Contains(out, "USP 1.3") {
		t.Errorf("version: %d %q", code, out)
	}
	out, _, code = run(t, nil, "help")
	if code != 0 || !strings.Contains(out, "decode") || !strings.Contains(out, "encode") {
		t.Errorf("help: %d %q", code, out)
	}
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
