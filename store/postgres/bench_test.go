package postgres_test

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/uspkit/uspkit/store"
)

// BenchmarkApply measures Batches of one object (an Add), of a hundred,
// one that replaces a subtree of ten, and single-object Batches from
// parallel goroutines (GOMAXPROCS of them), each one COMMIT that
// PostgreSQL flushes to its write-ahead log before answering.
func BenchmarkApply(b *testing.B) {
	params := map[string]string{"Enable": "true", "Alias": "cpe-1", "Status": "Enabled", "Name": "x", "Value": "42"}
	ctx := context.Background()
	b.Run("Put1", func(b *testing.B) {
		db, _ := fresh(b)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			i++
			batch := &store.Batch{
				Put:      []store.Object{{Path: "Device.X." + strconv.Itoa(i) + ".", Params: params}},
				Counters: map[string]uint32{"Device.X.": uint32(i)},
			}
			if err := db.Apply(ctx, batch); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Put100", func(b *testing.B) {
		db, _ := fresh(b)
		batch := &store.Batch{}
		for i := range 100 {
			batch.Put = append(batch.Put, store.Object{Path: fmt.Sprintf("Device.X.%d.", i+1), Params: params})
		}
		b.ReportAllocs()
		for b.Loop() {
			if err := db.Apply(ctx, batch); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("ReplaceSubtree10", func(b *testing.B) {
		db, _ := fresh(b)
		batch := &store.Batch{Delete: []string{"Device.X.1."}}
		for i := range 10 {
			batch.Put = append(batch.Put, store.Object{Path: fmt.Sprintf("Device.X.1.Y.%d.", i+1), Params: params})
		}
		b.ReportAllocs()
		for b.Loop() {
			if err := db.Apply(ctx, batch); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Put1Parallel", func(b *testing.B) {
		db, _ := fresh(b)
		var n atomic.Int64
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				p := "Device.X." + strconv.FormatInt(n.Add(1), 10) + "."
				if err := db.Apply(ctx, &store.Batch{Put: []store.Object{{Path: p, Params: params}}}); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// BenchmarkLoad loads 1000 objects of five parameters, 100 items of 256
// bytes and 10 counters.
func BenchmarkLoad(b *testing.B) {
	ctx := context.Background()
	db, _ := fresh(b)
	batch := &store.Batch{Counters: map[string]uint32{}}
	for i := range 1000 {
		batch.Put = append(batch.Put, store.Object{Path: fmt.Sprintf("Device.X.%d.", i+1), Params: map[string]string{
			"Enable": "true", "Alias": "cpe-" + strconv.Itoa(i), "Status": "Enabled", "Name": "x", "Value": "42"}})
	}
	for i := range 100 {
		batch.PutItems = append(batch.PutItems, store.Item{Kind: "notify", ID: strconv.Itoa(i), Data: make([]byte, 256)})
	}
	for i := range 10 {
		batch.Counters[fmt.Sprintf("Device.X.%d.Y.", i)] = uint32(i + 1)
	}
	if err := db.Apply(ctx, batch); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		snap, err := db.Load(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if len(snap.Objects) != 1000 {
			b.Fatalf("%d objects", len(snap.Objects))
		}
	}
}
