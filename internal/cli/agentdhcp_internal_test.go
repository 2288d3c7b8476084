package cli

import (
	"encoding/hex"
	"strings"
	"testing"

	"github.com/uspkit/uspkit/discovery"
)

// TestUdhcpcArgs: udhcpc sends option 124 with the BBF enterprise number
// and "usp" [R-DIS.1] and option 125 with the device's codes 1-3
// [R-DIS.2a], and asks for option 125.
func TestUdhcpcArgs(t *testing.T) {
	args := udhcpcArgs(discovery.DeviceInfo{ManufacturerOUI: "00D09E", SerialNumber: "SN7", ProductClass: "Router"})
	want := []string{"-x 0x7c:00000de90403757370", "-x 0x7d:00000de9" + hex.EncodeToString([]byte("\x15\x01\x0600D09E\x02\x03SN7\x03\x06Router")), "-O 125"}
	if strings.Join(args, " ") != strings.Join(want, " ") {
		t.Errorf("udhcpcArgs = %q, want %q", args, want)
	}
}
