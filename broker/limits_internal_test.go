package broker

import (
	"testing"
	"time"
)

// TestLimitDefaults: zero Options get the documented limits.
func TestLimitDefaults(t *testing.T) {
	c, err := newConfig(nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		got, want int64
	}{
		{"MaxClients", int64(c.MaxClients), DefaultMaxClients},
		{"MaxPending", int64(c.MaxPending), DefaultMaxPending},
		{"MaxRetained", int64(c.MaxRetained), DefaultMaxRetained},
		{"MaxRetainedBytes", c.MaxRetainedBytes, DefaultMaxRetainedBytes},
		{"SessionQueue", int64(c.SessionQueue), DefaultSessionQueue},
		{"SessionQueueBytes", c.SessionQueueBytes, DefaultSessionQueueBytes},
		{"ReceiveMaximum", int64(c.ReceiveMaximum), DefaultReceiveMaximum},
		{"MaxSessionExpiry", int64(c.MaxSessionExpiry), int64(DefaultMaxSessionExpiry)},
		{"LoginFailures", int64(c.LoginFailures), DefaultLoginFailures},
		{"LoginFailureWindow", int64(c.LoginFailureWindow), int64(DefaultLoginFailureWindow)},
		{"LogInterval", int64(c.LogInterval), int64(DefaultLogInterval)},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s = %d, want %d", tt.name, tt.got, tt.want)
		}
	}
}

// TestLoginThrottleBuckets: failures are counted per IPv4 address and
// per IPv6 /64, and come back at the window's rate.
func TestLoginThrottleBuckets(t *testing.T) {
	now := time.Unix(1000, 0)
	th := newLoginThrottle(3, 3*time.Second) // one back per second
	for range 3 {
		th.fail("192.0.2.1:1000", now)
		th.fail("[2001:db8::1]:1000", now)
	}
	tests := []struct {
		remote  string
		at      time.Duration
		blocked bool
	}{
		{"192.0.2.1:2000", 0, true},
		{"192.0.2.2:2000", 0, false},
		{"[2001:db8::ffff]:2000", 0, true}, // same /64
		{"[2001:db8:0:1::1]:2000", 0, false},
		{"[::ffff:192.0.2.1]:2000", 0, true}, // IPv4-mapped
		{"192.0.2.1:2000", 1100 * time.Millisecond, false},
		{"not an address", 0, false},
	}
	for _, tt := range tests {
		if got := th.blocked(tt.remote, now.Add(tt.at)); got != tt.blocked {
			t.Errorf("blocked(%q, +%v) = %v", tt.remote, tt.at, got)
		}
	}
}
