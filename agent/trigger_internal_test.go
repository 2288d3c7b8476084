package agent

import (
	"slices"
	"testing"
)

// TestParseTriggerSettings reads TriggerConfigSettings entries,
// "<Parameter Name>=<Parameter Value>" (TR-181 2.16), and refuses what is
// not a parameter path.
func TestParseTriggerSettings(t *testing.T) {
	tests := []struct {
		in   string
		want []triggerSetting
		ok   bool
	}{
		{"", nil, true},
		{"Device.LocalAgent.Subscription.1.Enable=false", []triggerSetting{{"Device.LocalAgent.Subscription.1.", "Enable", "false"}}, true},
		{`Device.X.1.Name="a,b", Device.X.1.Count=3`, []triggerSetting{{"Device.X.1.", "Name", "a,b"}, {"Device.X.1.", "Count", "3"}}, true},
		{`Device.X.1.Name=""`, []triggerSetting{{"Device.X.1.", "Name", ""}}, true},
		{"Device.X.*.Enable=true", []triggerSetting{{"Device.X.*.", "Enable", "true"}}, true},
		{"Device.X.1.Enable", nil, false},           // no '='
		{"Device.X.1.=true", nil, false},            // an object, not a parameter
		{"Device.X.{i}.Enable=true", nil, false},    // a supported-model path
		{"Device.X.1.Reset()=true", nil, false},     // a command
		{"Device..X.Enable=true", nil, false},       // not a path
		{"Device.X.1.A=1,Device.X.1.B", nil, false}, // one bad entry spoils the list
	}
	for _, tt := range tests {
		got, err := parseTriggerSettings(tt.in)
		if (err == nil) != tt.ok {
			t.Errorf("parseTriggerSettings(%q): err %v, want ok %v", tt.in, err, tt.ok)
			continue
		}
		if tt.ok && !slices.Equal(got, tt.want) {
			t.Errorf("parseTriggerSettings(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}
