package vendorfiles_test

import (
	"context"
	"fmt"
	"io"

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
