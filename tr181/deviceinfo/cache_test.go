package deviceinfo_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/uspkit/uspkit/datamodel"
	"github.com/uspkit/uspkit/tr181/deviceinfo"
)

// fakeProc is a proc directory whose files a test rewrites.
func fakeProc(t testing.TB) (dir string, write func(name, s string)) {
	dir = t.TempDir()
	write = func(name, s string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("uptime", "100.5 10.0\n")
	write("meminfo", "MemTotal:       16000 kB\nMemAvailable:    8000 kB\n")
	write("stat", "cpu  100 0 100 800 0 0 0 0 0 0\n")
	return dir, write
}

func values(t testing.TB, eng *datamodel.Engine) map[string]string {
	t.Helper()
	res := eng.Get(context.Background(), datamodel.Caller{}, []string{"Device.DeviceInfo."}, 0)
	if res[0].Err != nil {
		t.Fatal(res[0].Err)
	}
	got := map[string]string{}
	for _, o := range res[0].Objects {
		for k, v := range o.Params {
			got[o.Path+k] = v
		}
	}
	return got
}

// TestLiveValuesCached: the /proc figures are read once per MaxAge, not on
// every Get; UpTime follows the clock between readings of /proc/uptime and
// is read again after UptimeMaxAge.
func TestLiveValuesCached(t *testing.T) {
	proc, write := fakeProc(t)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	eng := engine(t, deviceinfo.Info{Proc: proc, Now: func() time.Time { return now }})
	check := func(step string, want map[string]string) {
		t.Helper()
		got := values(t, eng)
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s: %s = %q, want %q", step, k, got[k], v)
			}
		}
	}
	const up, free, cpu = "Device.DeviceInfo.UpTime", "Device.DeviceInfo.MemoryStatus.Free", "Device.DeviceInfo.ProcessStatus.CPUUsage"
	check("first", map[string]string{up: "100", free: "8000", cpu: "20"})

	// The files change; within MaxAge the figures read before are used,
	// and UpTime counts on with the clock.
	write("uptime", "5000 10.0\n")
	write("meminfo", "MemTotal:       16000 kB\nMemAvailable:    4000 kB\n")
	write("stat", "cpu  200 0 200 1000 0 0 0 0 0 0\n")
	now = now.Add(deviceinfo.DefaultMaxAge / 2)
	check("within MaxAge", map[string]string{up: "101", free: "8000", cpu: "20"})

	// After MaxAge memory and CPU are read again; UpTime still counts on.
	now = now.Add(deviceinfo.DefaultMaxAge)
	check("after MaxAge", map[string]string{up: "102", free: "4000", cpu: "50"})

	// After UptimeMaxAge /proc/uptime is read again.
	now = now.Add(deviceinfo.UptimeMaxAge)
	check("after UptimeMaxAge", map[string]string{up: "5000"})
}

// TestLiveValuesUncached: a negative MaxAge reads memory on every Get.
func TestLiveValuesUncached(t *testing.T) {
	proc, write := fakeProc(t)
	eng := engine(t, deviceinfo.Info{Proc: proc, MaxAge: -1})
	if got := values(t, eng)["Device.DeviceInfo.MemoryStatus.Free"]; got != "8000" {
		t.Fatalf("Free = %q", got)
	}
	write("meminfo", "MemTotal:       16000 kB\nMemAvailable:    4000 kB\n")
	if got := values(t, eng)["Device.DeviceInfo.MemoryStatus.Free"]; got != "4000" {
		t.Fatalf("Free = %q after the change, want 4000", got)
	}
}

// BenchmarkGetDeviceInfo is a Get of Device.DeviceInfo. through the
// engine, with live figures cached (the default) and read on every Get.
func BenchmarkGetDeviceInfo(b *testing.B) {
	for _, bc := range []struct {
		name   string
		maxAge time.Duration
	}{{"cached", 0}, {"uncached", -1}} {
		b.Run(bc.name, func(b *testing.B) {
			eng := engine(b, deviceinfo.Info{MaxAge: bc.maxAge})
			ctx := context.Background()
			paths := []string{"Device.DeviceInfo."}
			b.ReportAllocs()
			for b.Loop() {
				if res := eng.Get(ctx, datamodel.Caller{}, paths, 0); res[0].Err != nil {
					b.Fatal(res[0].Err)
				}
			}
		})
	}
}
