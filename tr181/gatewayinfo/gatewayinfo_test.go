package gatewayinfo_test

import (
	"context"
	"testing"

	"github.com/uspkit/uspkit/datamodel"
	"github.com/uspkit/uspkit/schema"
	"github.com/uspkit/uspkit/schema/schematest"
	"github.com/uspkit/uspkit/tr181/gatewayinfo"
)

func TestModelMatchesTR181(t *testing.T) {
	ref := schematest.LoadTR181(t)
	m := schema.New()
	m.Define("Device.")
	gatewayinfo.Define(m)
	for _, d := range schematest.Diff(m, ref) {
		t.Error(d)
	}
}

// TestValues: what Set gives is what a Get reads, and the zero Values
// clear every parameter [R-DIS.2c].
func TestValues(t *testing.T) {
	m := schema.New()
	m.Define("Device.")
	gatewayinfo.Define(m)
	mux := datamodel.NewMux(m)
	gw := &gatewayinfo.Info{}
	gatewayinfo.Register(mux, gw)
	eng, err := datamodel.New(context.Background(), mux, datamodel.Options{})
	if err != nil {
		t.Fatal(err)
	}
	get := func() map[string]string {
		res := eng.Get(context.Background(), datamodel.Caller{}, []string{"Device.GatewayInfo."}, 0)
		if len(res) != 1 || len(res[0].Objects) != 1 {
			t.Fatalf("Get: %+v", res)
		}
		return res[0].Objects[0].Params
	}
	cases := []struct {
		name string
		v    gatewayinfo.Values
	}{
		{"from DHCP", gatewayinfo.Values{ManagementProtocol: "CWMP", ManufacturerOUI: "00D09E", ProductClass: "Gateway", SerialNumber: "GW-1"}},
		{"cleared", gatewayinfo.Values{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			gw.Set(tc.v)
			got := get()
			want := map[string]string{"ManagementProtocol": tc.v.ManagementProtocol, "EndpointID": "", "MACAddress": "",
				"ManufacturerOUI": tc.v.ManufacturerOUI, "ProductClass": tc.v.ProductClass, "SerialNumber": tc.v.SerialNumber}
			for k, v := range want {
				if got[k] != v {
					t.Errorf("%s = %q, want %q", k, got[k], v)
				}
			}
		})
	}
	if _, err := eng.Set(context.Background(), datamodel.Caller{}, false, []datamodel.UpdateObject{{Path: "Device.GatewayInfo.",
		Params: []datamodel.ParamSetting{{Param: "SerialNumber", Value: "x", Required: true}}}}); err == nil {
		t.Error("Device.GatewayInfo.SerialNumber was writable")
	}
}
