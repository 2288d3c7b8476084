// Package softwaremodules serves TR-181 Device.SoftwareModules: Software
// Module Management as TR-369 Appendix I describes it. Deployment Units
// (DUs) are installed from a URL with InstallDU(), replaced with
// DeploymentUnit.{i}.Update() and removed with Uninstall(); each brings
// one Execution Unit (EU), started and stopped with
// ExecutionUnit.{i}.SetRequestedState(). Every DU operation ends with a
// DUStateChange! event carrying its fault, if any.
//
// A Manager keeps the units in a data directory across restarts
// [R-SMM.0] and runs them in Execution Environments, implementations of
// ExecEnv: ProcessEnv runs a unit as a supervised child process (the DU is
// a tar.gz with a manifest.json), OCIEnv as an OCI container with runc or
// crun (the DU is an OCI runtime bundle in a tar file). An EU whose
// AutoStart is true starts again when the Manager starts; an EU that fails
// while Active shows FailureWhileActive in ExecutionFaultCode.
//
// Each unit's output goes to a log in the data directory, bounded by
// Options.MaxLog. With PublishLogs, each log is also a row of
// Device.DeviceInfo.VendorLogFile (package vendorfiles), named in the
// unit's VendorLogList, whose Upload() sends the newest MaxLog bytes; the
// row goes when the unit's DU is uninstalled.
//
//	m := schema.New()
//	agent.Define(m)
//	softwaremodules.Define(m)
//	mux := datamodel.NewMux(m)
//	sm, err := softwaremodules.New(ctx, &softwaremodules.Options{Dir: dir,
//		Envs: []softwaremodules.ExecEnv{softwaremodules.NewOCI(&softwaremodules.OCIOptions{StateDir: dir + "/oci"}), softwaremodules.ProcessEnv{}}})
//	softwaremodules.Register(mux, sm)
//	sm.PublishLogs(vendorfiles.Register(mux, vendorfiles.Options{})) // with vendorfiles.Define(m)
//	a, err := agent.New(ctx, agent.Options{Mux: mux, ...})
//	sm.Start(ctx, a) // DUStateChange! goes out through the Agent; AutoStart units start
//	defer sm.Close()
package softwaremodules
