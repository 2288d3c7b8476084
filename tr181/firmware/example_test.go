package firmware_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/uspkit/uspkit/datamodel"
	"github.com/uspkit/uspkit/schema"
	"github.com/uspkit/uspkit/tr181/deviceinfo"
	"github.com/uspkit/uspkit/tr181/firmware"
)

func ExampleNew() {
	dir, _ := os.MkdirTemp("", "fw")
	defer os.RemoveAll(dir)
	exe := filepath.Join(dir, "usp")
	os.WriteFile(exe, script("1.0", 0), 0o755)

	// The boot loader runs first; a non-empty next is the binary to run
	// instead of this one.
	fl, _ := firmware.OpenDir(filepath.Join(dir, "banks"), exe, &firmware.DirOptions{Version: "1.0"})
	next, report, _ := fl.Boot()
	if next != "" {
		fl, _ = firmware.OpenDir(filepath.Join(dir, "banks"), next, &firmware.DirOptions{Version: "1.0"})
		_, report, _ = fl.Boot()
	}

	svc, _ := firmware.New(&firmware.Options{Flash: fl, StateDir: filepath.Join(dir, "banks"), Boot: report})
	m := schema.New()
	m.Define("Device.")
	deviceinfo.Define(m)
	m.Define("Device.LocalAgent.")
	firmware.Define(m)
	mux := datamodel.NewMux(m)
	deviceinfo.Register(mux, deviceinfo.Info{})
	svc.Register(mux)
	eng, _ := datamodel.New(context.Background(), mux, datamodel.Options{})
	res := eng.Get(context.Background(), datamodel.Caller{}, []string{"Device.DeviceInfo.ActiveFirmwareImage", "Device.DeviceInfo.FirmwareImage.1.Version"}, 0)
	for _, r := range res {
		for _, o := range r.Objects {
			for k, v := range o.Params {
				fmt.Println(o.Path+k, "=", v)
			}
		}
	}
	// Output:
	// Device.DeviceInfo.ActiveFirmwareImage = Device.DeviceInfo.FirmwareImage.1.
	// Device.DeviceInfo.FirmwareImage.1.Version = 1.0
}
