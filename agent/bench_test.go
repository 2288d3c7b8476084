package agent_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/uspkit/uspkit/agent"
	"github.com/uspkit/uspkit/datamodel"
	"github.com/uspkit/uspkit/schema"
	"github.com/uspkit/uspkit/store"
)

// benchEngine returns the engine of an Agent (not running) with n
// subscriptions.
func benchEngine(b *testing.B, n int) *datamodel.Engine {
	b.Helper()
	m := schema.New()
	agent.Define(m)
	a, err := agent.New(context.Background(), agent.Options{EndpointID: agentID, Mux: datamodel.NewMux(m), Store: store.NewMemory(),
		Factory: &agent.Config{Controllers: []agent.ControllerConfig{{EndpointID: ctrlID}}}})
	if err != nil {
		b.Fatal(err)
	}
	eng := a.Engine()
	for i := range n {
		typ := "ValueChange"
		if i%10 == 0 {
			typ = "Event"
		}
		_, err := eng.Add(context.Background(), datamodel.Caller{}, false, []datamodel.CreateObject{{Path: "Device.LocalAgent.Subscription.",
			Params: []datamodel.ParamSetting{{Param: "ID", Value: fmt.Sprintf("sub-%d", i)}, {Param: "NotifType", Value: typ},
				{Param: "ReferenceList", Value: "Device.LocalAgent.Controller."}, {Param: "Persistent", Value: "true"}}}})
		if err != nil {
			b.Fatal(err)
		}
	}
	return eng
}

var admin = datamodel.Caller{EndpointID: ctrlID}

// BenchmarkGetSubscriptions reads Device.LocalAgent.Subscription.*. with
// 100 subscriptions.
func BenchmarkGetSubscriptions(b *testing.B) {
	eng := benchEngine(b, 100)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		r := eng.Get(ctx, admin, []string{"Device.LocalAgent.Subscription.*."}, 0)
		if r[0].Err != nil || len(r[0].Objects) != 100 {
			b.Fatal(r[0].Err, len(r[0].Objects))
		}
	}
}

// BenchmarkSearch1000 evaluates a search expression over a 1,000-row
// table.
func BenchmarkSearch1000(b *testing.B) {
	eng := benchEngine(b, 1000)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		r := eng.Get(ctx, admin, []string{`Device.LocalAgent.Subscription.[NotifType=="Event"&&Persistent==true].ID`}, 0)
		if r[0].Err != nil || len(r[0].Objects) != 100 {
			b.Fatal(r[0].Err, len(r[0].Objects))
		}
	}
}

// BenchmarkSet sets one parameter of one row (persisted to the in-memory
// store).
func BenchmarkSet(b *testing.B) {
	eng := benchEngine(b, 100)
	ctx := context.Background()
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		i++
		_, err := eng.Set(ctx, admin, false, []datamodel.UpdateObject{{Path: "Device.LocalAgent.Subscription.50.",
			Params: []datamodel.ParamSetting{{Param: "TimeToLive", Value: fmt.Sprint(i % 1000), Required: true}}}})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAdd adds a row to a table of 100 (and deletes it again, so
// that the table does not grow).
func BenchmarkAdd(b *testing.B) {
	eng := benchEngine(b, 100)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		res, err := eng.Add(ctx, admin, false, []datamodel.CreateObject{{Path: "Device.LocalAgent.Subscription.",
			Params: []datamodel.ParamSetting{{Param: "NotifType", Value: "Event"}, {Param: "ReferenceList", Value: "Device.Boot!"}}}})
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if _, err := eng.Delete(ctx, admin, false, []string{res[0].Path}); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}
