package host_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/uspkit/uspkit/datamodel"
	"github.com/uspkit/uspkit/schema"
	"github.com/uspkit/uspkit/tr181/host"
	"github.com/uspkit/uspkit/usperr"
)

// fileHost serves a Host of the Agent's own namespace.
func fileHost(t *testing.T, opt host.Options) *datamodel.Engine {
	t.Helper()
	h, err := host.New(&opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return engineFor(t, h, opt.Areas...)
}

// engineFor serves h's areas through an engine.
func engineFor(t testing.TB, h *host.Host, areas ...host.Area) *datamodel.Engine {
	t.Helper()
	m := schema.New()
	m.Define("Device.")
	host.Define(m, areas...)
	mux := datamodel.NewMux(m)
	h.Register(mux)
	eng, err := datamodel.New(context.Background(), mux, datamodel.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return eng
}

func values(t *testing.T, eng *datamodel.Engine, path string) map[string]string {
	t.Helper()
	res := eng.Get(context.Background(), datamodel.Caller{}, []string{path}, 0)
	if res[0].Err != nil {
		t.Fatal(res[0].Err)
	}
	out := map[string]string{}
	for _, o := range res[0].Objects {
		for k, v := range o.Params {
			out[o.Path+k] = v
		}
	}
	return out
}

func write(t *testing.T, dir, name, s string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestDNSServers: one Server row per nameserver line of resolv.conf, in
// order, without repeats or malformed addresses; a server that goes
// away frees its row and a new one gets a new number.
func TestDNSServers(t *testing.T) {
	dir := t.TempDir()
	rc := write(t, dir, "resolv.conf", "# c\nsearch example\nnameserver 192.0.2.53\nnameserver fe80::1%eth0\nnameserver bogus\nnameserver 192.0.2.53\noptions ndots:1\n")
	eng := fileHost(t, host.Options{Areas: []host.Area{host.AreaDNS}, ResolvConf: rc, MaxAge: -1})
	got := values(t, eng, "Device.DNS.Client.")
	for k, want := range map[string]string{
		"Device.DNS.Client.Enable": "true", "Device.DNS.Client.Status": "Enabled", "Device.DNS.Client.ServerNumberOfEntries": "2",
		"Device.DNS.Client.Server.1.DNSServer": "192.0.2.53", "Device.DNS.Client.Server.2.DNSServer": "fe80::1",
		"Device.DNS.Client.Server.1.Alias": "cpe-1", "Device.DNS.Client.Server.1.Type": "Static", "Device.DNS.Client.Server.1.Enable": "true",
	} {
		if got[k] != want {
			t.Errorf("%s = %q, want %q", k, got[k], want)
		}
	}
	write(t, dir, "resolv.conf", "nameserver fe80::1\nnameserver 198.51.100.1\n")
	got = values(t, eng, "Device.DNS.Client.")
	if got["Device.DNS.Client.Server.2.DNSServer"] != "fe80::1" || got["Device.DNS.Client.Server.3.DNSServer"] != "198.51.100.1" ||
		got["Device.DNS.Client.Server.1.DNSServer"] != "" {
		t.Errorf("after the change: %v", got)
	}
	if r := eng.Get(context.Background(), datamodel.Caller{}, []string{"Device.DNS.Client.Server.1."}, 0); r[0].Err == nil && len(r[0].Objects) > 0 {
		t.Errorf("row 1 still there: %v", r[0].Objects)
	}
	write(t, dir, "resolv.conf", "")
	if got := values(t, eng, "Device.DNS.Client."); got["Device.DNS.Client.Status"] != "Disabled" || got["Device.DNS.Client.ServerNumberOfEntries"] != "0" {
		t.Errorf("empty resolv.conf: %v", got)
	}
}

// TestTime: NTP servers from the first configuration that names any,
// the local time, and the POSIX TZ string from the TZif footer.
func TestTime(t *testing.T) {
	dir := t.TempDir()
	empty := write(t, dir, "timesyncd.conf", "[Time]\n#NTP=\n")
	chrony := write(t, dir, "chrony.conf", "pool 2.debian.pool.ntp.org iburst\nserver ntp1.example.net\n# server ignored\n")
	tz := write(t, dir, "localtime", "TZif2\x00\x00junk\nCET-1CEST,M3.5.0,M10.5.0/3\n")
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	eng := fileHost(t, host.Options{Areas: []host.Area{host.AreaTime}, NTPConfigs: []string{empty, chrony}, LocalTime: tz,
		Now: func() time.Time { return now }})
	got := values(t, eng, "Device.Time.")
	for k, want := range map[string]string{
		"Device.Time.Enable": "true", "Device.Time.NTPServer1": "2.debian.pool.ntp.org", "Device.Time.NTPServer2": "ntp1.example.net",
		"Device.Time.NTPServer3": "", "Device.Time.LocalTimeZone": "CET-1CEST,M3.5.0,M10.5.0/3",
	} {
		if got[k] != want {
			t.Errorf("%s = %q, want %q", k, got[k], want)
		}
	}
	if lt, err := time.Parse(time.RFC3339, got["Device.Time.CurrentLocalTime"]); err != nil || !lt.Equal(now) {
		t.Errorf("CurrentLocalTime %q", got["Device.Time.CurrentLocalTime"])
	}
	if s := got["Device.Time.Status"]; s != "Synchronized" && s != "Unsynchronized" {
		t.Errorf("Status %q with servers configured", s)
	}
	m := eng.Model()
	for k, v := range got {
		if err := m.Param(k).Type.Validate(v); err != nil {
			t.Errorf("%s = %q: %v", k, v, err)
		}
	}
}

// TestReadOnly: Set, Add and Delete are refused with an error.
func TestReadOnly(t *testing.T) {
	dir := t.TempDir()
	rc := write(t, dir, "resolv.conf", "nameserver 192.0.2.53\n")
	eng := fileHost(t, host.Options{Areas: []host.Area{host.AreaDNS}, ResolvConf: rc})
	ctx := context.Background()
	if _, err := eng.Set(ctx, datamodel.Caller{}, false, []datamodel.UpdateObject{{Path: "Device.DNS.Client.Server.1.",
		Params: []datamodel.ParamSetting{{Param: "Enable", Value: "false", Required: true}}}}); err == nil {
		t.Error("Set succeeded")
	}
	if _, err := eng.Delete(ctx, datamodel.Caller{}, false, []string{"Device.DNS.Client.Server.1."}); err == nil {
		t.Error("Delete succeeded")
	}
	_, err := eng.Add(ctx, datamodel.Caller{}, false, []datamodel.CreateObject{{Path: "Device.DNS.Client.Server.",
		Params: []datamodel.ParamSetting{{Param: "DNSServer", Value: "192.0.2.1", Required: true}}}})
	if usperr.Code(err) != usperr.CodeObjectNotCreatable {
		t.Errorf("Add: %v, want 7019", err)
	}
	if got := values(t, eng, "Device.DNS.Client."); got["Device.DNS.Client.ServerNumberOfEntries"] != "1" {
		t.Errorf("after the refused changes: %v", got)
	}
}

// TestRealHost reads every area of the machine the test runs on: every
// value fits its TR-181 type.
func TestRealHost(t *testing.T) {
	eng := fileHost(t, host.Options{})
	m := eng.Model()
	n := 0
	for _, root := range []string{"Device.IP.", "Device.Ethernet.", "Device.Hosts.", "Device.DNS.", "Device.Routing.", "Device.Time."} {
		for k, v := range values(t, eng, root) {
			n++
			p := m.Param(patternOf(k))
			if p == nil {
				t.Errorf("%s: not in the model", k)
				continue
			}
			if err := p.Type.Validate(v); err != nil {
				t.Errorf("%s = %q: %v", k, v, err)
			}
		}
	}
	if n == 0 {
		t.Error("nothing read")
	}
}

// patternOf turns instance numbers of path into {i}.
func patternOf(path string) string {
	parts := strings.Split(path, ".")
	for i, s := range parts {
		if s != "" && strings.Trim(s, "0123456789") == "" {
			parts[i] = "{i}"
		}
	}
	return strings.Join(parts, ".")
}
