package softwaremodules

import "github.com/uspkit/uspkit/schema"

// Object paths of the data model this package serves.
const (
	pathRoot = "Device.SoftwareModules."
	pathEnv  = "Device.SoftwareModules.ExecEnv.{i}."
	pathCls  = "Device.SoftwareModules.ExecEnvClass.{i}."
	pathCap  = "Device.SoftwareModules.ExecEnvClass.{i}.Capability.{i}."
	pathDU   = "Device.SoftwareModules.DeploymentUnit.{i}."
	pathEU   = "Device.SoftwareModules.ExecutionUnit.{i}."

	prefixEnv = "Device.SoftwareModules.ExecEnv."
	prefixCls = "Device.SoftwareModules.ExecEnvClass."
	prefixDU  = "Device.SoftwareModules.DeploymentUnit."
	prefixEU  = "Device.SoftwareModules.ExecutionUnit."

	// EventDUStateChange is the path of the event sent when a Deployment
	// Unit is installed, updated or uninstalled, or fails to be.
	EventDUStateChange = "Device.SoftwareModules.DUStateChange!"
)

func alias() *schema.Type    { return schema.String(schema.Named("Alias"), schema.MaxLen(64)) }
func kib() *schema.Type      { return schema.Int(schema.Bounds("-1", "")) }
func pct() *schema.Type      { return schema.Int(schema.Bounds("-1", "100")) }
func str(n int) *schema.Type { return schema.String(schema.MaxLen(n)) }
func urlType() *schema.Type  { return schema.String(schema.Named("URL"), schema.MaxLen(2048)) }
func uuidType() *schema.Type { return schema.String(schema.Named("UUID"), schema.Len(36, 36)) }
func ref() *schema.Type      { return schema.String(schema.Ref()) }
func refs() *schema.Type     { return schema.String(schema.ListOf(0, 0), schema.Ref()) }

// Define adds Device.SoftwareModules to m: the ExecEnv, DeploymentUnit and
// ExecutionUnit tables, InstallDU(), DeploymentUnit.{i}.Update() and
// Uninstall(), ExecutionUnit.{i}.SetRequestedState() and DUStateChange!.
// Names, types, access and unique keys are those of TR-181 Device:2.16 (a
// test compares them with BBF's document); parameters this package has
// nothing to say about (run levels, roles, application data, host objects)
// are left out.
func Define(m *schema.Model) {
	m.Define(pathRoot).
		Param("ExecEnvClassNumberOfEntries", schema.UnsignedInt()).
		Param("ExecEnvNumberOfEntries", schema.UnsignedInt()).
		Param("DeploymentUnitNumberOfEntries", schema.UnsignedInt()).
		Param("ExecutionUnitNumberOfEntries", schema.UnsignedInt()).
		Command("InstallDU()", true, []*schema.Param{
			schema.Arg("URL", urlType(), schema.Mandatory),
			schema.Arg("UUID", uuidType()),
			schema.Arg("Username", str(256)),
			schema.Arg("Password", str(256)),
			schema.Arg("ExecutionEnvRef", schema.String(schema.MaxLen(256), schema.Ref())),
			schema.Arg("Resources.AllocatedMemory", kib()),
			schema.Arg("Resources.AllocatedCPUPercent", pct()),
		}, nil).
		Event("DUStateChange!",
			schema.Arg("UUID", uuidType()),
			schema.Arg("DeploymentUnitRef", ref()),
			schema.Arg("Version", str(32)),
			schema.Arg("CurrentState", schema.String(schema.Enum(StateInstalled, StateUnInstalled, StateFailed))),
			schema.Arg("Resolved", schema.Boolean()),
			schema.Arg("ExecutionUnitRefList", refs()),
			schema.Arg("StartTime", schema.DateTime()),
			schema.Arg("CompleteTime", schema.DateTime()),
			schema.Arg("OperationPerformed", schema.String(schema.Enum(OpInstall, OpUpdate, OpUninstall))),
			schema.Arg("Fault.FaultCode", schema.UnsignedInt()),
			schema.Arg("Fault.FaultString", str(256)),
		)
	m.Define(pathCls, schema.ObjReadOnly, schema.AliasKey(), schema.Keys("Vendor", "Name", "Version"), schema.NumEntries("ExecEnvClassNumberOfEntries")).
		Param("Alias", alias(), schema.ReadWrite).
		Param("Name", str(256)).
		Param("Vendor", str(128)).
		Param("Version", str(32)).
		Param("DeploymentUnitRef", ref()).
		Param("CapabilityNumberOfEntries", schema.UnsignedInt())
	m.Define(pathCap, schema.ObjReadOnly, schema.Keys("Specification", "SpecificationVersion"), schema.NumEntries("CapabilityNumberOfEntries")).
		Param("Specification", schema.String(schema.Enum("OCIImage", "VMRawImage", "OSGiBundle", "JAR", "WAR"))).
		Param("SpecificationVersion", str(32)).
		Param("SpecificationURI", str(256))
	m.Define(pathEnv, schema.ObjReadOnly, schema.AliasKey(), schema.NonFunctionalKeys("Name"), schema.NumEntries("ExecEnvNumberOfEntries")).
		Param("Enable", schema.Boolean(), schema.ReadWrite).
		Param("Status", schema.String(schema.Enum("Up", "Error", "Disabled", "Restarting"))).
		Param("Alias", alias(), schema.ReadWrite).
		Param("Name", str(256)).
		Param("Type", str(64)).
		Param("Vendor", str(128)).
		Param("Version", str(32)).
		Param("ParentExecEnv", ref()).
		Param("AllocatedDiskSpace", kib()).
		Param("AllocatedMemory", kib()).
		Param("AllocatedCPUPercent", pct()).
		Param("AvailableDiskSpace", kib()).
		Param("AvailableMemory", kib()).
		Param("ActiveExecutionUnits", refs()).
		Param("CreatedAt", schema.DateTime()).
		Param("ExecEnvClassRef", ref()).
		Param("RestartReason", str(256)).
		Param("RestartCount", schema.UnsignedInt()).
		Param("LastRestarted", schema.DateTime())
	m.Define(pathDU, schema.ObjReadOnly, schema.Keys("UUID", "Version", "ExecutionEnvRef"), schema.AliasKey(), schema.NumEntries("DeploymentUnitNumberOfEntries")).
		Param("UUID", uuidType()).
		Param("DUID", str(64)).
		Param("Alias", alias(), schema.ReadWrite).
		Param("Name", str(256)).
		Param("Status", schema.String(schema.Enum(DUInstalling, DUInstalled, DUUpdating, DUUninstalling, DUUninstalled))).
		Param("Resolved", schema.Boolean()).
		Param("URL", urlType()).
		Param("Description", str(256)).
		Param("Vendor", str(128)).
		Param("Version", str(32)).
		Param("VendorLogList", refs()).
		Param("VendorConfigList", refs()).
		Param("ExecutionUnitList", refs()).
		Param("ExecutionEnvRef", ref()).
		Param("Installed", schema.DateTime()).
		Param("LastUpdate", schema.DateTime()).
		Command("Update()", true, []*schema.Param{
			schema.Arg("URL", urlType()),
			schema.Arg("Username", str(256)),
			schema.Arg("Password", str(256)),
			schema.Arg("RetainData", schema.Boolean()),
			schema.Arg("Resources.AllocatedMemory", kib()),
			schema.Arg("Resources.AllocatedCPUPercent", pct()),
		}, nil).
		Command("Uninstall()", true, []*schema.Param{schema.Arg("RetainData", schema.Boolean())}, nil)
	m.Define(pathEU, schema.ObjReadOnly, schema.Keys("EUID"), schema.AliasKey(), schema.NumEntries("ExecutionUnitNumberOfEntries")).
		Param("EUID", str(64)).
		Param("Alias", alias(), schema.ReadWrite).
		Param("Name", str(256)).
		Param("ExecEnvLabel", str(64)).
		Param("Status", schema.String(schema.Enum(EUIdle, EUStarting, EUActive, EUStopping, EURestarting))).
		Param("ExecutionFaultCode", schema.String(schema.Enum(FaultNone, FaultOnStart, FaultOnAutoStart, FaultOnStop, FaultWhileActive, FaultDependency, FaultUnStartable))).
		Param("ExecutionFaultMessage", str(256)).
		Param("AutoStart", schema.Boolean(), schema.ReadWrite).
		Param("Vendor", str(128)).
		Param("Version", str(32)).
		Param("Description", str(256)).
		Param("AllocatedDiskSpace", kib()).
		Param("DiskSpaceInUse", kib()).
		Param("AllocatedMemory", kib()).
		Param("MemoryInUse", kib()).
		Param("AllocatedCPUPercent", pct()).
		Param("CPUPercentInUse", pct()).
		Param("References", refs()).
		Param("AssociatedProcessList", refs()).
		Param("VendorLogList", refs()).
		Param("VendorConfigList", refs()).
		Param("ExecutionEnvRef", ref()).
		Command("SetRequestedState()", false, []*schema.Param{
			schema.Arg("RequestedState", schema.String(schema.Enum(EUIdle, EUActive)), schema.Mandatory),
		}, nil).
		Command("Restart()", false, nil, nil)
}
