package agent

import (
	"context"
	"fmt"
	"testing"

	"github.com/uspkit/uspkit/datamodel"
	"github.com/uspkit/uspkit/schema"
)

// BenchmarkAddManySubscriptions is the notification side of an Add of a
// row while 1,000 ValueChange subscriptions are enabled and none of them
// is an ObjectCreation one: the Add is matched against the ObjectCreation
// subscriptions only.
func BenchmarkAddManySubscriptions(b *testing.B) {
	s := newSubscriptions(nil)
	for i := range 1000 {
		p := fmt.Sprintf("Device.LocalAgent.Subscription.%d.", i+1)
		s.subs[p] = &sub{path: p, notifType: notifValueChange, refs: []string{"Device.DeviceInfo.UpTime"}}
	}
	obj := &schema.Object{Path: "Device.X.{i}."}
	changes := []datamodel.Change{{Op: datamodel.OpAdd, Path: "Device.X.1.", Object: obj, Params: map[string]string{}}}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		s.onChange(ctx, changes)
	}
}
