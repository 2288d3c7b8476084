package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// deviceTarget is one CPU the device build is made for, with the sizes
// its stripped binaries must stay within.
type deviceTarget struct {
	name    string
	env     []string // GOARCH and its variant
	budget  int64    // bytes, stripped (-s -w -trimpath), -tags usp_device
	noproto int64    // -tags usp_device,usp_noproto (the OpenWrt package's default)
	minimal int64    // with every feature tag and usp_noproto (minimalTags, tags_test.go)
	short   bool     // built in the default run; the others with USP_CROSS_ALL=1
}

// deviceTargets are the CPUs of home routers and gateways, and the PCs the
// Agent also runs on. The budgets are the sizes measured (docs/perf.md,
// "The device build") plus 5%: a change that grows the Agent past one
// fails here and has to say why in the budget. They are well over the
// 6 MB once aimed at for mipsle, even for the minimal CPE: a program that
// only makes one HTTPS request and encodes one USP Msg is 8.4 MB there
// already (docs/perf.md).
var deviceTargets = []deviceTarget{
	{"mipsle", []string{"GOARCH=mipsle", "GOMIPS=softfloat"}, 17_700_000, 15_900_000, 12_200_000, true},
	{"mips", []string{"GOARCH=mips", "GOMIPS=softfloat"}, 17_700_000, 15_900_000, 12_200_000, false},
	{"armv5", []string{"GOARCH=arm", "GOARM=5"}, 15_500_000, 14_000_000, 10_800_000, false},
	{"armv7", []string{"GOARCH=arm", "GOARM=7"}, 15_500_000, 13_900_000, 10_700_000, false},
	{"arm64", []string{"GOARCH=arm64"}, 15_100_000, 13_500_000, 10_300_000, true},
	{"riscv64", []string{"GOARCH=riscv64"}, 14_400_000, 12_800_000, 9_800_000, false},
	{"386", []string{"GOARCH=386"}, 15_500_000, 13_900_000, 10_700_000, false},
	{"amd64", []string{"GOARCH=amd64"}, 16_200_000, 14_500_000, 11_200_000, false},
}

// buildDevice cross-builds the device agent for env into dir and returns
// the binary's path.
func buildDevice(t testing.TB, dir string, env []string) string {
	t.Helper()
	return buildDeviceTags(t, dir, env)
}

// buildDeviceTags is buildDevice with the build tags tags added to
// usp_device (usp_bolt, the feature tags of tags_test.go).
func buildDeviceTags(t testing.TB, dir string, env []string, tags ...string) string {
	t.Helper()
	bin := filepath.Join(dir, "usp-agent")
	cmd := exec.Command("go", "build", "-tags", strings.Join(append([]string{"usp_device"}, tags...), ","), "-trimpath", "-ldflags=-s -w", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	cmd.Env = append(cmd.Env, env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %v: %v\n%s", env, err, out)
	}
	return bin
}

// TestSizeBudget cross-builds the device agent (usp_device, CGO_ENABLED=0,
// stripped), as is, without the protobuf runtime (usp_noproto) and as the
// minimal CPE (every feature tag and usp_noproto), and fails
// when a target's binary is over its budget. By default it builds mipsle
// and arm64; USP_CROSS_ALL=1 builds every target.
func TestSizeBudget(t *testing.T) {
	if testing.Short() {
		t.Skip("cross builds take minutes on a small machine")
	}
	all := os.Getenv("USP_CROSS_ALL") == "1"
	for _, tg := range deviceTargets {
		for _, p := range []struct {
			name   string
			tags   []string
			budget int64
		}{{"device", nil, tg.budget}, {"noproto", []string{"usp_noproto"}, tg.noproto}, {"minimal", minimalTags(), tg.minimal}} {
			t.Run(tg.name+"/"+p.name, func(t *testing.T) {
				if !tg.short && !all {
					t.Skip("USP_CROSS_ALL=1 builds this target")
				}
				t.Parallel()
				bin := buildDeviceTags(t, t.TempDir(), tg.env, p.tags...)
				fi, err := os.Stat(bin)
				if err != nil {
					t.Fatal(err)
				}
				t.Logf("linux/%s %v %s: %d bytes stripped (budget %d)", tg.name, tg.env, p.name, fi.Size(), p.budget)
				if fi.Size() > p.budget {
					t.Errorf("linux/%s %s: %d bytes, over the budget of %d", tg.name, p.name, fi.Size(), p.budget)
				}
			})
		}
	}
}

// TestDeviceBuildLeavesOut checks that the device build links none of
// what a CPE does not run: SQLite (no mips port), the Controller and its
// REST API, the MQTT broker, PostgreSQL, the conformance runner, the
// profiler, bbolt (without usp_bolt) and the protobuf JSON codec.
func TestDeviceBuildLeavesOut(t *testing.T) {
	cmd := exec.Command("go", "list", "-e", "-tags", "usp_device", "-deps", ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=mipsle")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	deps := strings.Fields(string(out))
	for _, bad := range []string{
		"modernc.org/sqlite",
		"github.com/uspkit/uspkit/store/sqlite",
		"github.com/uspkit/uspkit/store/postgres",
		"github.com/uspkit/uspkit/controller",
		"github.com/uspkit/uspkit/conformance",
		"github.com/uspkit/uspkit/broker",
		"github.com/uspkit/uspkit/telemetry",
		"github.com/jackc/pgx/v5",
		"net/http/pprof",
		"go.etcd.io/bbolt",                    // only with usp_bolt
		"github.com/uspkit/uspkit/store/bolt", // only with usp_bolt
	} {
		for _, d := range deps {
			if d == bad {
				t.Errorf("the device build links %s: a file of internal/cli that imports it (go list -tags usp_device -deps) needs //go:build !usp_device", bad)
			}
		}
	}
}
