package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// protowire is the one package of the protobuf module the usp_noproto
// build may link (wire's checks and record's codec read the wire format
// with it); it has no reflection.
const protowire = "google.golang.org/protobuf/encoding/protowire"

// goListDeps is go list -deps of pkg with tags, for linux/mipsle.
func goListDeps(t *testing.T, tags, pkg string) []string {
	t.Helper()
	cmd := exec.Command("go", "list", "-tags", tags, "-deps", pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=mipsle")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -tags %s -deps %s: %v", tags, pkg, err)
	}
	return strings.Fields(string(out))
}

// TestDeviceBuildNoProtoRuntime checks that the device build with
// usp_noproto, as is and as the minimal CPE, links none of the protobuf
// runtime (proto, reflection, protoimpl and their internal packages): only
// protowire and what protowire itself imports.
func TestDeviceBuildNoProtoRuntime(t *testing.T) {
	allowed := map[string]bool{}
	for _, d := range goListDeps(t, "", protowire) {
		allowed[d] = true
	}
	for _, tags := range []string{"usp_device,usp_noproto", "usp_device," + strings.Join(minimalTags(), ",")} {
		deps := goListDeps(t, tags, ".")
		linked := false
		for _, d := range deps {
			if !strings.HasPrefix(d, "google.golang.org/protobuf/") {
				continue
			}
			linked = linked || d == protowire
			if !allowed[d] {
				t.Errorf("-tags %s links %s: a file that imports it needs //go:build !usp_noproto, or wire's codec instead of the proto package", tags, d)
			}
		}
		if !linked {
			t.Errorf("-tags %s: %s is not linked; is the test still looking at the right build?", tags, protowire)
		}
	}
	// Without the tag the protobuf runtime is there: the test can tell.
	found := false
	for _, d := range goListDeps(t, "usp_device", ".") {
		found = found || d == "google.golang.org/protobuf/proto"
	}
	if !found {
		t.Error("the device build without usp_noproto does not link google.golang.org/protobuf/proto")
	}
}
