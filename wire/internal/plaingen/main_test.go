package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestReproducesWire runs the generator on copies of wire's generated
// files, as committed, and checks that it writes them again unchanged: the
// plain form, the checks and the constraints are what wire/gen.sh makes
// (the CI's go generate check runs protoc as well).
func TestReproducesWire(t *testing.T) {
	src := filepath.Join("..", "..")
	dir := t.TempDir()
	files := []string{
		"usp_msg.proto", "usp_msg.pb.go", "usp_msg_vtproto.pb.go", "usp_msg_plain.go", "usp_msg_check.go",
		"usp_record.proto", "usp_record.pb.go", "usp_record_vtproto.pb.go", "usp_record_plain.go",
	}
	want := map[string][]byte{}
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			t.Fatal(err)
		}
		want[f] = b
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	t.Chdir(dir)
	for _, tc := range []struct {
		name  string
		check bool
	}{{"usp_msg", true}, {"usp_record", false}} {
		if err := run(tc.name, tc.check); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range files {
		got, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want[f]) {
			t.Errorf("%s differs from wire's: run go generate ./wire", f)
		}
	}
}

// TestEntryName checks the name protoc gives a map field's entry message.
func TestEntryName(t *testing.T) {
	for in, want := range map[string]string{"input_args": "InputArgsEntry", "unique_keys": "UniqueKeysEntry", "x": "XEntry"} {
		if got := entryName(in); got != want {
			t.Errorf("entryName(%q) = %q, want %q", in, got, want)
		}
	}
}
