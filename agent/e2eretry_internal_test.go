package agent

import (
	"testing"
	"time"
)

// TestRetryWait: the wait before retry n of a session establishment lies
// between m·(k/1000)^(n-1) and m·(k/1000)^n seconds, and from the tenth
// retry on in the tenth's range [R-E2E.10], [R-E2E.11].
func TestRetryWait(t *testing.T) {
	for _, tc := range []struct {
		n      int
		m, k   uint64
		lo, hi time.Duration
	}{
		{1, 5, 2000, 5 * time.Second, 10 * time.Second},
		{2, 5, 2000, 10 * time.Second, 20 * time.Second},
		{3, 5, 2000, 20 * time.Second, 40 * time.Second},
		{10, 5, 2000, 2560 * time.Second, 5120 * time.Second},
		{25, 5, 2000, 2560 * time.Second, 5120 * time.Second},
		{1, 2, 3000, 2 * time.Second, 6 * time.Second},
		{2, 1, 1000, time.Second, time.Second},
	} {
		for range 50 {
			if d := retryWait(tc.n, tc.m, tc.k); d < tc.lo || d > tc.hi {
				t.Fatalf("retry %d with m=%d k=%d: %v, want %v to %v", tc.n, tc.m, tc.k, d, tc.lo, tc.hi)
			}
		}
	}
}
