package bulkdata_test

import (
	"context"
	"fmt"
	"time"

	"github.com/uspkit/uspkit/datamodel"
	"github.com/uspkit/uspkit/schema"
	"github.com/uspkit/uspkit/tr181/bulkdata"
)

func ExampleService() {
	m := schema.New()
	m.Define("Device.")
	bulkdata.Define(m)
	mux := datamodel.NewMux(m)
	bd := bulkdata.New(&bulkdata.Options{MinReportingInterval: 60})
	bd.Register(mux)
	eng, err := datamodel.New(context.Background(), mux, datamodel.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- bd.Run(ctx, eng, nil) }() // an Agent's Emit sends Push! events
	res := eng.Get(ctx, datamodel.Caller{}, []string{"Device.BulkData.Protocols"}, 0)
	fmt.Println(res[0].Objects[0].Params["Protocols"])
	cancel()
	fmt.Println(<-done)
	// Output:
	// HTTP,USPEventNotif
	// <nil>
}

func ExampleEncodeJSON() {
	r := bulkdata.Report{Time: time.Unix(1364529149, 0), Values: []bulkdata.Value{
		{Name: "Device.MoCA.Interface.1.Stats.BytesSent", Value: "25248", Type: schema.BaseUnsignedLong},
	}}
	fmt.Println(string(bulkdata.EncodeJSON(nil, []bulkdata.Report{r}, bulkdata.JSONOptions{ReportFormat: bulkdata.FormatObjectHierarchy})))
	// Output: {"Report":[{"CollectionTime":1364529149,"Device":{"MoCA":{"Interface":{"1":{"Stats":{"BytesSent":25248}}}}}}]}
}

func ExampleEncodeCSV() {
	r := bulkdata.Report{Time: time.Unix(1364529149, 0), Values: []bulkdata.Value{
		{Name: "BytesSent", Value: "25248", Type: schema.BaseUnsignedLong},
	}}
	fmt.Print(string(bulkdata.EncodeCSV(nil, []bulkdata.Report{r}, bulkdata.CSVOptions{ReportFormat: bulkdata.FormatParameterPerRow})))
	// Output:
	// ReportTimestamp,ParameterName,ParameterValue,ParameterType
	// 1364529149,BytesSent,25248,unsignedLong
}
