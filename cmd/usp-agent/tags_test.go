package main

import (
	"os/exec"
	"strings"
	"testing"
)

// deviceFeature is a build tag that leaves a subsystem out of the device
// build (docs/deploy.md, "A smaller device build"): the packages it
// leaves out, the configuration section it refuses, and the objects of
// the supported data model that go with it.
type deviceFeature struct {
	tag      string
	packages []string // gone from go list -deps
	section  string   // YAML refused with "not in this build (tag)"
	objects  []string // gone from GetSupportedDM of Device.
}

var deviceFeatures = []deviceFeature{
	{"usp_nodiag", []string{"github.com/uspkit/uspkit/tr181/ipdiag", "golang.org/x/net/icmp"}, "",
		[]string{"Device.IP.Diagnostics.", "Device.DNS.Diagnostics."}},
	{"usp_nosmm", []string{"github.com/uspkit/uspkit/tr181/softwaremodules"}, "software_modules:\n  exec_envs: [process]\n",
		[]string{"Device.SoftwareModules."}},
	{"usp_nohost", []string{"github.com/uspkit/uspkit/tr181/host", "github.com/vishvananda/netlink"}, "host: {}\n",
		[]string{"Device.IP.Interface.{i}.", "Device.Ethernet."}},
	{"usp_nobulk", []string{"github.com/uspkit/uspkit/tr181/bulkdata"}, "bulk_data:\n  disabled: true\n",
		[]string{"Device.BulkData."}},
	{"usp_nodiscovery", nil, "discovery:\n  advertise: true\n", nil},
	{"usp_nostomp", []string{"github.com/uspkit/uspkit/mtp/stomp"}, "mtps:\n  - protocol: STOMP\n    addr: 127.0.0.1:61613\n", nil},
	{"usp_nows", []string{"github.com/uspkit/uspkit/mtp/ws", "github.com/coder/websocket"}, "mtps:\n  - protocol: WebSocket\n    listen: 127.0.0.1:0\n", nil},
}

// minimalTags is the "minimal CPE" profile: every feature tag, and
// usp_noproto (wire without the protobuf runtime, noproto_test.go).
func minimalTags() []string {
	tags := []string{"usp_noproto"}
	for _, f := range deviceFeatures {
		tags = append(tags, f.tag)
	}
	return tags
}

// TestDeviceBuildFeatureTags compiles the Agent's command package with
// each feature tag alone (host CPU) and checks that the packages the tag leaves
// out are no longer linked.
func TestDeviceBuildFeatureTags(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles the agent once per tag")
	}
	for _, f := range deviceFeatures {
		t.Run(f.tag, func(t *testing.T) {
			tags := "usp_device," + f.tag
			// internal/cli is where the tags choose files; compiling it
			// without linking keeps the test short.
			if out, err := exec.Command("go", "build", "-tags", tags, "github.com/uspkit/uspkit/internal/cli").CombinedOutput(); err != nil {
				t.Fatalf("go build -tags %s: %v\n%s", tags, err, out)
			}
			out, err := exec.Command("go", "list", "-tags", tags, "-deps", ".").Output()
			if err != nil {
				t.Fatalf("go list: %v", err)
			}
			deps := map[string]bool{}
			for _, d := range strings.Fields(string(out)) {
				deps[d] = true
			}
			for _, p := range f.packages {
				if deps[p] {
					t.Errorf("-tags %s links %s", tags, p)
				}
			}
		})
	}
}
