package storetest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/uspkit/uspkit/store"
)

// OpenIndex returns a fresh, empty fleet index for one test.
type OpenIndex func(t *testing.T) store.AgentIndex

// fleetBase is the LastSeen of the first test Agent; the others follow a
// minute apart.
func fleetBase() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }

// testAgents are 20 Agents whose columns cycle with different periods.
func testAgents() []store.AgentRecord {
	var out []store.AgentRecord
	for i := range 20 {
		r := store.AgentRecord{ID: fmt.Sprintf("os::0000AA-agent%02d", i), Online: i%2 == 0, LastSeen: fleetBase().Add(time.Duration(i) * time.Minute),
			Params: map[string]string{"ModelName": fmt.Sprintf("M%d", i%3), "SoftwareVersion": fmt.Sprintf("v%d", i%2), "SerialNumber": fmt.Sprintf("SN%02d", i)}}
		if i%4 == 0 {
			r.Tags = append(r.Tags, "lab")
		}
		if i%5 == 0 {
			r.Tags = append(r.Tags, "edge")
		}
		out = append(out, r)
	}
	return out
}

// RunAgentIndex runs the behaviour suite of a fleet index: each filter
// alone and together, each sort in both orders, paging, and the changes
// (tags replaced, online state, deletes).
func RunAgentIndex(t *testing.T, open OpenIndex) {
	ctx := context.Background()
	agents := testAgents()
	on, off := true, false
	ids := func(pick func(i int, r store.AgentRecord) bool) []string {
		out := []string{}
		for i, r := range agents {
			if pick(i, r) {
				out = append(out, r.ID)
			}
		}
		return out
	}
	idx := open(t)
	if err := idx.PutAgents(ctx, agents); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		q    store.AgentQuery
		want []string
		// total, when not -1, differs from len(want) (a page).
		total int
	}{
		{"all", store.AgentQuery{}, ids(func(int, store.AgentRecord) bool { return true }), -1},
		{"match", store.AgentQuery{Filters: []store.AgentFilter{{Match: "agent1"}}}, ids(func(i int, _ store.AgentRecord) bool { return i >= 10 }), -1},
		{"model", store.AgentQuery{Filters: []store.AgentFilter{{Model: "M0"}}}, ids(func(i int, _ store.AgentRecord) bool { return i%3 == 0 }), -1},
		{"version", store.AgentQuery{Filters: []store.AgentFilter{{Version: "v1"}}}, ids(func(i int, _ store.AgentRecord) bool { return i%2 == 1 }), -1},
		{"online", store.AgentQuery{Filters: []store.AgentFilter{{Online: &on}}}, ids(func(i int, _ store.AgentRecord) bool { return i%2 == 0 }), -1},
		{"offline", store.AgentQuery{Filters: []store.AgentFilter{{Online: &off}}}, ids(func(i int, _ store.AgentRecord) bool { return i%2 == 1 }), -1},
		{"tag", store.AgentQuery{Filters: []store.AgentFilter{{Tag: "lab"}}}, ids(func(i int, _ store.AgentRecord) bool { return i%4 == 0 }), -1},
		{"static group", store.AgentQuery{Filters: []store.AgentFilter{{Only: true, IDs: []string{agents[1].ID, agents[2].ID, "os::0000AA-unknown"}}}}, []string{agents[1].ID, agents[2].ID}, -1},
		{"empty static group", store.AgentQuery{Filters: []store.AgentFilter{{Only: true}}}, []string{}, -1},
		{"seen before", store.AgentQuery{Filters: []store.AgentFilter{{SeenBefore: fleetBase().Add(5 * time.Minute)}}}, ids(func(i int, _ store.AgentRecord) bool { return i < 5 }), -1},
		{"seen after", store.AgentQuery{Filters: []store.AgentFilter{{SeenAfter: fleetBase().Add(15 * time.Minute)}}}, ids(func(i int, _ store.AgentRecord) bool { return i > 15 }), -1},
		{"param", store.AgentQuery{Filters: []store.AgentFilter{{Param: "SerialNumber", Value: "SN07"}}}, []string{agents[7].ID}, -1},
		{"param no value", store.AgentQuery{Filters: []store.AgentFilter{{Param: "SerialNumber", Value: "SN99"}}}, []string{}, -1},
		{"model and tag", store.AgentQuery{Filters: []store.AgentFilter{{Model: "M0", Tag: "lab"}}}, ids(func(i int, _ store.AgentRecord) bool { return i%12 == 0 }), -1},
		{"two filters", store.AgentQuery{Filters: []store.AgentFilter{{Tag: "edge"}, {Online: &on}}}, ids(func(i int, _ store.AgentRecord) bool { return i%10 == 0 }), -1},
		{"sort model desc", store.AgentQuery{Sort: store.SortModel, Desc: true, Limit: 3}, []string{agents[17].ID, agents[14].ID, agents[11].ID}, 20},
		{"sort version", store.AgentQuery{Sort: store.SortVersion, Limit: 2}, []string{agents[0].ID, agents[2].ID}, 20},
		{"sort last seen desc", store.AgentQuery{Sort: store.SortLastSeen, Desc: true, Limit: 2}, []string{agents[19].ID, agents[18].ID}, 20},
		{"sort online", store.AgentQuery{Sort: store.SortOnline, Limit: 2}, []string{agents[1].ID, agents[3].ID}, 20},
		{"sort online desc", store.AgentQuery{Sort: store.SortOnline, Desc: true, Limit: 2}, []string{agents[18].ID, agents[16].ID}, 20},
		{"page", store.AgentQuery{Limit: 5, Offset: 18}, []string{agents[18].ID, agents[19].ID}, 20},
		{"offset only", store.AgentQuery{Offset: 19}, []string{agents[19].ID}, 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, total, err := idx.SearchAgents(ctx, tc.q)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("ids (-want +got):\n%s", diff)
			}
			want := tc.total
			if want < 0 {
				want = len(tc.want)
			}
			if total != want {
				t.Errorf("total %d, want %d", total, want)
			}
		})
	}
	t.Run("changes", func(t *testing.T) {
		search := func(f store.AgentFilter) []string {
			t.Helper()
			got, _, err := idx.SearchAgents(ctx, store.AgentQuery{Filters: []store.AgentFilter{f}})
			if err != nil {
				t.Fatal(err)
			}
			return got
		}
		r := agents[0]
		r.Tags = []string{"moved"}
		if err := idx.PutAgents(ctx, []store.AgentRecord{r}); err != nil {
			t.Fatal(err)
		}
		if got := search(store.AgentFilter{Tag: "lab"}); slices.Contains(got, r.ID) {
			t.Errorf("tag lab still on %s after its tags were replaced: %v", r.ID, got)
		}
		if got := search(store.AgentFilter{Tag: "moved"}); !slices.Equal(got, []string{r.ID}) {
			t.Errorf("tag moved: %v", got)
		}
		seen := fleetBase().Add(time.Hour)
		if err := idx.SetAgentOnline(ctx, agents[1].ID, true, seen); err != nil {
			t.Fatal(err)
		}
		if got := search(store.AgentFilter{SeenAfter: seen.Add(-time.Second)}); !slices.Equal(got, []string{agents[1].ID}) {
			t.Errorf("seen after an online change: %v", got)
		}
		if err := idx.DeleteAgents(ctx, []string{agents[1].ID, agents[2].ID}); err != nil {
			t.Fatal(err)
		}
		if got := search(store.AgentFilter{Match: "agent0"}); len(got) != 8 {
			t.Errorf("after deleting two of agent0x: %v", got)
		}
		if got := search(store.AgentFilter{Param: "SerialNumber", Value: "SN02"}); len(got) != 0 {
			t.Errorf("params of a deleted agent still found: %v", got)
		}
		n, err := idx.AllOffline(ctx)
		if err != nil || n != 18 {
			t.Fatalf("AllOffline: %d, %v; want 18", n, err)
		}
		if got := search(store.AgentFilter{Online: &on}); len(got) != 0 {
			t.Errorf("online after AllOffline: %v", got)
		}
	})
}

// BenchAgentIndex registers n Agents (unless the index already holds
// them) and measures one search of each kind, each a count and a page of
// 100; registered, if not nil, runs after the registration (to gather the
// planner's statistics, say).
func BenchAgentIndex(b *testing.B, idx store.AgentIndex, n int, registered func()) {
	ctx := context.Background()
	if have, _, err := idx.SearchAgents(ctx, store.AgentQuery{Limit: 1, Offset: n - 1}); err != nil || len(have) == 0 {
		start := time.Now()
		RegisterAgents(b, idx, n)
		b.Logf("registered %d agents in %v", n, time.Since(start).Round(time.Millisecond))
	}
	if registered != nil {
		registered()
	}
	benchQueries(b, idx, n)
}

func benchBase() time.Time { return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) }

func benchID(i int) string { return fmt.Sprintf("os::012345-bench%07d", i) }

// RegisterAgents puts the n Agents BenchAgentIndex searches in idx, a
// thousand per PutAgents.
func RegisterAgents(tb testing.TB, idx store.AgentIndex, n int) {
	ctx := context.Background()
	base := benchBase()
	recs := make([]store.AgentRecord, 0, 1000)
	for i := range n {
		r := store.AgentRecord{ID: benchID(i), Online: i%3 == 0, LastSeen: base.Add(time.Duration(i) * time.Second),
			Tags: []string{fmt.Sprintf("site-%d", i%100)},
			Params: map[string]string{"ModelName": fmt.Sprintf("Model-%d", i%20), "SoftwareVersion": fmt.Sprintf("1.%d", i%10),
				"SerialNumber": fmt.Sprintf("SN%08d", i), "Manufacturer": "uspkit"}}
		if i%1000 == 0 {
			r.Tags = append(r.Tags, "canary")
		}
		recs = append(recs, r)
		if len(recs) == cap(recs) || i == n-1 {
			if err := idx.PutAgents(ctx, recs); err != nil {
				tb.Fatal(err)
			}
			recs = recs[:0]
		}
	}
}

// benchQueries measures each kind of search on the Agents of
// RegisterAgents.
func benchQueries(b *testing.B, idx store.AgentIndex, n int) {
	ctx := context.Background()
	base, id := benchBase(), benchID
	on := true
	static := make([]string, 0, 500)
	for i := range 500 {
		static = append(static, id(i*(n/500)))
	}
	f := func(fs ...store.AgentFilter) []store.AgentFilter { return fs }
	for _, bc := range []struct {
		name string
		q    store.AgentQuery
	}{
		{"All", store.AgentQuery{}},
		{"Q", store.AgentQuery{Filters: f(store.AgentFilter{Match: "bench004242"})}},
		{"Model", store.AgentQuery{Filters: f(store.AgentFilter{Model: "Model-7"})}},
		{"Version", store.AgentQuery{Filters: f(store.AgentFilter{Version: "1.3"})}},
		{"Online", store.AgentQuery{Filters: f(store.AgentFilter{Online: &on})}},
		{"Tag", store.AgentQuery{Filters: f(store.AgentFilter{Tag: "site-42"})}},
		{"StaticGroup500", store.AgentQuery{Filters: f(store.AgentFilter{Only: true, IDs: static})}},
		{"SeenAfter", store.AgentQuery{Filters: f(store.AgentFilter{SeenAfter: base.Add(time.Duration(n-1000) * time.Second)})}},
		{"Param", store.AgentQuery{Filters: f(store.AgentFilter{Param: "SerialNumber", Value: fmt.Sprintf("SN%08d", n/2)})}},
		{"ModelOnlineTag", store.AgentQuery{Filters: f(store.AgentFilter{Model: "Model-2", Online: &on, Tag: "site-42"})}},
		{"SortLastSeenDesc", store.AgentQuery{Sort: store.SortLastSeen, Desc: true}},
		{"SortModelOffset50000", store.AgentQuery{Sort: store.SortModel, Offset: n / 2}},
	} {
		bc.q.Limit = 100
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				ids, total, err := idx.SearchAgents(ctx, bc.q)
				if err != nil {
					b.Fatal(err)
				}
				if total == 0 || len(ids) == 0 {
					b.Fatalf("%s: nothing found", strings.ToLower(bc.name))
				}
			}
		})
	}
}
