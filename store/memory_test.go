package store_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/uspkit/uspkit/store"
)

func memoryPaths(t testing.TB, m *store.Memory) []string {
	t.Helper()
	s, err := m.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, o := range s.Objects {
		out = append(out, o.Path)
	}
	return out
}

// TestMemoryDeleteBelow: a Delete removes the object at its path and
// every object below it, and nothing else (siblings sharing leading
// characters, other tables), however the objects came and went.
func TestMemoryDeleteBelow(t *testing.T) {
	put := func(paths ...string) *store.Batch {
		b := &store.Batch{}
		for _, p := range paths {
			b.Put = append(b.Put, store.Object{Path: p, Params: map[string]string{"A": p}})
		}
		return b
	}
	all := []string{"Device.", "Device.X.3.", "Device.X.3.Y.1.", "Device.X.3.Y.2.", "Device.X.30.", "Device.X.30.Y.1.",
		"Device.X.4.", "Device.XY.3.", "Device.Z.1."}
	tests := []struct {
		del  []string
		want []string
	}{
		{[]string{"Device.X.3."}, []string{"Device.", "Device.X.30.", "Device.X.30.Y.1.", "Device.X.4.", "Device.XY.3.", "Device.Z.1."}},
		{[]string{"Device.X.3.Y.1."}, []string{"Device.", "Device.X.3.", "Device.X.3.Y.2.", "Device.X.30.", "Device.X.30.Y.1.", "Device.X.4.", "Device.XY.3.", "Device.Z.1."}},
		{[]string{"Device.X."}, []string{"Device.", "Device.XY.3.", "Device.Z.1."}},
		{[]string{"Device.X.3.Y."}, []string{"Device.", "Device.X.3.", "Device.X.30.", "Device.X.30.Y.1.", "Device.X.4.", "Device.XY.3.", "Device.Z.1."}},
		{[]string{"Device.Q.1.", "Device.Z.1."}, []string{"Device.", "Device.X.3.", "Device.X.3.Y.1.", "Device.X.3.Y.2.", "Device.X.30.", "Device.X.30.Y.1.", "Device.X.4.", "Device.XY.3."}},
		{[]string{"Device."}, nil},
		{[]string{"Device.X.3"}, []string{"Device.", "Device.X.4.", "Device.XY.3.", "Device.Z.1."}}, // a prefix, not a path
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint(tc.del), func(t *testing.T) {
			ctx := context.Background()
			m := store.NewMemory()
			// Objects put, deleted and put again, so that the state is not
			// just what one Put made.
			if err := m.Apply(ctx, put(all...)); err != nil {
				t.Fatal(err)
			}
			if err := m.Apply(ctx, &store.Batch{Delete: []string{"Device.X.3.Y.1.", "Device.Z."}}); err != nil {
				t.Fatal(err)
			}
			if err := m.Apply(ctx, put("Device.X.3.Y.1.", "Device.Z.1.")); err != nil {
				t.Fatal(err)
			}
			if err := m.Apply(ctx, &store.Batch{Delete: tc.del}); err != nil {
				t.Fatal(err)
			}
			if got := memoryPaths(t, m); !slices.Equal(got, tc.want) {
				t.Errorf("after deleting %v: %v, want %v", tc.del, got, tc.want)
			}
			// What is left can still be deleted by prefix.
			if err := m.Apply(ctx, &store.Batch{Delete: []string{"Device."}}); err != nil {
				t.Fatal(err)
			}
			if got := memoryPaths(t, m); len(got) != 0 {
				t.Errorf("after deleting everything: %v", got)
			}
		})
	}
}

// BenchmarkMemoryDelete deletes one row (no descendants) from a table of
// 10,000 rows held by Memory (the journal's state), re-adding it untimed.
func BenchmarkMemoryDelete(b *testing.B) {
	ctx := context.Background()
	m := store.NewMemory()
	row := func(n int) store.Object {
		return store.Object{Path: fmt.Sprintf("Device.LocalAgent.Subscription.%d.", n), Params: map[string]string{"ID": fmt.Sprint("s", n), "Enable": "false"}}
	}
	fill := &store.Batch{}
	for n := 1; n <= 10000; n++ {
		fill.Put = append(fill.Put, row(n))
	}
	if err := m.Apply(ctx, fill); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		n := i%10000 + 1
		if err := m.Apply(ctx, &store.Batch{Delete: []string{row(n).Path}}); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if err := m.Apply(ctx, &store.Batch{Put: []store.Object{row(n)}}); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}
