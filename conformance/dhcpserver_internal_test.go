package conformance

import (
	"encoding/hex"
	"testing"
)

// TestParseDHCP: a BOOTREQUEST's options are read, a repeated option's
// parts joined (RFC 3396); what is not a DHCP request, or is cut short, is
// an error and never a crash.
func TestParseDHCP(t *testing.T) {
	msg := func(opts string) []byte {
		b := make([]byte, dhcpHeader)
		b[0], b[1], b[2] = 1, 1, 6
		copy(b[28:], []byte{2, 0, 0, 0, 0, 1})
		o, err := hex.DecodeString(opts)
		if err != nil {
			t.Fatal(err)
		}
		return append(append(b, dhcpCookie...), o...)
	}
	m, _, err := parseDHCP(msg("350101" + "7c0500000de904" + "7c0403757370" + "370211" + "7d" + "00" + "ff"))
	if err != nil || m.Type != DHCPDiscover || hex.EncodeToString(m.Options[124]) != "00000de90403757370" || !m.Requested(17) || m.HW.String() != "02:00:00:00:00:01" {
		t.Fatalf("parseDHCP: %+v %v", m, err)
	}
	if !m.wantsUSP() {
		t.Error("option 124 with BBF usp not seen")
	}
	for name, b := range map[string][]byte{
		"empty":          nil,
		"short":          msg("")[:100],
		"a reply":        append([]byte{2}, msg("350102ff")[1:]...),
		"no cookie":      append(msg("")[:dhcpHeader], 1, 2, 3, 4),
		"no type":        msg("0c0161ff"),
		"truncated":      msg("3501"),
		"length too big": msg("350101" + "7c09000000"),
	} {
		if _, _, err := parseDHCP(b); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
