//go:build usp_nosmm

package cli

// publishLogs has no Execution Units to publish in a build without
// Device.SoftwareModules.
func (*software) publishLogs(*vendorFiles) {}
