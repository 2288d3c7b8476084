package ipdiag_test

import (
	"net"
	"testing"
)

func hasIPv6Loopback() bool {
	c, err := net.ListenPacket("udp6", "[::1]:0")
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// TestIPPingLoopback: echo requests to the host itself are answered and
// counted, with times in ms and µs, in both IP versions.
func TestIPPingLoopback(t *testing.T) {
	f := newFixture(t, nil)
	cases := []struct {
		name, host, proto, status string
		ok                        int
	}{
		{"IPv4", "127.0.0.1", "IPv4", "Complete", 3},
		{"IPv6", "::1", "IPv6", "Complete", 3},
		{"Any by name", "localhost", "Any", "Complete", 3},
		{"unresolvable", "no-such-host.invalid", "Any", "Error_CannotResolveHostName", 0},
		{"wrong family", "127.0.0.1", "IPv6", "Error_CannotResolveHostName", 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.proto == "IPv6" && !hasIPv6Loopback() {
				t.Skip("SKIP: no IPv6 loopback")
			}
			out := f.mustRun(t, "Device.IP.Diagnostics.IPPing()", map[string]string{"Host": tc.host, "ProtocolVersion": tc.proto,
				"NumberOfRepetitions": "3", "Timeout": "1000", "DataBlockSize": "56"})
			if out["Status"] != tc.status {
				t.Fatalf("Status %q, want %q (%v)\n%s", out["Status"], tc.status, out, f.log)
			}
			if tc.ok == 0 {
				return
			}
			if atoi(t, out["SuccessCount"]) != tc.ok || out["FailureCount"] != "0" {
				t.Errorf("SuccessCount %s FailureCount %s", out["SuccessCount"], out["FailureCount"])
			}
			mn, avg, mx := atoi(t, out["MinimumResponseTimeDetailed"]), atoi(t, out["AverageResponseTimeDetailed"]), atoi(t, out["MaximumResponseTimeDetailed"])
			if mn <= 0 || mn > avg || avg > mx || mx > 1000000 {
				t.Errorf("response times (µs) min %d avg %d max %d", mn, avg, mx)
			}
			if ip := net.ParseIP(out["IPAddressUsed"]); ip == nil || !ip.IsLoopback() {
				t.Errorf("IPAddressUsed %q", out["IPAddressUsed"])
			}
		})
	}
}

// TestIPPingMandatory: IPPing()'s mandatory arguments are required (7027)
// [R-OPR.5].
func TestIPPingMandatory(t *testing.T) {
	f := newFixture(t, nil)
	_, err := f.run(t, t.Context(), "Device.IP.Diagnostics.IPPing()", map[string]string{"Host": "127.0.0.1"})
	if err == nil {
		t.Fatal("IPPing() without its mandatory arguments ran")
	}
}
