package softwaremodules_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/uspkit/uspkit/datamodel"
	"github.com/uspkit/uspkit/schema"
	"github.com/uspkit/uspkit/tr181/deviceinfo"
	"github.com/uspkit/uspkit/tr181/softwaremodules"
	"github.com/uspkit/uspkit/tr181/vendorfiles"
)

// Each Execution Unit's log as a Device.DeviceInfo.VendorLogFile row, next
// to the Agent's own log.
func ExampleManager_PublishLogs() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "smm-logs-example-")
	defer os.RemoveAll(dir)

	m := schema.New()
	m.Define("Device.")
	deviceinfo.Define(m)
	vendorfiles.Define(m)
	softwaremodules.Define(m)
	mux := datamodel.NewMux(m)
	sm, err := softwaremodules.New(ctx, &softwaremodules.Options{Dir: filepath.Join(dir, "software"), Envs: []softwaremodules.ExecEnv{softwaremodules.ProcessEnv{}}})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer sm.Close()
	softwaremodules.Register(mux, sm)
	files := vendorfiles.Register(mux, vendorfiles.Options{Logs: []vendorfiles.LogFile{vendorfiles.NewLogRing(1 << 20).File("agent.log")}})
	sm.PublishLogs(files) // units installed from now on get a row too
	sm.Start(ctx, printEvents{})
	eng, _ := datamodel.New(ctx, mux, datamodel.Options{})
	get := eng.Get(ctx, datamodel.Caller{}, []string{"Device.DeviceInfo.VendorLogFile.*.Name"}, 0)
	for _, o := range get[0].Objects {
		fmt.Println(o.Path, o.Params["Name"])
	}
	// Output: Device.DeviceInfo.VendorLogFile.1. agent.log
}
