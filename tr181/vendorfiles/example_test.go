package vendorfiles_test

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/uspkit/uspkit/datamodel"
	"github.com/uspkit/uspkit/schema"
	"github.com/uspkit/uspkit/tr181/deviceinfo"
	"github.com/uspkit/uspkit/tr181/vendorfiles"
)

func Example() {
	m := schema.New()
	m.Define("Device.")
	deviceinfo.Define(m)
	vendorfiles.Define(m)
	mux := datamodel.NewMux(m)
	logs := vendorfiles.NewLogRing(1 << 20)
	vendorfiles.Register(mux, vendorfiles.Options{
		Config: []vendorfiles.ConfigFile{{Name: "config.json", UseForBackupRestore: true,
			Backup:  func(ctx context.Context, w io.Writer) error { _, err := io.WriteString(w, "{}"); return err },
			Restore: func(ctx context.Context, data []byte) error { return nil }}},
		Logs: []vendorfiles.LogFile{logs.File("device.log")},
	})
	eng, _ := datamodel.New(context.Background(), mux, datamodel.Options{})
	for _, r := range eng.Get(context.Background(), datamodel.Caller{}, []string{"Device.DeviceInfo.VendorLogFile.1.Name"}, 0) {
		fmt.Println(r.Objects[0].Params["Name"])
	}
	// Output: device.log
}

// A log that comes and goes with something else, such as an Execution
// Unit's, is a row of its own for as long as it exists.
func ExampleFiles_AddLog() {
	m := schema.New()
	m.Define("Device.")
	deviceinfo.Define(m)
	vendorfiles.Define(m)
	mux := datamodel.NewMux(m)
	files := vendorfiles.Register(mux, vendorfiles.Options{Logs: []vendorfiles.LogFile{vendorfiles.NewLogRing(1 << 20).File("device.log")}})
	n, _ := files.AddLog(0, vendorfiles.LogFile{Name: "app.log", MaximumSize: 1 << 20, Persistent: true,
		Open: func(ctx context.Context) (io.ReadCloser, error) {
			return io.NopCloser(strings.NewReader("started\n")), nil
		}})
	fmt.Println(vendorfiles.LogRef(n))
	files.RemoveLog(n)
	// Output: Device.DeviceInfo.VendorLogFile.2
}
