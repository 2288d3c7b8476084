package datamodel_test

import (
	"context"
	"testing"

	"github.com/uspkit/uspkit/datamodel"
	"github.com/uspkit/uspkit/schema"
)

// BenchmarkGetProvidedParams is a Get of three parameters of a provided
// single-instance object, each its own path (as an OnBoardRequest reads
// ManufacturerOUI, ProductClass and SerialNumber), an object with a
// counted table below it.
func BenchmarkGetProvidedParams(b *testing.B) {
	m := schema.New()
	m.Define("Device.")
	m.Define("Device.DeviceInfo.").
		Param("ManufacturerOUI", schema.String()).
		Param("ProductClass", schema.String()).
		Param("SerialNumber", schema.String()).
		Param("UpTime", schema.UnsignedInt()).
		Param("VendorLogFileNumberOfEntries", schema.UnsignedInt())
	m.Define("Device.DeviceInfo.VendorLogFile.{i}.", schema.NumEntries("VendorLogFileNumberOfEntries")).
		Param("Name", schema.String())
	mux := datamodel.NewMux(m)
	mux.Handle("Device.DeviceInfo.", datamodel.HandlerFunc(func(_ context.Context, w datamodel.ResponseWriter, r *datamodel.Request) error {
		for _, n := range r.Names {
			switch n {
			case "ManufacturerOUI":
				w.SetValue(n, "012345")
			case "ProductClass":
				w.SetValue(n, "bench")
			case "SerialNumber":
				w.SetValue(n, "0001")
			}
		}
		return nil
	}))
	eng, err := datamodel.New(context.Background(), mux, datamodel.Options{})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	paths := []string{"Device.DeviceInfo.ManufacturerOUI", "Device.DeviceInfo.ProductClass", "Device.DeviceInfo.SerialNumber"}
	b.ReportAllocs()
	for b.Loop() {
		r := eng.Get(ctx, datamodel.Caller{}, paths, 0)
		if len(r) != 3 || r[2].Err != nil || r[2].Objects[0].Params["SerialNumber"] != "0001" {
			b.Fatalf("%+v", r)
		}
	}
}
