package deviceinfo_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/uspkit/uspkit/datamodel"
	"github.com/uspkit/uspkit/tr181/deviceinfo"
)

// getPath returns every parameter under path by full path, or the error.
func getPath(eng *datamodel.Engine, path string) (map[string]string, error) {
	res := eng.Get(context.Background(), datamodel.Caller{}, []string{path}, 0)
	if res[0].Err != nil {
		return nil, res[0].Err
	}
	got := map[string]string{}
	for _, o := range res[0].Objects {
		for k, v := range o.Params {
			got[o.Path+k] = v
		}
	}
	return got, nil
}

// TestProcesses: a process the test starts is a Process row, found by
// its PID, with its command line and state; its instance number is its
// PID, and its row goes when it ends.
func TestProcesses(t *testing.T) {
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Skipf("SKIP: starting sleep: %v", err)
	}
	done := false
	defer func() {
		if !done {
			cmd.Process.Kill()
			cmd.Wait()
		}
	}()
	eng := engine(t, deviceinfo.Info{MaxAge: -1})
	pid := strconv.Itoa(cmd.Process.Pid)
	find := func() string {
		t.Helper()
		got, err := getPath(eng, "Device.DeviceInfo.ProcessStatus.Process.[PID=="+pid+"].")
		if err != nil {
			t.Fatal(err)
		}
		for k := range got {
			if filepath.Ext(k) == ".PID" {
				return k[:len(k)-len("PID")]
			}
		}
		return ""
	}
	var p string
	for range 50 { // until the child has run execve
		if p = find(); p != "" {
			got, _ := getPath(eng, p)
			if got[p+"Command"] == "sleep 30" {
				break
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	if p != "Device.DeviceInfo.ProcessStatus.Process."+pid+"." {
		t.Errorf("process %s at %s", pid, p)
	}
	got, _ := getPath(eng, p)
	for k, want := range map[string]string{"PID": pid, "Command": "sleep 30", "State": "Sleeping"} {
		if got[p+k] != want {
			t.Errorf("%s%s = %q, want %q", p, k, got[p+k], want)
		}
	}
	if n, _ := strconv.Atoi(got[p+"Size"]); n <= 0 {
		t.Errorf("Size %q", got[p+"Size"])
	}
	all, err := getPath(eng, "Device.DeviceInfo.ProcessStatus.")
	if err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir("/proc")
	procs := 0
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err == nil {
			procs++
		}
	}
	if n, _ := strconv.Atoi(all["Device.DeviceInfo.ProcessStatus.ProcessNumberOfEntries"]); n < procs/2 || n > procs*2 {
		t.Errorf("ProcessNumberOfEntries %d, /proc holds %d", n, procs)
	}
	if again := find(); again != p {
		t.Errorf("the process moved from %s to %s", p, again)
	}
	cmd.Process.Kill()
	cmd.Wait()
	done = true
	if gone := find(); gone != "" {
		t.Errorf("ended process still at %s", gone)
	}
}

// TestTemperature: hwmon inputs and thermal zones are sensors named
// after chip and label, in whole degrees, with the lowest and highest
// values seen.
func TestTemperature(t *testing.T) {
	sys := t.TempDir()
	write := func(name, s string) {
		t.Helper()
		p := filepath.Join(sys, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("class/hwmon/hwmon0/name", "coretemp\n")
	write("class/hwmon/hwmon0/temp1_input", "45500\n")
	write("class/hwmon/hwmon0/temp1_label", "Core 0\n")
	write("class/thermal/thermal_zone0/type", "acpitz\n")
	write("class/thermal/thermal_zone0/temp", "-1200\n")
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	eng := engine(t, deviceinfo.Info{Sys: sys, MaxAge: -1, Now: func() time.Time { return now }})
	got, err := getPath(eng, "Device.DeviceInfo.TemperatureStatus.")
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]string{}
	for k, v := range got {
		if filepath.Ext(k) == ".Name" {
			byName[v] = k[:len(k)-len("Name")]
		}
	}
	core, zone := byName["hwmon0 coretemp Core 0"], byName["thermal_zone0 acpitz"]
	if core == "" || zone == "" || got["Device.DeviceInfo.TemperatureStatus.TemperatureSensorNumberOfEntries"] != "2" {
		t.Fatalf("sensors: %v", got)
	}
	// Numbered in name order, the same at every start.
	if core != "Device.DeviceInfo.TemperatureStatus.TemperatureSensor.1." || zone != "Device.DeviceInfo.TemperatureStatus.TemperatureSensor.2." {
		t.Errorf("sensors at %s and %s", core, zone)
	}
	if got[core+"Value"] != "46" || got[zone+"Value"] != "-1" || got[core+"Status"] != "Enabled" {
		t.Errorf("values: %v", got)
	}
	write("class/hwmon/hwmon0/temp1_input", "30000\n")
	now = now.Add(time.Minute)
	got, _ = getPath(eng, core)
	for k, want := range map[string]string{"Value": "30", "MinValue": "30", "MaxValue": "46", "MinTime": "2026-01-01T00:01:00Z",
		"MaxTime": "2026-01-01T00:00:00Z", "ResetTime": "2026-01-01T00:00:00Z", "LastUpdate": "2026-01-01T00:01:00Z"} {
		if got[core+k] != want {
			t.Errorf("%s%s = %q, want %q", core, k, got[core+k], want)
		}
	}
}
