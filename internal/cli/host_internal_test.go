package cli

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/uspkit/uspkit/datamodel"
)

// TestHostConfig: usp agent's host section is read; absent, the host's
// objects are not served.
func TestHostConfig(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		check      func(*hostConfig) bool
	}{
		{"absent", "", func(c *hostConfig) bool { return c == nil }},
		{"empty", "host: {}\n", func(c *hostConfig) bool { return c != nil && len(c.Areas) == 0 }},
		{"full", "host:\n  areas: [ip, hosts]\n  interval: 30s\n  max_age: 2s\n  netns: /var/run/netns/x\n  value_change_interval: 250ms\n", func(c *hostConfig) bool {
			return len(c.Areas) == 2 && c.Interval == 30*time.Second && c.MaxAge == 2*time.Second && c.Netns == "/var/run/netns/x" &&
				c.ValueChangeInterval == 250*time.Millisecond
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := loadAgentConfig(strings.NewReader("endpoint_id: os::012345-CFG\n" + tc.yaml))
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(c.Host) {
				t.Errorf("host = %+v", c.Host)
			}
		})
	}
}

// TestAgentHostObjects: with a host section the Agent serves the areas
// it names, keeps their instance numbers in the data directory, and
// refuses an unknown area.
func TestAgentHostObjects(t *testing.T) {
	dir := t.TempDir()
	log := slog.New(slog.DiscardHandler)
	ctx := context.Background()
	cfg := &agentConfig{EndpointID: "os::012345-HOST1", Data: dir, Host: &hostConfig{Areas: []string{"ip", "dns"}}}
	r, err := startAgent(ctx, cfg, log, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.close()
	res := r.a.Engine().Get(ctx, datamodel.Caller{}, []string{"Device.IP.Interface.*.Name", "Device.DNS.Client.Status"}, 0)
	if res[0].Err != nil || len(res[0].Objects) == 0 || res[1].Err != nil {
		t.Fatalf("Get: %+v", res)
	}
	// Device.IP. is shared with the diagnostics, and still counts the
	// interfaces.
	res = r.a.Engine().Get(ctx, datamodel.Caller{}, []string{"Device.IP.InterfaceNumberOfEntries", "Device.IP.Diagnostics.IPv4PingSupported"}, 0)
	if res[0].Err != nil || res[0].Objects[0].Params["InterfaceNumberOfEntries"] == "0" || res[1].Err != nil {
		t.Errorf("Device.IP.: %+v", res)
	}
	if r.a.Engine().Model().Object("Device.Hosts.Host.{i}.") != nil {
		t.Error("Device.Hosts served without being named")
	}
	if _, err := os.Stat(filepath.Join(dir, "host-instances.json")); err != nil {
		t.Errorf("instance numbers not kept: %v", err)
	}
	neg := &agentConfig{EndpointID: "os::012345-HOST3", Data: t.TempDir(), Host: &hostConfig{ValueChangeInterval: -time.Second}}
	if r3, err := startAgent(ctx, neg, log, nil); err == nil || !strings.Contains(err.Error(), "value_change_interval") {
		if r3 != nil {
			r3.close()
		}
		t.Errorf("negative value_change_interval: %v", err)
	}
	bad := &agentConfig{EndpointID: "os::012345-HOST2", Data: t.TempDir(), Host: &hostConfig{Areas: []string{"wifi"}}}
	if r2, err := startAgent(ctx, bad, log, nil); err == nil || !strings.Contains(err.Error(), "host.areas") {
		if r2 != nil {
			r2.close()
		}
		t.Errorf("unknown area: %v", err)
	}
}
