// Package deviceinfo provides TR-181 Device.DeviceInfo from the host the
// Agent runs on: identity (manufacturer, model, serial number, versions),
// UpTime, memory and CPU usage, the running processes
// (ProcessStatus.Process.{i}, from /proc) and the temperature sensors
// (TemperatureStatus.TemperatureSensor.{i}, from the kernel's hwmon and
// thermal zones in /sys). Live figures are read at most once per
// Info.MaxAge (DefaultMaxAge, one second) however many Gets ask, and
// UpTime is counted on with the clock between readings (UptimeMaxAge).
//
// A vendor's platform sets the identity from where it keeps it: a Source
// per parameter, a literal, a file, an OpenWrt UCI option (read from
// /etc/config without the uci tool) or a command's output (Info.Apply).
//
//	m := schema.New()
//	agent.Define(m)
//	deviceinfo.Define(m)
//	mux := datamodel.NewMux(m)
//	deviceinfo.Register(mux, deviceinfo.Host("uspkit", "1.0.0"))
package deviceinfo
