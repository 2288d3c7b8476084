package ipdiag_test

import (
	"strings"
	"testing"
)

// TestOddInput: inputs at and past the edges of what makes sense end each
// test with a TR-181 Status (every output checked against its type), never
// a crash.
func TestOddInput(t *testing.T) {
	f := newFixture(t, nil)
	ping := func(host, size string) map[string]string {
		return map[string]string{"Host": host, "ProtocolVersion": "Any", "NumberOfRepetitions": "1", "Timeout": "200", "DataBlockSize": size}
	}
	cases := []struct {
		name, cmd string
		in        map[string]string
		status    string
	}{
		{"ping, largest block", "Device.IP.Diagnostics.IPPing()", ping("127.0.0.1", "65535"), "Complete"},
		{"ping, bracketed IPv6", "Device.IP.Diagnostics.IPPing()", ping("[::1]", "8"), "Complete"},
		{"ping, half a bracket", "Device.IP.Diagnostics.IPPing()", ping("[::1", "8"), "Complete"},
		{"ping, spaces", "Device.IP.Diagnostics.IPPing()", ping(" 127.0.0.1 ", "8"), "Error_CannotResolveHostName"},
		{"ping, long name", "Device.IP.Diagnostics.IPPing()", ping(strings.Repeat("a", 250)+".x", "8"), "Error_CannotResolveHostName"},
		{"trace, largest block", "Device.IP.Diagnostics.TraceRoute()", map[string]string{"Host": "127.0.0.1", "ProtocolVersion": "IPv4",
			"DataBlockSize": "65535", "NumberOfTries": "1", "Timeout": "500"}, "Complete"},
		{"trace, empty host", "Device.IP.Diagnostics.TraceRoute()", map[string]string{"Host": "", "ProtocolVersion": "Any"}, "Error_CannotResolveHostName"},
		{"download, broken URL", "Device.IP.Diagnostics.DownloadDiagnostics()", map[string]string{"DownloadURL": "http://[::1"}, "Error_Other"},
		{"download, no host", "Device.IP.Diagnostics.DownloadDiagnostics()", map[string]string{"DownloadURL": "http:///x"}, "Error_Other"},
		{"upload, unreachable port", "Device.IP.Diagnostics.UploadDiagnostics()", map[string]string{"UploadURL": "http://127.0.0.1:1/x",
			"TestFileLength": "10"}, "Error_InitConnectionFailed"},
		{"echo, largest block, nobody there", "Device.IP.Diagnostics.UDPEchoDiagnostics()", map[string]string{"Host": "127.0.0.1", "Port": "9",
			"Timeout": "100", "DataBlockSize": "65535"}, "Complete"},
		{"nslookup, bad name", "Device.DNS.Diagnostics.NSLookupDiagnostics()", map[string]string{"HostName": "a..b", "Timeout": "100",
			"NumberOfRepetitions": "1", "DNSServer": "127.0.0.1"}, "Error_Other"},
		{"nslookup, no repetitions", "Device.DNS.Diagnostics.NSLookupDiagnostics()", map[string]string{"HostName": "x", "Timeout": "0",
			"NumberOfRepetitions": "0", "DNSServer": "127.0.0.1:1"}, "Complete"},
		{"server selection, empty list", "Device.IP.Diagnostics.ServerSelectionDiagnostics()", map[string]string{"ProtocolVersion": "Any",
			"Protocol": "ICMP", "HostList": ",,", "NumberOfRepetitions": "1", "Timeout": "100"}, "Error_CannotResolveHostName"},
		{"server selection, UDP port out of range", "Device.IP.Diagnostics.ServerSelectionDiagnostics()", map[string]string{"ProtocolVersion": "Any",
			"Protocol": "UDP Echo", "HostList": "127.0.0.1:99999", "NumberOfRepetitions": "1", "Timeout": "100"}, "Error_CannotResolveHostName"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out := f.mustRun(t, tc.cmd, tc.in)
			if out["Status"] != tc.status {
				t.Errorf("Status %q, want %q: %v", out["Status"], tc.status, out)
			}
		})
	}
}
