package mtp_test

import (
	"testing"
	"time"

	"github.com/uspkit/uspkit/mtp"
)

// TestRetryRanges checks the default table of [R-WS.19].
func TestRetryRanges(t *testing.T) {
	var r mtp.Retry
	want := []int{5, 10, 20, 40, 80, 160, 320, 640, 1280, 2560, 5120}
	for n := 1; n <= 12; n++ {
		lo, hi := r.Range(n)
		i := min(n, 10)
		if lo != time.Duration(want[i-1])*time.Second || hi != time.Duration(want[i])*time.Second {
			t.Errorf("retry #%d: range %v-%v, want %ds-%ds", n, lo, hi, want[i-1], want[i])
		}
	}
	custom := mtp.Retry{MinWait: time.Second, Multiplier: 1500}
	if lo, hi := custom.Range(3); lo != 2250*time.Millisecond || hi != 3375*time.Millisecond {
		t.Errorf("m=1s k=1500 #3: %v-%v", lo, hi)
	}
	// ConnectRetryMaxInterval / ServerRetryMaxInterval cap the wait.
	capped := mtp.Retry{MinWait: 5 * time.Second, MaxWait: 30 * time.Second}
	for n, want := range map[int][2]time.Duration{1: {5 * time.Second, 10 * time.Second}, 3: {20 * time.Second, 30 * time.Second}, 5: {30 * time.Second, 30 * time.Second}} {
		if lo, hi := capped.Range(n); lo != want[0] || hi != want[1] {
			t.Errorf("max 30s #%d: %v-%v, want %v-%v", n, lo, hi, want[0], want[1])
		}
	}
}

func TestRetryNext(t *testing.T) {
	for _, f := range []float64{0, 0.5, 0.999} {
		r := mtp.Retry{Rand: func() float64 { return f }}
		for n := 1; n <= 12; n++ {
			lo, hi := r.Range(n)
			d := r.Next()
			if d < lo || d > hi {
				t.Fatalf("retry #%d waited %v outside %v-%v", n, d, lo, hi)
			}
		}
		if r.Count() != 10 {
			t.Errorf("count = %d, want 10 (capped)", r.Count())
		}
		r.Reset()
		if lo, _ := r.Range(r.Count() + 1); r.Next() < lo {
			t.Error("after Reset the first range is not used")
		}
	}
}
