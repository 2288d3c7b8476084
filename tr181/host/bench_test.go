package host_test

import (
	"context"
	"testing"
	"time"

	"github.com/uspkit/uspkit/datamodel"
	"github.com/uspkit/uspkit/tr181/host"
)

// BenchmarkGetIPInterfaces is a Get of Device.IP.Interface.*. through the
// engine on the machine the benchmark runs on: with the area's reading
// cached (the default MaxAge) and read through netlink on every Get.
func BenchmarkGetIPInterfaces(b *testing.B) {
	for _, bc := range []struct {
		name   string
		maxAge time.Duration
	}{{"cached", 0}, {"uncached", -1}} {
		b.Run(bc.name, func(b *testing.B) {
			h, err := host.New(&host.Options{Areas: []host.Area{host.AreaIP, host.AreaEthernet}, MaxAge: bc.maxAge})
			if err != nil {
				b.Fatal(err)
			}
			defer h.Close()
			eng := engineFor(b, h, host.AreaIP, host.AreaEthernet)
			ctx := context.Background()
			paths := []string{"Device.IP.Interface.*."}
			b.ReportAllocs()
			for b.Loop() {
				if res := eng.Get(ctx, datamodel.Caller{}, paths, 0); res[0].Err != nil {
					b.Fatal(res[0].Err)
				}
			}
		})
	}
}

// BenchmarkPoll is one poll cycle of Run with every table watched: every
// area read and compared with the previous reading.
func BenchmarkPoll(b *testing.B) {
	h, err := host.New(nil)
	if err != nil {
		b.Fatal(err)
	}
	defer h.Close()
	ctx := context.Background()
	l := &listener{}
	last := h.Poll(ctx, nil, l)
	b.ReportAllocs()
	for b.Loop() {
		last = h.Poll(ctx, last, l)
	}
}
