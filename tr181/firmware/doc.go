// Package firmware serves Device.DeviceInfo.FirmwareImage.{i} with its
// Download() and Activate() commands, Device.DeviceInfo's
// ActiveFirmwareImage, BootFirmwareImage and FirmwareImageNumberOfEntries,
// and Device.LocalAgent.TransferComplete!, as TR-181 Device:2.16 defines
// them and TR-369's firmware management appendix uses them.
//
// A device's flash layout plugs in through the Flash interface (write a
// bank from a stream, validate it, mark it to boot, activate it). Dir is
// the implementation for any Linux host: an image is a `usp` binary
// (optionally gzip-compressed) kept in bank directories under the Agent's
// data directory; activating a bank restarts the Agent from that bank's
// binary, and Dir.Boot, run at every start, rolls back to the previous
// bank when a new image did not come up.
//
//	fl, _ := firmware.OpenDir(dataDir+"/firmware", exe, nil)
//	svc, _ := firmware.New(&firmware.Options{Flash: fl, StateDir: dataDir + "/firmware"})
//	firmware.Define(model)
//	svc.Register(mux)
//	svc.SetEmitter(agent) // TransferComplete! goes out through the Agent
//
// Downloads stream to disk through internal/download: size and checksum
// checked, retried with back-off, resumed with a Range request after a
// restart. Every failure ends in TransferComplete! with a non-zero
// FaultCode and the command's failure, and never activates anything.
package firmware
