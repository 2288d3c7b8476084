package netlimit

import (
	"net"
	"testing"
)

// TestSourceOf: connections are counted per IPv4 address and per IPv6
// /64, so that a host cannot dodge the per-source cap by cycling through
// the addresses of its prefix; IPv4-mapped IPv6 counts as IPv4.
func TestSourceOf(t *testing.T) {
	tests := []struct {
		a, b string
		same bool
	}{
		{"127.0.0.2:1000", "127.0.0.2:2000", true},
		{"127.0.0.2:1000", "127.0.0.3:1000", false},
		{"[2001:db8:1:2::1]:1000", "[2001:db8:1:2:ffff::9]:1000", true},
		{"[2001:db8:1:2::1]:1000", "[2001:db8:1:3::1]:1000", false},
		{"[::ffff:127.0.0.2]:1000", "127.0.0.2:5", true},
	}
	for _, tt := range tests {
		a, _ := net.ResolveTCPAddr("tcp", tt.a)
		b, _ := net.ResolveTCPAddr("tcp", tt.b)
		if got := sourceOf(a) == sourceOf(b); got != tt.same {
			t.Errorf("%s and %s: same source %v, want %v", tt.a, tt.b, got, tt.same)
		}
	}
	if u := sourceOf(&net.UnixAddr{Name: "/tmp/x", Net: "unix"}); u.IsValid() {
		t.Errorf("a Unix socket's source is %v, want the zero key", u)
	}
}
