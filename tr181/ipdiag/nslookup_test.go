package ipdiag_test

import (
	"net"
	"testing"

	"github.com/uspkit/uspkit/internal/testenv"
)

func TestNSLookup(t *testing.T) {
	srv := testenv.DNSZone(t, "box.example.net. 60 IN A 192.0.2.7", "box.example.net. 60 IN AAAA 2001:db8::7")
	dead, _ := net.ListenPacket("udp4", "127.0.0.1:0")
	deadAddr := dead.LocalAddr().String()
	dead.Close()
	f := newFixture(t, nil)
	cases := []struct {
		name, host, server, status, result, addrs string
	}{
		{"found", "box.example.net", srv, "Complete", "Success", "192.0.2.7,2001:db8::7"},
		{"unknown name", "nothing.example.net", srv, "Complete", "Error_HostNameNotResolved", ""},
		{"server down", "box.example.net", deadAddr, "Complete", "Error_DNSServerNotAvailable", ""},
		{"server unresolvable", "box.example.net", "no-such-server.invalid", "Error_DNSServerNotResolved", "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out := f.mustRun(t, "Device.DNS.Diagnostics.NSLookupDiagnostics()", map[string]string{"HostName": tc.host, "DNSServer": tc.server,
				"Timeout": "1000", "NumberOfRepetitions": "2"})
			if out["Status"] != tc.status || out["Result.1.Status"] != tc.result || out["Result.2.Status"] != tc.result {
				t.Fatalf("%v", out)
			}
			if tc.result == "Success" {
				if out["SuccessCount"] != "2" || out["Result.1.IPAddresses"] != tc.addrs || out["Result.1.HostNameReturned"] != tc.host ||
					out["Result.1.DNSServerIP"] != "127.0.0.1" || out["Result.1.AnswerType"] != "NonAuthoritative" {
					t.Errorf("%v", out)
				}
			}
		})
	}
}
