package ipdiag_test

import (
	"context"
	"fmt"

	"github.com/uspkit/uspkit/datamodel"
	"github.com/uspkit/uspkit/schema"
	"github.com/uspkit/uspkit/tr181/ipdiag"
)

// Example runs IPPing() against the host itself, as an Agent does for an
// Operate message, and reads its outcome (what the OperationComplete
// notification carries).
func Example() {
	m := schema.New()
	m.Define("Device.")
	ipdiag.Define(m)
	mux := datamodel.NewMux(m)
	d := ipdiag.New(nil)
	defer d.Close()
	d.Register(mux)
	eng, _ := datamodel.New(context.Background(), mux, datamodel.Options{})
	res, _ := eng.Operate(context.Background(), datamodel.Caller{}, "Device.IP.Diagnostics.IPPing()", "ping-1", map[string]string{
		"Host": "127.0.0.1", "ProtocolVersion": "IPv4", "NumberOfRepetitions": "2", "Timeout": "1000", "DataBlockSize": "32"})
	out, err := res[0].Async(context.Background())
	fmt.Println(out["Status"], out["SuccessCount"], err)
	// Output: Complete 2 <nil>
}

// ExampleEngineInterfaces: an Interface argument names a row of the data
// model; its Name is the host interface the diagnostics bind to.
func ExampleEngineInterfaces() {
	m := schema.New()
	m.Define("Device.")
	m.Define("Device.IP.")
	m.Define("Device.IP.Interface.{i}.", schema.ObjAddDelete).Param("Name", schema.String(), schema.ReadWrite)
	ipdiag.Define(m)
	mux := datamodel.NewMux(m)
	mux.Store("Device.IP.Interface.{i}.", nil)
	eng, _ := datamodel.New(context.Background(), mux, datamodel.Options{})
	eng.Add(context.Background(), datamodel.Caller{}, false, []datamodel.CreateObject{{Path: "Device.IP.Interface.",
		Params: []datamodel.ParamSetting{{Param: "Name", Value: "lo"}}}})
	name := ipdiag.EngineInterfaces(func() *datamodel.Engine { return eng })
	fmt.Println(name(context.Background(), "Device.IP.Interface.1"))
	// Output: lo <nil>
}
