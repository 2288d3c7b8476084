// Package ipdiag serves the IP-layer diagnostics of TR-181 2.16 as
// asynchronous USP commands: Device.IP.Diagnostics.IPPing(), TraceRoute(),
// DownloadDiagnostics(), UploadDiagnostics() (HTTP and FTP), UDPEchoDiagnostics(),
// ServerSelectionDiagnostics() and Device.DNS.Diagnostics.
// NSLookupDiagnostics(), with the capabilities Device.IP.Diagnostics.
// announces, and Device.IP.Diagnostics.UDPEchoConfig, the UDP echo server
// (TR-143) the Agent runs while it is enabled.
//
// Every command does real network work on the host, is bounded in time
// (its Timeout input and a hard cap) and stops when its context ends (the
// Controller cancelled the Request). ICMP goes through unprivileged ping
// sockets when net.ipv4.ping_group_range allows them and raw sockets
// otherwise (root or CAP_NET_RAW); TraceRoute sends UDP probes with
// increasing TTL and reads the ICMP answers from the socket's error queue,
// which needs no privilege (or ICMP echo probes, with Options.TraceICMP).
//
//	m := schema.New()
//	m.Define("Device.")
//	ipdiag.Define(m)
//	mux := datamodel.NewMux(m)
//	d := ipdiag.New(nil)
//	d.Register(mux)
//	defer d.Close()
package ipdiag
