package usperr_test

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"os"
	"regexp"
	"strconv"
	"testing"

	"github.com/uspkit/uspkit/usperr"
	"github.com/uspkit/uspkit/usperr/internal/table"
)

// specCodes is every error code TR-369 1.3 defines, with its name in the
// spec's tables (messages: "Error Codes"; mtp: "USP Record Errors").
var specCodes = map[uint32]string{
	7000: "Message failed", 7001: "Message not supported", 7002: "Request denied (no reason specified)",
	7003: "Internal error", 7004: "Invalid arguments", 7005: "Resources exceeded", 7006: "Permission denied",
	7007: "Invalid configuration", 7008: "Invalid path syntax", 7009: "Parameter action failed",
	7010: "Unsupported parameter", 7011: "Invalid type", 7012: "Invalid value",
	7013: "Attempt to update non-writeable parameter", 7014: "Value conflict", 7015: "Operation error",
	7016: "Object does not exist", 7017: "Object could not be created", 7018: "Object is not a table",
	7019: "Attempt to create non-creatable object", 7020: "Object could not be updated",
	7021: "Required parameter failed", 7022: "Command failure", 7023: "Command canceled", 7024: "Delete failure",
	7025: "Object exists with duplicate key", 7026: "Invalid path", 7027: "Invalid command arguments",
	7028: "Register failure", 7029: "Already in use", 7030: "Deregister failure", 7031: "Path already registered",
	7100: "Record could not be parsed", 7101: "Secure session required", 7102: "Secure session not supported",
	7103: "Segmentation and reassembly not supported", 7104: "Invalid Record value",
	7105: "Session Context terminated", 7106: "Session Context not allowed",
}

// dataModelCodes is every other code with a name in the texts TR-369 1.3
// defers to for 7032-7036 and the 7200-7299 range ("data model defined
// error codes"): TR-181 2.16's SoftwareModules DUStateChange! FaultCode
// list, and 7230 from TR-369 1.3 "Software Module Management".
var dataModelCodes = map[uint32]string{
	7032: "Unavailable Role", 7033: "Server Unreachable", 7034: "Server Insecure", 7035: "Corrupt Data",
	7036: "Bad Signature", 7223: "Unknown Execution Environment",
	7225: "Deployment Unit to Execution Environment Mismatch", 7226: "Duplicate Deployment Unit",
	7227: "System Resources Exceeded", 7229: "Invalid Deployment Unit State",
	7230: "Invalid Execution Environment State",
}

func TestTableCompleteAndUnique(t *testing.T) {
	src, err := os.ReadFile("codes.txt")
	if err != nil {
		t.Fatal(err)
	}
	entries, err := table.Parse(src)
	if err != nil {
		t.Fatal(err)
	}
	got := map[uint32]string{}
	for _, e := range entries {
		got[e.Code] = e.Message
	}
	all := maps.Clone(specCodes)
	maps.Copy(all, dataModelCodes)
	for code, name := range all {
		if got[code] != name {
			t.Errorf("code %d: table says %q, spec says %q", code, got[code], name)
		}
		if usperr.DefaultMessage(code) != name || !usperr.Known(code) {
			t.Errorf("code %d not known to the package", code)
		}
	}
	if len(got) != len(all) {
		t.Errorf("table has %d codes, spec %d", len(got), len(all))
	}
	if _, err := table.Parse([]byte("7000\tA\tx\n7000\tB\ty\n")); err == nil {
		t.Error("duplicate code accepted")
	}
	if _, err := table.Parse([]byte("7000\tA\tx\n7001\tA\ty\n")); err == nil {
		t.Error("duplicate name accepted")
	}
}

// TestSpecTables cross-checks specCodes with the spec's markdown when a copy
// of TR-369 1.3 is at hand.
func TestSpecTables(t *testing.T) {
	dir := "/tmp/spec/v1.3.0/specification"
	var all []byte
	for _, f := range []string{"messages/index.md", "mtp/index.md"} {
		b, err := os.ReadFile(dir + "/" + f)
		if err != nil {
			t.Skipf("TR-369 1.3 text not found at %s", dir)
		}
		all = append(all, b...)
	}
	re := regexp.MustCompile("(?m)^\\| `(7[0-9]{3})` \\| ([^|\\t]+?)\\s*\\|")
	found := 0
	for _, m := range re.FindAllSubmatch(all, -1) {
		code, _ := strconv.Atoi(string(m[1]))
		found++
		if specCodes[uint32(code)] != string(m[2]) {
			t.Errorf("spec lists %s %q, test table has %q", m[1], m[2], specCodes[uint32(code)])
		}
	}
	if found != len(specCodes) {
		t.Errorf("spec tables list %d codes, test table %d", found, len(specCodes))
	}
}

func TestGeneratedUpToDate(t *testing.T) {
	src, _ := os.ReadFile("codes.txt")
	want, err := table.Generate(src)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile("codes_gen.go")
	if !bytes.Equal(got, want) {
		t.Error("codes_gen.go is stale: run go generate ./usperr")
	}
}

type coded struct{}

func (coded) Error() string        { return "syntax error at 3" }
func (coded) USPErrorCode() uint32 { return usperr.CodeInvalidPathSyntax }

func TestCode(t *testing.T) {
	base := usperr.Errorf(usperr.CodeInvalidValue, "Enable: %q is not a boolean", "maybe").WithPath("Device.X.Enable")
	tests := []struct {
		name string
		err  error
		code uint32
		msg  string
	}{
		{"nil", nil, 0, ""},
		{"plain", errors.New("disk on fire"), usperr.CodeInternal, "Internal error"},
		{"direct", base, usperr.CodeInvalidValue, `Enable: "maybe" is not a boolean`},
		{"wrapped", fmt.Errorf("set: %w", base), usperr.CodeInvalidValue, `Enable: "maybe" is not a boolean`},
		{"twice wrapped", fmt.Errorf("a: %w", fmt.Errorf("b: %w", base)), usperr.CodeInvalidValue, `Enable: "maybe" is not a boolean`},
		{"interface", fmt.Errorf("get: %w", coded{}), usperr.CodeInvalidPathSyntax, "get: syntax error at 3"},
		{"empty message", usperr.New(usperr.CodeInvalidPath, ""), usperr.CodeInvalidPath, "Invalid path"},
		{"vendor", usperr.New(7850, "vendor thing"), 7850, "vendor thing"},
		{"joined", errors.Join(errors.New("x"), base), usperr.CodeInvalidValue, `Enable: "maybe" is not a boolean`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := usperr.Code(tt.err); got != tt.code {
				t.Errorf("Code = %d, want %d", got, tt.code)
			}
			if got := usperr.Message(tt.err); got != tt.msg {
				t.Errorf("Message = %q, want %q", got, tt.msg)
			}
		})
	}
}

func TestErrorfWraps(t *testing.T) {
	cause := errors.New("cause")
	err := usperr.Errorf(usperr.CodeCommandFailure, "reboot: %w", cause)
	if !errors.Is(err, cause) {
		t.Error("Errorf with %w does not unwrap to the cause")
	}
	if got := err.WithPath("Device.Reboot()").Error(); got != "7022 Command failure: Device.Reboot(): reboot: cause" {
		t.Errorf("Error() = %q", got)
	}
}

func TestNames(t *testing.T) {
	tests := []struct {
		code       uint32
		name       string
		known, ven bool
	}{
		{7026, "InvalidPath", true, false},
		{7103, "SARNotSupported", true, false},
		{7800, "Vendor", true, true},
		{7999, "Vendor", true, true},
		{7032, "UnavailableRole", true, false},
		{7227, "SystemResourcesExceeded", true, false},
		{7228, "Unknown", false, false},
		{7037, "Unknown", false, false},
		{8000, "Unknown", false, false},
	}
	for _, tt := range tests {
		if usperr.Name(tt.code) != tt.name || usperr.Known(tt.code) != tt.known || usperr.IsVendor(tt.code) != tt.ven {
			t.Errorf("%d: Name %q Known %v IsVendor %v", tt.code, usperr.Name(tt.code), usperr.Known(tt.code), usperr.IsVendor(tt.code))
		}
	}
}
