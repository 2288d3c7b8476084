package softwaremodules

// Deployment Unit states (DeploymentUnit.{i}.Status), TR-369 Appendix I
// "Software Module Management", Figure SMM.1.
const (
	DUInstalling   = "Installing"
	DUInstalled    = "Installed"
	DUUpdating     = "Updating"
	DUUninstalling = "Uninstalling"
	DUUninstalled  = "Uninstalled"
)

// DUStateChange! CurrentState values.
const (
	StateInstalled   = "Installed"
	StateUnInstalled = "UnInstalled"
	StateFailed      = "Failed"
)

// DUStateChange! OperationPerformed values.
const (
	OpInstall   = "Install"
	OpUpdate    = "Update"
	OpUninstall = "Uninstall"
)

// Execution Unit states (ExecutionUnit.{i}.Status), TR-369 Appendix I,
// Figure SMM.2.
const (
	EUIdle       = "Idle"
	EUStarting   = "Starting"
	EUActive     = "Active"
	EUStopping   = "Stopping"
	EURestarting = "Restarting"
)

// ExecutionUnit.{i}.ExecutionFaultCode values (TR-369 Appendix I, "EU
// Faults").
const (
	FaultNone        = "NoFault"
	FaultOnStart     = "FailureOnStart"
	FaultOnAutoStart = "FailureOnAutoStart"
	FaultOnStop      = "FailureOnStop"
	FaultWhileActive = "FailureWhileActive"
	FaultDependency  = "DependencyFailure"
	FaultUnStartable = "UnStartable"
)

// Fault codes of DUStateChange! (TR-181 Device.SoftwareModules.DUStateChange!
// Fault.FaultCode; TR-369 reserves 7200-7299 for codes the data model
// defines).
const (
	CodeRequestDenied     uint32 = 7002
	CodeInvalidArguments  uint32 = 7004
	CodeInvalidValue      uint32 = 7012
	CodeServerUnreachable uint32 = 7033
	CodeServerInsecure    uint32 = 7034
	CodeCorruptData       uint32 = 7035
	CodeUnknownEnv        uint32 = 7223
	CodeEnvMismatch       uint32 = 7225
	CodeDuplicateDU       uint32 = 7226
	CodeResourcesExceeded uint32 = 7227
	CodeUnknownDU         uint32 = 7228
	CodeInvalidDUState    uint32 = 7229
)
