package discovery_test

import (
	"bytes"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/uspkit/uspkit/discovery"
)

// v4 is option 125's data with one enterprise block per argument list.
func v4(blocks ...[]byte) []byte {
	var out []byte
	for _, b := range blocks {
		out = append(out, b...)
	}
	return out
}

func block(ent uint32, subs ...string) []byte {
	var sub []byte
	for _, s := range subs {
		sub = append(sub, s[0], byte(len(s)-1))
		sub = append(sub, s[1:]...)
	}
	b := []byte{byte(ent >> 24), byte(ent >> 16), byte(ent >> 8), byte(ent), byte(len(sub))}
	return append(b, sub...)
}

func TestParseV4(t *testing.T) {
	cases := []struct {
		name    string
		data    []byte
		want    discovery.VendorInfo
		wantErr bool
	}{
		{name: "all five", data: block(3561, "\x19wss://ctr.example.com:8443/usp", "\x1aPROV-1", "\x1b30", "\x1c2500", "\x1dproto::ctr"),
			want: discovery.VendorInfo{ControllerURL: "wss://ctr.example.com:8443/usp", ProvisioningCode: "PROV-1",
				RetryMinimumWaitInterval: "30", RetryIntervalMultiplier: "2500", EndpointID: "proto::ctr"}},
		// [R-DIS.1c] a terminating NUL is not part of the value.
		{name: "null terminated", data: block(3561, "\x1aPROV-2\x00", "\x1b5\x00"),
			want: discovery.VendorInfo{ProvisioningCode: "PROV-2", RetryMinimumWaitInterval: "5"}},
		// [R-DIS.1a] values stay strings, even when they are not numbers.
		{name: "strings", data: block(3561, "\x1b007", "\x1cabc"),
			want: discovery.VendorInfo{RetryMinimumWaitInterval: "007", RetryIntervalMultiplier: "abc"}},
		{name: "other enterprise first", data: v4(block(9, "\x1awrong"), block(3561, "\x1aright")),
			want: discovery.VendorInfo{ProvisioningCode: "right"}},
		{name: "gateway info", data: block(3561, "\x04001122", "\x05SN1", "\x06Gateway"),
			want: discovery.VendorInfo{Gateway: discovery.DeviceInfo{ManufacturerOUI: "001122", SerialNumber: "SN1", ProductClass: "Gateway"}}},
		{name: "unknown code ignored", data: block(3561, "\x63x", "\x1ap"), want: discovery.VendorInfo{ProvisioningCode: "p"}},
		{name: "empty", data: nil},
		{name: "short header", data: []byte{0, 0, 0x0d}, wantErr: true},
		{name: "block past end", data: []byte{0, 0, 0x0d, 0xe9, 9, 26, 1}, wantErr: true},
		{name: "sub-option past end", data: []byte{0, 0, 0x0d, 0xe9, 3, 26, 5, 'x'}, wantErr: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := discovery.ParseV4(tc.data)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.want, got); !tc.wantErr && diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
}

func TestParseV6(t *testing.T) {
	opt := func(code int, v string) []byte {
		return append([]byte{byte(code >> 8), byte(code), byte(len(v) >> 8), byte(len(v))}, v...)
	}
	bbf := []byte{0, 0, 0x0d, 0xe9}
	cases := []struct {
		name    string
		data    []byte
		want    discovery.VendorInfo
		wantErr bool
	}{
		{name: "controller", data: bytes.Join([][]byte{bbf, opt(25, "mqtt://broker.example.com"), opt(26, "P6\x00"), opt(29, "proto::c6")}, nil),
			want: discovery.VendorInfo{ControllerURL: "mqtt://broker.example.com", ProvisioningCode: "P6", EndpointID: "proto::c6"}},
		{name: "gateway codes 14-16", data: bytes.Join([][]byte{bbf, opt(14, "AABBCC"), opt(15, "S"), opt(16, "C"), opt(4, "ignored")}, nil),
			want: discovery.VendorInfo{Gateway: discovery.DeviceInfo{ManufacturerOUI: "AABBCC", SerialNumber: "S", ProductClass: "C"}}},
		{name: "other enterprise", data: append([]byte{0, 0, 0, 9}, opt(26, "x")...)},
		{name: "short", data: []byte{0, 0}, wantErr: true},
		{name: "option past end", data: append(append([]byte{}, bbf...), 0, 26, 0, 9, 'x'), wantErr: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := discovery.ParseV6(tc.data)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.want, got); !tc.wantErr && diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
}

func TestAppendRoundTrip(t *testing.T) {
	v := discovery.VendorInfo{ControllerURL: "ws://ctr:8080/usp", ProvisioningCode: "abc", RetryMinimumWaitInterval: "10",
		RetryIntervalMultiplier: "3000", EndpointID: "proto::ctr", Gateway: discovery.DeviceInfo{ManufacturerOUI: "00D09E", SerialNumber: "1", ProductClass: "GW"}}
	b4, err := v.AppendV4(nil)
	if err != nil {
		t.Fatal(err)
	}
	g4, err := discovery.ParseV4(b4)
	if err != nil || g4 != v {
		t.Errorf("v4 round trip: %+v, %v", g4, err)
	}
	g6, err := discovery.ParseV6(v.AppendV6(nil))
	if err != nil || g6 != v {
		t.Errorf("v6 round trip: %+v, %v", g6, err)
	}
	long := discovery.VendorInfo{ProvisioningCode: strings.Repeat("x", 300)}
	if _, err := long.AppendV4(nil); err == nil {
		t.Error("a 300-byte sub-option was encoded in DHCPv4")
	}
}

// TestVendorClass: the Vendor Class options carry 3561 and "usp" [R-DIS.1]
// (TP-469 8.1's metric), and the request's device information is codes 1-3
// [R-DIS.2a].
func TestVendorClass(t *testing.T) {
	if got := hex.EncodeToString(discovery.VendorClassV4()); got != "00000de90403757370" {
		t.Errorf("option 124 = %s", got)
	}
	if got := hex.EncodeToString(discovery.VendorClassV6()); got != "00000de90003757370" {
		t.Errorf("option 16 = %s", got)
	}
	d := discovery.DeviceInfoV4(discovery.DeviceInfo{ManufacturerOUI: "00D09E", SerialNumber: "S1", ProductClass: "P"})
	if got := hex.EncodeToString(d); got != "00000de90f"+"010630304430394502025331"+"030150" {
		t.Errorf("option 125 request = %s", got)
	}
}

func TestReadLease(t *testing.T) {
	want := discovery.VendorInfo{ControllerURL: "mqtt://127.0.0.1:1883/usp/controller", ProvisioningCode: "PROV-42", EndpointID: "proto::ctr"}
	cases := []struct {
		file  string
		iface string
		want  discovery.VendorInfo
	}{
		{"dhclient.leases", "eth0", want},
		{"dhclient-quoted.leases", "eth1", discovery.VendorInfo{ProvisioningCode: "Q1"}},
		{"dhclient6.leases", "eth0", discovery.VendorInfo{ProvisioningCode: "V6CODE", EndpointID: "proto::v6"}},
		{"udhcpc.env", "wan", want},
		{"udhcpc.json", "wan", want},
		{"odhcp6c.env", "wan6", discovery.VendorInfo{ProvisioningCode: "V6CODE", EndpointID: "proto::v6"}},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			f, err := os.Open(filepath.Join("testdata", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			l, err := discovery.ReadLease(f)
			if err != nil {
				t.Fatal(err)
			}
			if l.Interface != tc.iface {
				t.Errorf("interface %q, want %q", l.Interface, tc.iface)
			}
			if want := tc.file == "dhclient.leases" || tc.file == "udhcpc.env"; want != (l.Server.String() == "192.0.2.1") {
				t.Errorf("server identifier %v", l.Server)
			}
			if diff := cmp.Diff(tc.want, l.Info()); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
	for _, bad := range []string{"opt125=zz\n", `{"opt125": "00000de9"}`, "lease {\n option vivso 0:0:d:e9:5:1a:9;\n}\n", "lease {\n option vivso \"\\777\";\n}\n"} {
		if _, err := discovery.ReadLease(strings.NewReader(bad)); err == nil {
			t.Errorf("ReadLease(%q) gave no error", bad)
		}
	}
}

// FuzzParseV4 and FuzzParseV6: any option data decodes without panicking,
// and what decodes encodes back to the same information.
func FuzzParseV4(f *testing.F) {
	f.Add(block(3561, "\x19wss://c/usp", "\x1aP\x00", "\x1b5", "\x1c2000", "\x1dproto::c"))
	f.Add(v4(block(9, "\x01x"), block(3561, "\x04OUI")))
	f.Add([]byte{0, 0, 0x0d, 0xe9, 3, 26, 5, 'x'})
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := discovery.ParseV4(b)
		if err != nil {
			return
		}
		enc, err := v.AppendV4(nil)
		if err != nil {
			return
		}
		if w, err := discovery.ParseV4(enc); err != nil || w != v {
			t.Fatalf("round trip of %x: %+v, %v; want %+v", b, w, err, v)
		}
	})
}

func FuzzParseV6(f *testing.F) {
	f.Add([]byte{0, 0, 0x0d, 0xe9, 0, 26, 0, 2, 'P', 0})
	f.Add([]byte{0, 0, 0x0d, 0xe9, 0, 14, 0, 1, 'O', 0, 29, 0, 1, 'c'})
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := discovery.ParseV6(b)
		if err != nil {
			return
		}
		if w, err := discovery.ParseV6(v.AppendV6(nil)); err != nil || w != v {
			t.Fatalf("round trip of %x: %+v, %v; want %+v", b, w, err, v)
		}
	})
}

func FuzzReadLease(f *testing.F) {
	for _, n := range []string{"dhclient.leases", "dhclient6.leases", "udhcpc.env", "udhcpc.json"} {
		b, err := os.ReadFile(filepath.Join("testdata", n))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = discovery.ReadLease(bytes.NewReader(b))
	})
}

func TestParseControllerURL(t *testing.T) {
	cases := []struct {
		in      string
		want    discovery.Endpoint
		wantErr bool
	}{
		{in: "wss://ctr.example.com/usp", want: discovery.Endpoint{Protocol: "WebSocket", Host: "ctr.example.com", Port: 443, Path: "/usp", Encrypt: true}},
		{in: "ws://127.0.0.1:8080", want: discovery.Endpoint{Protocol: "WebSocket", Host: "127.0.0.1", Port: 8080, Path: "/"}},
		{in: "mqtt://broker:1884/usp/controller", want: discovery.Endpoint{Protocol: "MQTT", Host: "broker", Port: 1884, Path: "usp/controller"}},
		{in: "mqtts://[::1]/c", want: discovery.Endpoint{Protocol: "MQTT", Host: "::1", Port: 8883, Path: "c", Encrypt: true}},
		{in: "stomp://rmq:61613/queue/ctr", want: discovery.Endpoint{Protocol: "STOMP", Host: "rmq", Port: 61613, Path: "/queue/ctr"}},
		{in: "controller.example.com.", want: discovery.Endpoint{Host: "controller.example.com"}},
		{in: "http://x/", wantErr: true},
		{in: "ws://:80/", wantErr: true},
		{in: "ws://h:0/", wantErr: true},
		{in: "", wantErr: true},
		{in: "a b", wantErr: true},
	}
	for _, tc := range cases {
		got, err := discovery.ParseControllerURL(tc.in)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("ParseControllerURL(%q) = %+v, %v; want %+v, error %v", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
}
