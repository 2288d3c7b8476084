package cli

import (
	"strings"
	"testing"
	"time"
)

// TestReleaserChecks: what each check releases, and when the next one
// comes, from the CPU time and page faults between checks.
func TestReleaserChecks(t *testing.T) {
	const ms = int64(time.Millisecond)
	type step struct {
		cpu    int64 // CPU used since the previous check, ns
		faults int64
		want   string        // releases made by the check: "all", "pages", "free" or "" (a check follows the previous after the interval it returned)
		next   time.Duration // the interval it returns
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"start-up counts as busy, then quiet", []step{
			{0, 0, "", fastCheck}, {0, 0, "all", slowCheck}, {0, 0, "free", slowCheck},
		}},
		{"a burst, then quiet: everything after two quiet checks", []step{
			{0, 0, "", fastCheck}, {0, 0, "all", slowCheck},
			{500 * ms, 3000, "free", fastCheck}, {300 * ms, 10, "", fastCheck},
			{1 * ms, 2, "", fastCheck}, {1 * ms, 2, "all", slowCheck},
			{0, 0, "free", slowCheck},
		}},
		{"activity in between restarts the count", []step{
			{0, 0, "", fastCheck}, {0, 0, "all", slowCheck},
			{100 * ms, 0, "free", fastCheck}, {0, 0, "", fastCheck}, {50 * ms, 0, "", fastCheck},
			{0, 0, "", fastCheck}, {0, 0, "all", slowCheck},
		}},
		{"page faults alone: the pages, at most once every pagesEvery", []step{
			{0, 0, "", fastCheck}, {0, 0, "all", slowCheck},
			{0, 200, "free", fastCheck}, {0, 0, "", fastCheck}, {0, 0, "pages", slowCheck},
			{0, 200, "free", fastCheck}, {0, 0, "", fastCheck}, {0, 0, "free", slowCheck},
			{0, 0, "free", slowCheck},
		}},
		{"activity that never pauses: the free heap every slowCheck", []step{
			{0, 0, "", fastCheck}, {0, 0, "all", slowCheck},
			{100 * ms, 0, "free", fastCheck}, {100 * ms, 0, "", fastCheck}, {100 * ms, 0, "", fastCheck},
			{100 * ms, 0, "", fastCheck}, {100 * ms, 0, "", fastCheck}, {100 * ms, 0, "free", fastCheck},
		}},
		{"a little CPU and a few faults are quiet", []step{
			{0, 0, "", fastCheck}, {0, 0, "all", slowCheck},
			{slowCheck.Nanoseconds() / quietRate, quietFaults, "free", slowCheck},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var (
				u     procUsage
				clock = time.Unix(0, 0)
				did   []string
			)
			r := releaser{
				usage: func() procUsage { return u },
				now:   func() time.Time { return clock },
				all:   func() { did = append(did, "all") },
				pages: func() { did = append(did, "pages") },
				free:  func() { did = append(did, "free") },
			}
			d := r.start()
			for i, s := range tc.steps {
				clock = clock.Add(d)
				u.cpu += s.cpu
				u.faults += s.faults
				did = nil
				d = r.check()
				if got := strings.Join(did, ","); got != s.want || d != s.next {
					t.Errorf("check %d: released %q, next in %v; want %q, %v", i, got, d, s.want, s.next)
				}
			}
		})
	}
}
