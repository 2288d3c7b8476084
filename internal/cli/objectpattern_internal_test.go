package cli

import "testing"

// TestObjectPattern: instance numbers become {i}, everything else stays.
func TestObjectPattern(t *testing.T) {
	for _, tc := range []struct{ path, want string }{
		{"Device.MQTT.Client.1.", "Device.MQTT.Client.{i}."},
		{"Device.LocalAgent.Controller.12.MTP.3.", "Device.LocalAgent.Controller.{i}.MTP.{i}."},
		{"Device.LocalAgent.", "Device.LocalAgent."},
		{"Device.X.1", "Device.X.{i}"},
		{"1.", "{i}."},
		{"", ""},
		{"Device..X.", "Device..X."},
		{"Device.X2.2.", "Device.X2.{i}."},
	} {
		if got := objectPattern(tc.path); got != tc.want {
			t.Errorf("objectPattern(%q) = %q, want %q", tc.path, got, tc.want)
		}
	}
}
