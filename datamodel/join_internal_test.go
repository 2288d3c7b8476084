package datamodel

import "testing"

// TestJoin: join and joinInstance build the same path as concatenation,
// whether or not the path being resolved starts with it, and allocate
// nothing when it does.
func TestJoin(t *testing.T) {
	for _, tc := range []struct {
		path, base, name, want string
	}{
		{"Device.DeviceInfo.SerialNumber", "Device.", "DeviceInfo", "Device.DeviceInfo."},
		{"Device.DeviceInfo.", "Device.", "DeviceInfo", "Device.DeviceInfo."},
		{"Device.DeviceInfo", "Device.", "DeviceInfo", "Device.DeviceInfo."}, // no '.' after the name
		{"Device.DeviceInfoX.", "Device.", "DeviceInfo", "Device.DeviceInfo."},
		{"Device.*.DeviceInfo.", "Device.1.", "DeviceInfo", "Device.1.DeviceInfo."},
		{"Other.DeviceInfo.", "Device.", "DeviceInfo", "Device.DeviceInfo."},
		{"", "Device.", "X", "Device.X."},
	} {
		if got := join(tc.path, tc.base, tc.name); got != tc.want {
			t.Errorf("join(%q, %q, %q) = %q, want %q", tc.path, tc.base, tc.name, got, tc.want)
		}
	}
	for _, tc := range []struct {
		path, base string
		n          uint32
		want       string
	}{
		{"Device.X.12.Name", "Device.X.", 12, "Device.X.12."},
		{"Device.X.12.", "Device.X.", 12, "Device.X.12."},
		{"Device.X.012.", "Device.X.", 12, "Device.X.12."}, // written with a leading zero
		{"Device.X.1.", "Device.X.", 12, "Device.X.12."},
		{"Device.X.*.", "Device.X.", 4294967295, "Device.X.4294967295."},
		{"Device.Y.12.", "Device.X.", 12, "Device.X.12."},
	} {
		if got := joinInstance(tc.path, tc.base, tc.n); got != tc.want {
			t.Errorf("joinInstance(%q, %q, %d) = %q, want %q", tc.path, tc.base, tc.n, got, tc.want)
		}
	}
	path := "Device.LocalAgent.Controller.1.EndpointID"
	if a := testing.AllocsPerRun(100, func() {
		_ = joinInstance(path, join(path, "Device.", "LocalAgent")+"Controller.", 1)
	}); a > 1 {
		t.Errorf("%.0f allocations, want the one of the test's own concatenation", a)
	}
}
