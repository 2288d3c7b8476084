package deviceinfo_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/uspkit/uspkit/datamodel"
	"github.com/uspkit/uspkit/pathname"
	"github.com/uspkit/uspkit/schema"
	"github.com/uspkit/uspkit/schema/schematest"
	"github.com/uspkit/uspkit/tr181/deviceinfo"
)

func TestModelMatchesTR181(t *testing.T) {
	ref := schematest.LoadTR181(t)
	m := schema.New()
	m.Define("Device.")
	deviceinfo.Define(m)
	for _, d := range schematest.Diff(m, ref) {
		t.Error(d)
	}
}

func engine(t testing.TB, info deviceinfo.Info) *datamodel.Engine {
	m := schema.New()
	m.Define("Device.")
	deviceinfo.Define(m)
	mux := datamodel.NewMux(m)
	deviceinfo.Register(mux, info)
	eng, err := datamodel.New(context.Background(), mux, datamodel.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return eng
}

func TestValues(t *testing.T) {
	proc := t.TempDir()
	write := func(name, s string) {
		if err := os.WriteFile(filepath.Join(proc, name), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("uptime", "12345.67 999.0\n")
	write("meminfo", "MemTotal:       16000 kB\nMemFree:         1000 kB\nMemAvailable:    8000 kB\n")
	write("stat", "cpu  100 0 100 800 0 0 0 0 0 0\ncpu0 1 2 3 4\n")
	info := deviceinfo.Info{Manufacturer: "Acme", ManufacturerOUI: "00D09E", ModelName: "Box", SerialNumber: "S1", SoftwareVersion: "1.2", Proc: proc}
	eng := engine(t, info)
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
	for path, want := range map[string]string{
		"Device.DeviceInfo.Manufacturer": "Acme", "Device.DeviceInfo.ManufacturerOUI": "00D09E", "Device.DeviceInfo.SerialNumber": "S1",
		"Device.DeviceInfo.UpTime": "12345", "Device.DeviceInfo.MemoryStatus.Total": "16000", "Device.DeviceInfo.MemoryStatus.Free": "8000",
		"Device.DeviceInfo.ProcessStatus.CPUUsage": "20",
	} {
		if got[path] != want {
			t.Errorf("%s = %q, want %q", path, got[path], want)
		}
	}
	if _, err := eng.Set(context.Background(), datamodel.Caller{}, false, []datamodel.UpdateObject{{Path: "Device.DeviceInfo.", Params: []datamodel.ParamSetting{{Param: "ModelName", Value: "x", Required: true}}}}); err == nil {
		t.Error("set of a read-only parameter succeeded")
	}
}

// TestHost reads the real host: every value fits its TR-181 type.
func TestHost(t *testing.T) {
	info := deviceinfo.Host("uspkit", "0.1.0")
	eng := engine(t, info)
	res := eng.Get(context.Background(), datamodel.Caller{}, []string{"Device.DeviceInfo."}, 0)
	if res[0].Err != nil {
		t.Fatal(res[0].Err)
	}
	m := eng.Model()
	for _, o := range res[0].Objects {
		for k, v := range o.Params {
			pat, _ := pathname.AppendPattern(nil, o.Path+k) // Process.{i}, TemperatureSensor.{i}
			p := m.Param(string(pat))
			if p == nil {
				t.Errorf("%s%s: not in the model", o.Path, k)
				continue
			}
			if err := p.Type.Validate(v); err != nil {
				t.Errorf("%s%s = %q: %v", o.Path, k, v, err)
			}
		}
	}
	up := res[0].Objects[0].Params["UpTime"]
	if n, err := strconv.Atoi(up); err != nil || n <= 0 {
		t.Errorf("UpTime %q", up)
	}
}
