package ipdiag_test

import (
	"context"
	"testing"

	"github.com/uspkit/uspkit/datamodel"
	"github.com/uspkit/uspkit/schema"
	"github.com/uspkit/uspkit/tr181/ipdiag"
)

// TestInterfaceArgument: the Interface argument binds the test to the
// host interface its row names; a row that does not exist fails the test
// with Error_Other, an interface the host lacks with Error_Internal.
func TestInterfaceArgument(t *testing.T) {
	m := schema.New()
	m.Define("Device.")
	m.Define("Device.IP.")
	m.Define("Device.IP.Interface.{i}.", schema.ObjAddDelete).Param("Name", schema.String(), schema.ReadWrite)
	ipdiag.Define(m)
	mux := datamodel.NewMux(m)
	mux.Store("Device.IP.Interface.{i}.", nil)
	var eng *datamodel.Engine
	d := ipdiag.New(&ipdiag.Options{InterfaceName: ipdiag.EngineInterfaces(func() *datamodel.Engine { return eng })})
	defer d.Close()
	d.Register(mux)
	eng, err := datamodel.New(context.Background(), mux, datamodel.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"lo", "nosuchif0"} {
		if _, err := eng.Add(context.Background(), datamodel.Caller{}, false, []datamodel.CreateObject{{Path: "Device.IP.Interface.",
			Params: []datamodel.ParamSetting{{Param: "Name", Value: name}}}}); err != nil {
			t.Fatal(err)
		}
	}
	f := &fixture{eng: eng, d: d, log: &syncBuf{}}
	cases := []struct{ iface, status string }{
		{"Device.IP.Interface.1.", "Complete"},
		{"Device.IP.Interface.1", "Complete"},
		{"", "Complete"},
		{"Device.IP.Interface.2.", "Error_Internal"},
		{"Device.IP.Interface.9.", "Error_Other"},
	}
	for _, tc := range cases {
		t.Run(tc.iface, func(t *testing.T) {
			out := f.mustRun(t, "Device.IP.Diagnostics.IPPing()", map[string]string{"Interface": tc.iface, "Host": "127.0.0.1",
				"ProtocolVersion": "IPv4", "NumberOfRepetitions": "1", "Timeout": "1000", "DataBlockSize": "8"})
			if out["Status"] != tc.status {
				t.Errorf("Status %q, want %q", out["Status"], tc.status)
			}
		})
	}
}
