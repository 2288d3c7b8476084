package ipdiag

import (
	"testing"
	"time"
)

// TestCadence: an unanswered probe's successor waits until one Timeout
// after the previous wait's end, so a late wake-up does not lengthen the
// gap between tries (TP-469 1.92: within 1% of 5000 ms); after an answer,
// or when very late, a probe waits the whole Timeout.
func TestCadence(t *testing.T) {
	const every = 5 * time.Second
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		sends []time.Duration // send times after t0
		want  []time.Duration // each probe's wait
	}{
		{"OnTime", []time.Duration{0, every, 2 * every}, []time.Duration{every, every, every}},
		{"LateWakeUps", []time.Duration{0, every + 70*time.Millisecond, 2*every + 60*time.Millisecond},
			[]time.Duration{every, every - 70*time.Millisecond, every - 60*time.Millisecond}},
		{"AfterAnswer", []time.Duration{0, 40 * time.Millisecond}, []time.Duration{every, every}},
		{"VeryLate", []time.Duration{0, every + 3*time.Second}, []time.Duration{every, every}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &cadence{every: every}
			for i, s := range tt.sends {
				if got := c.timeout(t0.Add(s)); got != tt.want[i] {
					t.Errorf("probe %d sent at +%v waits %v, want %v", i+1, s, got, tt.want[i])
				}
			}
		})
	}
}
