package firmware_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/uspkit/uspkit/datamodel"
	"github.com/uspkit/uspkit/schema"
	"github.com/uspkit/uspkit/tr181/deviceinfo"
	"github.com/uspkit/uspkit/tr181/firmware"
)

// ramFlash is a vendor's Flash: two banks in memory, an image valid when
// it starts with "FW " and its version.
type ramFlash struct {
	banks   [2][]byte
	running int
	boot    int
}

func (f *ramFlash) Banks() int   { return 2 }
func (f *ramFlash) Running() int { return f.running }

func (f *ramFlash) Image(bank int) (firmware.Image, bool) {
	img, err := f.Validate(context.Background(), bank)
	return img, err == nil
}

func (f *ramFlash) Write(ctx context.Context, bank int, r io.Reader) error {
	b, err := io.ReadAll(io.LimitReader(r, 1<<20))
	f.banks[bank-1] = b
	return err
}

func (f *ramFlash) Validate(ctx context.Context, bank int) (firmware.Image, error) {
	v, ok := bytes.CutPrefix(f.banks[bank-1], []byte("FW "))
	if !ok {
		return firmware.Image{}, errors.New("no image header")
	}
	return firmware.Image{Name: "acme-fw", Version: string(bytes.TrimSpace(v))}, nil
}

func (f *ramFlash) SetBoot(ctx context.Context, bank int) error { f.boot = bank; return nil }

func (f *ramFlash) Activate(ctx context.Context, bank int, commandKey string) error {
	return errors.New("this example does not reboot")
}

// Example_flash plugs a vendor's flash layout in: Download() writes the
// inactive bank through it and validates the image.
func Example_flash() {
	dir, _ := os.MkdirTemp("", "fw")
	defer os.RemoveAll(dir)
	os.WriteFile(filepath.Join(dir, "image"), []byte("FW 7.1.0\n"), 0o600)

	fl := &ramFlash{running: 1, boot: 1}
	fl.banks[0] = []byte("FW 7.0.0\n")
	svc, _ := firmware.New(&firmware.Options{Flash: fl, StateDir: dir})
	m := schema.New()
	m.Define("Device.")
	deviceinfo.Define(m)
	m.Define("Device.LocalAgent.")
	firmware.Define(m)
	mux := datamodel.NewMux(m)
	deviceinfo.Register(mux, deviceinfo.Info{})
	svc.Register(mux)
	eng, _ := datamodel.New(context.Background(), mux, datamodel.Options{})

	res, _ := eng.Operate(context.Background(), datamodel.Caller{}, "Device.DeviceInfo.FirmwareImage.2.Download()", "",
		map[string]string{"URL": "file://" + filepath.Join(dir, "image"), "AutoActivate": "false"})
	if _, err := res[0].Async(context.Background()); err != nil {
		fmt.Println(err)
	}
	for _, r := range eng.Get(context.Background(), datamodel.Caller{}, []string{"Device.DeviceInfo.FirmwareImage.2.Version", "Device.DeviceInfo.FirmwareImage.2.Status"}, 0) {
		for _, o := range r.Objects {
			for k, v := range o.Params {
				fmt.Println(k, "=", v)
			}
		}
	}
	// Output:
	// Version = 7.1.0
	// Status = Available
}
