//go:build !usp_nosmm

package cli

// publishLogs makes each Execution Unit's log a row of
// Device.DeviceInfo.VendorLogFile, after the Agent's own (row 1), named in
// ExecutionUnit.{i}.VendorLogList and uploaded with Upload(); vf must be
// registered. It does nothing without software_modules.
func (s *software) publishLogs(vf *vendorFiles) {
	if s != nil && vf != nil && vf.files != nil {
		s.m.PublishLogs(vf.files)
	}
}
