package ipdiag_test

import (
	"net"
	"testing"
	"time"
)

// echoServer answers UDP datagrams after delay, until the test ends.
func echoServer(t testing.TB, delay time.Duration) string {
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	go func() {
		b := make([]byte, 2048)
		for {
			n, from, err := c.ReadFrom(b)
			if err != nil {
				return
			}
			time.Sleep(delay)
			c.WriteTo(b[:n], from)
		}
	}()
	return c.LocalAddr().String()
}

func TestServerSelection(t *testing.T) {
	slow, fast := echoServer(t, 30*time.Millisecond), echoServer(t, 0)
	f := newFixture(t, nil)
	cases := []struct {
		name, proto, hosts, status, fastest string
	}{
		{"UDP echo", "UDP Echo", slow + "," + fast, "Complete", fast},
		{"ICMP", "ICMP", "no-such-host.invalid,127.0.0.1", "Complete", "127.0.0.1"},
		{"none resolves", "ICMP", "no-such-host.invalid", "Error_CannotResolveHostName", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out := f.mustRun(t, "Device.IP.Diagnostics.ServerSelectionDiagnostics()", map[string]string{"ProtocolVersion": "IPv4",
				"Protocol": tc.proto, "HostList": tc.hosts, "NumberOfRepetitions": "3", "Timeout": "1000"})
			if out["Status"] != tc.status || out["FastestHost"] != tc.fastest {
				t.Fatalf("%v", out)
			}
			if tc.fastest != "" && atoi(t, out["AverageResponseTime"]) <= 0 {
				t.Errorf("AverageResponseTime %s", out["AverageResponseTime"])
			}
		})
	}
}
