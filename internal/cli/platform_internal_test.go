package cli

import (
	"reflect"
	"strings"
	"testing"
)

func TestPlatformCommand(t *testing.T) {
	reboot, reset := []string{"reboot"}, []string{"firstboot", "-y"}
	tests := []struct {
		name  string
		p     *platformConfig
		cause string
		want  []string
	}{
		{"NoSection", nil, "RemoteReboot", nil},
		{"Reboot", &platformConfig{RebootCommand: reboot, FactoryResetCommand: reset}, "RemoteReboot", reboot},
		{"FactoryReset", &platformConfig{RebootCommand: reboot, FactoryResetCommand: reset}, "RemoteFactoryReset", reset},
		{"FactoryResetFallsBackToReboot", &platformConfig{RebootCommand: reboot}, "RemoteFactoryReset", reboot},
		{"FirmwareRestartsItself", &platformConfig{RebootCommand: reboot}, "firmware", nil},
		{"NoCommands", &platformConfig{}, "RemoteReboot", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.p.command(tc.cause); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("command(%q) = %v, want %v", tc.cause, got, tc.want)
			}
		})
	}
}

func TestPlatformConfigLoads(t *testing.T) {
	tests := []struct {
		name, yaml, err string
	}{
		{"Good", "platform:\n  reboot_command: [reboot]\n  identity:\n    SerialNumber: {uci: 'system.@system[0].serial'}\n", ""},
		{"UnknownParameter", "platform:\n  identity:\n    UpTime: {value: '1'}\n", "platform.identity"},
		{"TwoPlaces", "platform:\n  identity:\n    SerialNumber: {value: a, file: /b}\n", "platform.identity"},
		{"EmptyCommand", "platform:\n  reboot_command: []\n", "platform.reboot_command"},
		{"UnknownKey", "platform:\n  identity:\n    SerialNumber: {env: X}\n", "env"},
		{"BadFacility", "log:\n  syslog: true\n  facility: mail\n", "log.facility"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := loadAgentConfig(strings.NewReader("endpoint_id: os::012345-P\n" + tc.yaml))
			if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
				t.Errorf("loadAgentConfig: %v, want error containing %q", err, tc.err)
			}
		})
	}
}
