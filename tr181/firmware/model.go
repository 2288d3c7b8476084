package firmware

import "github.com/uspkit/uspkit/schema"

// Paths this package serves.
const (
	PathImages    = "Device.DeviceInfo.FirmwareImage.{i}."
	pathImages    = "Device.DeviceInfo.FirmwareImage."
	pathInfo      = "Device.DeviceInfo."
	EventTransfer = "Device.LocalAgent.TransferComplete!"
)

// Image statuses (FirmwareImage.{i}.Status).
const (
	StatusNoImage            = "NoImage"
	StatusActive             = "Active"
	StatusDownloading        = "Downloading"
	StatusValidating         = "Validating"
	StatusAvailable          = "Available"
	StatusDownloadFailed     = "DownloadFailed"
	StatusValidationFailed   = "ValidationFailed"
	StatusInstallationFailed = "InstallationFailed"
	StatusActivationFailed   = "ActivationFailed"
)

// Define adds the firmware objects to m, whose Device.DeviceInfo. and
// Device.LocalAgent. must be defined. Names, types, access and unique keys
// are TR-181 Device:2.16's (TestModelMatchesTR181).
func Define(m *schema.Model) {
	m.Extend(pathInfo).
		Param("ActiveFirmwareImage", schema.String(schema.Ref())).
		Param("BootFirmwareImage", schema.String(schema.Ref()), schema.ReadWrite).
		Param("FirmwareImageNumberOfEntries", schema.UnsignedInt())
	url := schema.String(schema.Named("URL"), schema.MaxLen(2048))
	m.Define(PathImages, schema.ObjReadOnly, schema.AliasKey(), schema.NumEntries("FirmwareImageNumberOfEntries")).
		Param("Alias", schema.String(schema.Named("Alias"), schema.MaxLen(64)), schema.ReadWrite).
		Param("Name", schema.String(schema.MaxLen(64))).
		Param("Version", schema.String(schema.MaxLen(64))).
		Param("Available", schema.Boolean(), schema.ReadWrite).
		Param("Status", schema.String(schema.Enum(StatusNoImage, StatusActive, StatusDownloading, StatusValidating, StatusAvailable,
			StatusDownloadFailed, StatusValidationFailed, StatusInstallationFailed, StatusActivationFailed))).
		Param("BootFailureLog", schema.String()).
		Command("Download()", true, []*schema.Param{
			schema.Arg("URL", url, schema.Mandatory),
			schema.Arg("AutoActivate", schema.Boolean(), schema.Mandatory),
			schema.Arg("Username", schema.String(schema.MaxLen(256))),
			schema.Arg("Password", schema.String(schema.MaxLen(256))),
			schema.Arg("FileSize", schema.UnsignedInt()),
			schema.Arg("CheckSumAlgorithm", schema.String(schema.Enum("SHA-1", "SHA-224", "SHA-256", "SHA-384", "SHA-512"))),
			schema.Arg("CheckSum", schema.HexBinary()),
		}, nil).
		Command("Activate()", true, []*schema.Param{
			schema.Arg("TimeWindow.{i}.Start", schema.UnsignedInt(), schema.Mandatory),
			schema.Arg("TimeWindow.{i}.End", schema.UnsignedInt(), schema.Mandatory),
			schema.Arg("TimeWindow.{i}.Mode", schema.String(schema.Enum(ModeAnyTime, ModeImmediately, ModeWhenIdle, ModeConfirmationNeeded)), schema.Mandatory),
			schema.Arg("TimeWindow.{i}.UserMessage", schema.String()),
			schema.Arg("TimeWindow.{i}.MaxRetries", schema.Int(schema.Bounds("-1", "10"))),
		}, nil)
	m.Extend("Device.LocalAgent.").Event("TransferComplete!",
		schema.Arg("Command", schema.String()),
		schema.Arg("CommandKey", schema.String()),
		schema.Arg("Requestor", schema.String()),
		schema.Arg("TransferType", schema.String(schema.Enum("Download", "Upload"))),
		schema.Arg("Affected", schema.String()),
		schema.Arg("TransferURL", url),
		schema.Arg("StartTime", schema.DateTime()),
		schema.Arg("CompleteTime", schema.DateTime()),
		schema.Arg("FaultCode", schema.UnsignedInt()),
		schema.Arg("FaultString", schema.String(schema.MaxLen(256))))
}
