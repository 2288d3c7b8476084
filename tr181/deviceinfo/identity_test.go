package deviceinfo_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/uspkit/uspkit/tr181/deviceinfo"
)

func TestSourceResolve(t *testing.T) {
	dir := t.TempDir()
	serial := filepath.Join(dir, "serial")
	os.WriteFile(serial, []byte("  SN-0042 \nsecond line\n"), 0o600)
	uci := filepath.Join(dir, "config")
	os.Mkdir(uci, 0o700)
	os.WriteFile(filepath.Join(uci, "system"), []byte("config system\n\toption model 'Archer C7'\nconfig board 'main'\n\toption oui '00D0F1'\n"), 0o600)
	tests := []struct {
		name string
		src  deviceinfo.Source
		want string
		err  bool
	}{
		{"Value", deviceinfo.Source{Value: "ACME"}, "ACME", false},
		{"File", deviceinfo.Source{File: serial}, "SN-0042", false},
		{"FileMissing", deviceinfo.Source{File: filepath.Join(dir, "nope")}, "", true},
		{"UCIAnonymous", deviceinfo.Source{UCI: "system.@system[0].model"}, "Archer C7", false},
		{"UCINamed", deviceinfo.Source{UCI: "system.main.oui"}, "00D0F1", false},
		{"UCIMissingOption", deviceinfo.Source{UCI: "system.main.serial"}, "", true},
		{"UCIMissingPackage", deviceinfo.Source{UCI: "network.lan.ipaddr"}, "", true},
		{"Command", deviceinfo.Source{Command: []string{"sh", "-c", "echo HW-2; echo ignored"}}, "HW-2", false},
		{"CommandFails", deviceinfo.Source{Command: []string{"sh", "-c", "exit 3"}}, "", true},
		{"CommandLeavesChild", deviceinfo.Source{Command: []string{"sh", "-c", "echo SN-9; sleep 30 &"}}, "SN-9", false},
		{"CommandMissing", deviceinfo.Source{Command: []string{filepath.Join(dir, "no-such-tool")}}, "", true},
		{"None", deviceinfo.Source{}, "", true},
		{"Two", deviceinfo.Source{Value: "a", File: serial}, "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.src.Resolve(context.Background(), uci)
			if (err != nil) != tc.err || got != tc.want {
				t.Errorf("Resolve = %q, %v; want %q, error %v", got, err, tc.want, tc.err)
			}
		})
	}
}

func TestApplyIdentity(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "sn"), []byte("SN-1\n"), 0o600)
	info := deviceinfo.Info{Manufacturer: "unknown", ModelName: "uspkit", SerialNumber: "machine-id", ManufacturerOUI: "000000"}
	err := info.Apply(context.Background(), map[string]deviceinfo.Source{
		"Manufacturer":    {Value: "ACME"},
		"SerialNumber":    {File: filepath.Join(dir, "sn")},
		"ModelName":       {Command: []string{"echo", "Router-9"}},
		"ManufacturerOUI": {Value: "00d0f1"},                // lower case: refused, kept
		"HardwareVersion": {Value: strings.Repeat("x", 65)}, // too long: refused, kept
	}, dir)
	if err == nil || !strings.Contains(err.Error(), "ManufacturerOUI") || !strings.Contains(err.Error(), "HardwareVersion") {
		t.Errorf("Apply error %v, want ManufacturerOUI and HardwareVersion refused", err)
	}
	if info.Manufacturer != "ACME" || info.SerialNumber != "SN-1" || info.ModelName != "Router-9" || info.ManufacturerOUI != "000000" || info.HardwareVersion != "" {
		t.Errorf("after Apply: %+v", info)
	}
}

func TestCheckIdentity(t *testing.T) {
	tests := []struct {
		name    string
		sources map[string]deviceinfo.Source
		ok      bool
	}{
		{"Good", map[string]deviceinfo.Source{"SerialNumber": {Value: "x"}, "ModelName": {UCI: "system.@system[0].model"}}, true},
		{"UnknownParam", map[string]deviceinfo.Source{"UpTime": {Value: "1"}}, false},
		{"EmptySource", map[string]deviceinfo.Source{"SerialNumber": {}}, false},
		{"BadUCIPath", map[string]deviceinfo.Source{"SerialNumber": {UCI: "system"}}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := deviceinfo.CheckIdentity(tc.sources)
			if (err == nil) != tc.ok {
				t.Errorf("CheckIdentity = %v, want ok %v", err, tc.ok)
			}
			if !tc.ok && tc.name == "EmptySource" && !errors.Is(err, deviceinfo.ErrSource) {
				t.Errorf("error %v is not ErrSource", err)
			}
		})
	}
}

func ExampleInfo_Apply() {
	info := deviceinfo.Host("uspkit", "1.0.0")
	err := info.Apply(context.Background(), map[string]deviceinfo.Source{
		"Manufacturer": {Value: "ACME"},
		"SerialNumber": {UCI: "system.@system[0].serial"},
		"ModelName":    {Command: []string{"cat", "/tmp/sysinfo/model"}},
	}, "/etc/config")
	_ = err // the parameters that could not be read keep the host's values
}

func ExampleReadUCI() {
	dir, _ := os.MkdirTemp("", "uci")
	defer os.RemoveAll(dir)
	os.WriteFile(filepath.Join(dir, "system"), []byte("config system\n\toption hostname 'gw-1'\n\toption serial 'SN 42'\n"), 0o600)
	serial, err := deviceinfo.ReadUCI(dir, "system.@system[0].serial")
	fmt.Println(serial, err)
	// Output: SN 42 <nil>
}
