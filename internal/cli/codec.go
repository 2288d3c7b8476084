//go:build !usp_device

package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"google.golang.org/protobuf/proto"

	"github.com/uspkit/uspkit/record"
	"github.com/uspkit/uspkit/wire"
)

// maxInput bounds what decode and encode read, so a wrong file cannot
// exhaust memory; it matches the largest Record the codec accepts.
const maxInput = record.DefaultMaxSize

func runDecode(_ context.Context, e *env, args []string) error {
	fs := newFlags(e, "decode", "[FILE]")
	msgOnly := fs.Bool("msg", false, "the input is a bare USP Msg, not a Record")
	if err := parse(fs, args); err != nil {
		return err
	}
	in, err := readInput(e, fs.Args())
	if err != nil {
		return err
	}
	var out []byte
	if *msgOnly {
		out, err = decodeMsg(in)
	} else {
		out, err = decodeRecord(e, in)
	}
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, out, "", "  "); err != nil {
		return err
	}
	buf.WriteByte('\n')
	_, err = e.stdout.Write(buf.Bytes())
	return err
}

func decodeMsg(in []byte) ([]byte, error) {
	var m wire.Msg
	if err := proto.Unmarshal(in, &m); err != nil {
		return nil, fmt.Errorf("not a valid USP Msg: %w", err)
	}
	return record.MsgJSON(&m)
}

func decodeRecord(e *env, in []byte) ([]byte, error) {
	var r record.Record
	if err := record.Decode(in, &r, nil); err != nil {
		return nil, err
	}
	if err := r.Validate(); err != nil {
		fmt.Fprintf(e.stderr, "usp decode: warning: %s\n", oneLine(err.Error()))
	}
	return r.MarshalJSON()
}

func runEncode(_ context.Context, e *env, args []string) error {
	fs := newFlags(e, "encode", "[FILE]")
	msgOnly := fs.Bool("msg", false, "the input is a USP Msg, not a Record")
	outFile := fs.String("o", "", "write to this file instead of standard output")
	if err := parse(fs, args); err != nil {
		return err
	}
	in, err := readInput(e, fs.Args())
	if err != nil {
		return err
	}
	var out []byte
	if *msgOnly {
		var m *wire.Msg
		if m, err = record.ParseMsgJSON(in); err == nil {
			out, err = proto.MarshalOptions{Deterministic: true}.Marshal(m)
		}
	} else {
		var r record.Record
		if err = r.UnmarshalJSON(in); err == nil {
			out, err = r.AppendBinary(nil)
		}
	}
	if err != nil {
		return err
	}
	if *outFile != "" {
		return os.WriteFile(*outFile, out, 0o644)
	}
	_, err = e.stdout.Write(out)
	return err
}

// readInput reads the named file, or stdin when no file or "-" is named,
// refusing empty or oversize input.
func readInput(e *env, args []string) ([]byte, error) {
	if len(args) > 1 {
		return nil, fmt.Errorf("at most one input file (%w)", errUsage)
	}
	r, name := e.stdin, "standard input"
	if len(args) == 1 && args[0] != "-" {
		f, err := os.Open(args[0])
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r, name = f, args[0]
	}
	b, err := io.ReadAll(io.LimitReader(r, maxInput+1))
	switch {
	case err != nil:
		return nil, fmt.Errorf("reading %s: %w", name, err)
	case len(b) == 0:
		return nil, fmt.Errorf("%s is empty", name)
	case len(b) > maxInput:
		return nil, fmt.Errorf("%s is larger than %d bytes", name, maxInput)
	}
	return b, nil
}
