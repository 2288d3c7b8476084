package gatewayinfo_test

import (
	"context"
	"fmt"

	"github.com/uspkit/uspkit/datamodel"
	"github.com/uspkit/uspkit/schema"
	"github.com/uspkit/uspkit/tr181/gatewayinfo"
)

func Example() {
	m := schema.New()
	m.Define("Device.")
	gatewayinfo.Define(m)
	mux := datamodel.NewMux(m)
	gw := &gatewayinfo.Info{}
	gatewayinfo.Register(mux, gw)
	gw.Set(gatewayinfo.Values{ManagementProtocol: "CWMP", ManufacturerOUI: "00D09E", SerialNumber: "GW1", ProductClass: "Gateway"})
	eng, _ := datamodel.New(context.Background(), mux, datamodel.Options{})
	res := eng.Get(context.Background(), datamodel.Caller{}, []string{"Device.GatewayInfo.SerialNumber"}, 0)
	fmt.Println(res[0].Objects[0].Params["SerialNumber"])
	// Output: GW1
}
