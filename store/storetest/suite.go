package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/uspkit/uspkit/store"
)

// Store is the method set every implementation has.
type Store interface {
	Load(ctx context.Context) (*store.Snapshot, error)
	Apply(ctx context.Context, b *store.Batch) error
}

// Open returns a fresh, empty store for one test.
type Open func(t *testing.T) Store

// Reopen, when a store is durable, closes and reopens it to show what
// survived; nil for stores that are not.
type Reopen func(t *testing.T, s Store) Store

// Run runs the suite.
func Run(t *testing.T, open Open, reopen Reopen) {
	ctx := context.Background()
	obj := func(p string, kv ...string) store.Object {
		o := store.Object{Path: p, Params: map[string]string{}}
		for i := 0; i+1 < len(kv); i += 2 {
			o.Params[kv[i]] = kv[i+1]
		}
		return o
	}
	t.Run("PutDeleteLoad", func(t *testing.T) {
		s := open(t)
		apply(t, s, &store.Batch{Put: []store.Object{
			obj("Device.A.1.", "X", "1", "Y", ""), obj("Device.A.1.B.1.", "Z", "z"),
			obj("Device.A.10.", "X", "10"), obj("Device.A.2.", "X", "2"),
		}, Counters: map[string]uint32{"Device.A.": 11}})
		apply(t, s, &store.Batch{Delete: []string{"Device.A.1."}, Put: []store.Object{obj("Device.A.2.", "X", "two")}})
		want := &store.Snapshot{
			Objects:  []store.Object{obj("Device.A.10.", "X", "10"), obj("Device.A.2.", "X", "two")},
			Counters: map[string]uint32{"Device.A.": 11},
		}
		check(t, s, want)
		if reopen != nil {
			check(t, reopen(t, s), want)
		}
	})
	t.Run("CountersOnlyGrow", func(t *testing.T) {
		s := open(t)
		apply(t, s, &store.Batch{Counters: map[string]uint32{"n": 5}})
		apply(t, s, &store.Batch{Counters: map[string]uint32{"n": 3}})
		snap, _ := s.Load(ctx)
		if snap.Counters["n"] != 5 {
			t.Errorf("counter = %d, want 5", snap.Counters["n"])
		}
	})
	t.Run("Items", func(t *testing.T) {
		s := open(t)
		apply(t, s, &store.Batch{PutItems: []store.Item{{Kind: "notify", ID: "2", Data: []byte{0, 1}}, {Kind: "notify", ID: "1", Data: []byte("a")}}})
		apply(t, s, &store.Batch{DeleteItems: []store.Item{{Kind: "notify", ID: "2"}}})
		want := &store.Snapshot{Items: []store.Item{{Kind: "notify", ID: "1", Data: []byte("a")}}}
		check(t, s, want)
		if reopen != nil {
			check(t, reopen(t, s), want)
		}
	})
	t.Run("ConcurrentApply", func(t *testing.T) {
		s := open(t)
		var wg sync.WaitGroup
		for g := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 25 {
					p := fmt.Sprintf("Device.T.%d.", g*100+i+1)
					if err := s.Apply(ctx, &store.Batch{Put: []store.Object{obj(p, "V", p)}}); err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		snap, err := s.Load(ctx)
		if err != nil || len(snap.Objects) != 100 {
			t.Fatalf("%d objects, %v", len(snap.Objects), err)
		}
	})
	t.Run("CanceledContext", func(t *testing.T) {
		s := open(t)
		c, cancel := context.WithCancel(ctx)
		cancel()
		if err := s.Apply(c, &store.Batch{Put: []store.Object{obj("Device.C.1.")}}); err == nil {
			t.Error("Apply with a canceled context succeeded")
		}
		check(t, s, &store.Snapshot{})
	})
}

func apply(t *testing.T, s Store, b *store.Batch) {
	t.Helper()
	if err := s.Apply(context.Background(), b); err != nil {
		t.Fatalf("Apply: %v", err)
	}
}

func check(t *testing.T, s Store, want *store.Snapshot) {
	t.Helper()
	got, err := s.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("snapshot (-want +got):\n%s", diff)
	}
}
