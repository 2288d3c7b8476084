package discovery_test

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/uspkit/uspkit/discovery"
)

// TestReadLeaseDNS: the DNS servers of a lease, in each client's form, are
// where a Controller's FQDN is looked up [R-DIS.7].
func TestReadLeaseDNS(t *testing.T) {
	a, b, c := netip.MustParseAddr("10.9.0.1"), netip.MustParseAddr("10.9.0.2"), netip.MustParseAddr("fd00::53")
	for _, tc := range []struct {
		name, lease string
		want        []netip.Addr
	}{
		{"udhcpc", "interface=wan\ndns=10.9.0.1 10.9.0.2\n", []netip.Addr{a, b}},
		{"udhcpc quoted", "export dns='10.9.0.1'\n", []netip.Addr{a}},
		{"odhcp6c", "RDNSS=fd00::53\n", []netip.Addr{c}},
		{"json", `{"dns": "10.9.0.2 not-an-address"}`, []netip.Addr{b}},
		{"dhclient", "lease {\n  interface \"eth0\";\n  option domain-name-servers 10.9.0.1,10.9.0.2;\n}\n", []netip.Addr{a, b}},
		{"dhclient6", "lease6 {\n  option dhcp6.name-servers fd00::53;\n}\n", []netip.Addr{c}},
		{"none", "interface=wan\n", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := discovery.ReadLease(strings.NewReader(tc.lease))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(l.DNS, tc.want) {
				t.Errorf("DNS = %v, want %v", l.DNS, tc.want)
			}
		})
	}
}
