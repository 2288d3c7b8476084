package datamodel_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"

	"github.com/uspkit/uspkit/datamodel"
	"github.com/uspkit/uspkit/schema"
)

// A vendor object in a few lines: a provided table of fans whose speed a
// Controller can read and set, and a stored table the engine keeps.
func Example() {
	m := schema.New()
	m.Define("Device.")
	m.Define("Device.X_ACME_Fan.{i}.", schema.Keys("Name")).
		Param("Name", schema.String(schema.MaxLen(16))).
		Param("Speed", schema.UnsignedInt(schema.Between(0, 100)), schema.ReadWrite)
	m.Define("Device.X_ACME_Schedule.{i}.", schema.ObjAddDelete, schema.AliasKey()).
		Param("Alias", schema.String(schema.Named("Alias"), schema.MaxLen(64)), schema.ReadWrite).
		Param("Time", schema.DateTime(), schema.ReadWrite)

	var mu sync.Mutex
	speeds := map[uint32]int{1: 40, 2: 75} // the hardware, say
	mux := datamodel.NewMux(m)
	mux.HandleFunc("Device.X_ACME_Fan.{i}.", func(ctx context.Context, w datamodel.ResponseWriter, r *datamodel.Request) error {
		mu.Lock()
		defer mu.Unlock()
		switch r.Op {
		case datamodel.OpList:
			for n := range speeds {
				w.AddInstance(n)
			}
		case datamodel.OpGet:
			n := r.Instances[0]
			w.SetValue("Name", fmt.Sprintf("fan%d", n))
			w.SetValue("Speed", strconv.Itoa(speeds[n]))
		case datamodel.OpSet:
			if !r.CheckOnly {
				speeds[r.Instances[0]], _ = strconv.Atoi(r.Values["Speed"])
			}
		}
		return nil
	})
	mux.Store("Device.X_ACME_Schedule.{i}.", nil)

	ctx := context.Background()
	eng, err := datamodel.New(ctx, mux, datamodel.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	controller := datamodel.Caller{EndpointID: "proto::controller"}
	eng.Set(ctx, controller, false, []datamodel.UpdateObject{{Path: `Device.X_ACME_Fan.[Name=="fan2"].`,
		Params: []datamodel.ParamSetting{{Param: "Speed", Value: "90", Required: true}}}})
	added, _ := eng.Add(ctx, controller, false, []datamodel.CreateObject{{Path: "Device.X_ACME_Schedule."}})
	for _, r := range eng.Get(ctx, controller, []string{"Device.X_ACME_Fan.[Speed>50].Speed", added[0].Path + "Alias"}, 0) {
		for _, o := range r.Objects {
			fmt.Println(o.Path, o.Params)
		}
	}
	_, err = eng.Set(ctx, controller, false, []datamodel.UpdateObject{{Path: "Device.X_ACME_Fan.1.",
		Params: []datamodel.ParamSetting{{Param: "Speed", Value: "101", Required: true}}}})
	fmt.Println(err)
	// Output:
	// Device.X_ACME_Fan.2. map[Speed:90]
	// Device.X_ACME_Schedule.1. map[Alias:cpe-1]
	// 7012 Device.X_ACME_Fan.1.Speed: "101": outside the allowed range [0:100]
}

// A command run without a mandatory input argument fails with 7027 and
// datamodel.ErrMissingArgument, which lets an Agent answering USP 1.3 turn
// it into an Error 7004 [R-OPR.5].
func ExampleErrMissingArgument() {
	m := schema.New()
	m.Define("Device.")
	m.Define("Device.X_ACME_Timer.").
		Command("Wait()", false, []*schema.Param{schema.Arg("Seconds", schema.UnsignedInt(), schema.Mandatory)}, nil)
	mux := datamodel.NewMux(m)
	mux.Store("Device.X_ACME_Timer.", nil)
	mux.HandleFunc("Device.X_ACME_Timer.Wait()", func(ctx context.Context, w datamodel.ResponseWriter, r *datamodel.Request) error { return nil })
	ctx := context.Background()
	eng, err := datamodel.New(ctx, mux, datamodel.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	res, err := eng.Operate(ctx, datamodel.Caller{EndpointID: "proto::controller"}, "Device.X_ACME_Timer.Wait()", "", nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(res[0].Err, errors.Is(res[0].Err, datamodel.ErrMissingArgument))
	// Output:
	// 7027 Invalid command arguments: missing mandatory argument Seconds true
}
