package ipdiag

import "github.com/uspkit/uspkit/schema"

// Defaults of the commands' optional input arguments: TR-181 2.16 gives
// them in the arguments' descriptions ("By default the CPE SHOULD set this
// value to …"), not as XML defaults, so the handlers apply them.
const (
	defTraceTries     = 3
	defTraceTimeout   = 5000
	defTraceBlockSize = 38
	defTraceMaxHops   = 30
	defConnections    = 1
	defEchoReps       = 1
	defEchoBlockSize  = 24
	defEchoInterval   = 1000
	defProtocol       = "Any"
)

func u(f ...schema.Facet) *schema.Type { return schema.UnsignedInt(f...) }

func str(n int) *schema.Type { return schema.String(schema.MaxLen(n)) }

func ipAddr() *schema.Type { return schema.String(schema.Named("IPAddress"), schema.MaxLen(45)) }

func counter64() *schema.Type { return schema.UnsignedLong(schema.Named("StatsCounter64")) }

func ifRef() *schema.Param {
	return schema.Arg("Interface", schema.String(schema.MaxLen(256), schema.Ref()))
}

func protoArg(opts ...schema.ParamOption) *schema.Param {
	return schema.Arg("ProtocolVersion", schema.String(schema.Enum("Any", "IPv4", "IPv6")), opts...)
}

func dscpArg() *schema.Param { return schema.Arg("DSCP", u(schema.Between(0, 63))) }

// Define adds Device.IP.Diagnostics (its capabilities, the IPPing(),
// TraceRoute(), DownloadDiagnostics(), UploadDiagnostics(),
// UDPEchoDiagnostics() and ServerSelectionDiagnostics() commands and the
// UDPEchoConfig server) and Device.DNS.Diagnostics.NSLookupDiagnostics() to
// m, as TR-181 2.16 defines them. Device.IP. and Device.DNS. are defined
// (without parameters) only when m does not have them yet.
func Define(m *schema.Model) {
	for _, p := range []string{"Device.IP.", "Device.DNS."} {
		if m.Object(p) == nil {
			m.Define(p)
		}
	}
	b := m.Define("Device.IP.Diagnostics.")
	for _, n := range []string{"IPv4PingSupported", "IPv6PingSupported", "IPv4TraceRouteSupported", "IPv6TraceRouteSupported",
		"IPv4DownloadDiagnosticsSupported", "IPv6DownloadDiagnosticsSupported", "IPv4UploadDiagnosticsSupported",
		"IPv6UploadDiagnosticsSupported", "IPv4UDPEchoDiagnosticsSupported", "IPv6UDPEchoDiagnosticsSupported",
		"IPLayerCapacitySupported", "IPv4ServerSelectionDiagnosticsSupported", "IPv6ServerSelectionDiagnosticsSupported"} {
		b.Param(n, schema.Boolean())
	}
	b.Param("DownloadTransports", schema.String(schema.ListOf(0, 0), schema.Enum("HTTP", "FTP"))).
		Param("DownloadDiagnosticMaxConnections", u(schema.Min(1))).
		Param("DownloadDiagnosticsMaxIncrementalResult", u(schema.Min(1))).
		Param("UploadTransports", schema.String(schema.ListOf(0, 0), schema.Enum("HTTP", "FTP"))).
		Param("UploadDiagnosticsMaxConnections", u(schema.Min(1))).
		Param("UploadDiagnosticsMaxIncrementalResult", u(schema.Min(1))).
		Param("UDPEchoDiagnosticsMaxResults", u(schema.Min(1)))
	definePing(b)
	defineTrace(b)
	defineTransfer(b, true)
	defineTransfer(b, false)
	defineUDPEcho(b)
	defineServerSelection(b)
	m.Define("Device.IP.Diagnostics.UDPEchoConfig.").
		Param("Enable", schema.Boolean(), schema.ReadWrite).
		Param("Interface", schema.String(schema.MaxLen(256), schema.Ref()), schema.ReadWrite).
		Param("SourceIPAddress", ipAddr(), schema.ReadWrite).
		Param("UDPPort", u(), schema.ReadWrite).
		Param("EchoPlusEnabled", schema.Boolean(), schema.ReadWrite).
		Param("EchoPlusSupported", schema.Boolean()).
		Param("PacketsReceived", u()).
		Param("PacketsResponded", u()).
		Param("BytesReceived", u()).
		Param("BytesResponded", u()).
		Param("TimeFirstPacketReceived", schema.DateTime()).
		Param("TimeLastPacketReceived", schema.DateTime())
	defineNSLookup(m.Define("Device.DNS.Diagnostics."))
}

func definePing(b *schema.Builder) {
	b.Command("IPPing()", true, []*schema.Param{
		ifRef(),
		protoArg(schema.Mandatory),
		schema.Arg("Host", str(256), schema.Mandatory),
		schema.Arg("NumberOfRepetitions", u(schema.Min(1)), schema.Mandatory),
		schema.Arg("Timeout", u(schema.Min(1)), schema.Mandatory),
		schema.Arg("DataBlockSize", u(schema.Between(1, 65535)), schema.Mandatory),
		dscpArg(),
	}, []*schema.Param{
		schema.Arg("Status", schema.String(schema.Enum("Canceled", "Complete", "Error", "Error_CannotResolveHostName",
			"Error_NoRouteToHost", "Error_Internal", "Error_Other"))),
		schema.Arg("IPAddressUsed", ipAddr()),
		schema.Arg("SuccessCount", u()),
		schema.Arg("FailureCount", u()),
		schema.Arg("AverageResponseTime", u()),
		schema.Arg("MinimumResponseTime", u()),
		schema.Arg("MaximumResponseTime", u()),
		schema.Arg("AverageResponseTimeDetailed", u()),
		schema.Arg("MinimumResponseTimeDetailed", u()),
		schema.Arg("MaximumResponseTimeDetailed", u()),
	})
}

func defineTrace(b *schema.Builder) {
	b.Command("TraceRoute()", true, []*schema.Param{
		ifRef(),
		protoArg(schema.Mandatory),
		schema.Arg("Host", str(256), schema.Mandatory),
		schema.Arg("NumberOfTries", u(schema.Between(1, 3))),
		schema.Arg("Timeout", u(schema.Min(1))),
		schema.Arg("DataBlockSize", u(schema.Between(1, 65535))),
		dscpArg(),
		schema.Arg("MaxHopCount", u(schema.Between(1, 64))),
	}, []*schema.Param{
		schema.Arg("Status", schema.String(schema.Enum("Canceled", "Complete", "Error", "Error_CannotResolveHostName",
			"Error_NoRouteToHost", "Error_MaxHopCountExceeded", "Error_Internal", "Error_Other"))),
		schema.Arg("IPAddressUsed", ipAddr()),
		schema.Arg("ResponseTime", u()),
		schema.Arg("RouteHops.{i}.Host", str(256)),
		schema.Arg("RouteHops.{i}.HostAddress", schema.String()),
		schema.Arg("RouteHops.{i}.ErrorCode", u()),
		schema.Arg("RouteHops.{i}.RTTimes", u(schema.ListOf(0, 0))),
	})
}

func defineTransfer(b *schema.Builder, down bool) {
	name, urlArg, bytesOut := "UploadDiagnostics()", "UploadURL", "TestBytesSent"
	status := []string{"Complete", "Error_CannotResolveHostName", "Error_NoRouteToHost", "Error_InitConnectionFailed",
		"Error_NoResponse", "Error_PasswordRequestFailed", "Error_LoginFailed", "Error_NoTransferMode", "Error_NoPASV",
		"Error_NoCWD", "Error_NoSTOR", "Error_NoTransferComplete", "Error_Timeout", "Error_Internal", "Error_Other"}
	if down {
		name, urlArg, bytesOut = "DownloadDiagnostics()", "DownloadURL", "TestBytesReceived"
		status = []string{"Complete", "Error_CannotResolveHostName", "Error_NoRouteToHost", "Error_InitConnectionFailed",
			"Error_NoResponse", "Error_TransferFailed", "Error_PasswordRequestFailed", "Error_LoginFailed",
			"Error_NoTransferMode", "Error_NoPASV", "Error_IncorrectSize", "Error_Timeout", "Error_Internal", "Error_Other"}
	}
	in := []*schema.Param{
		ifRef(),
		schema.Arg(urlArg, schema.String(schema.Named("URL"), schema.MaxLen(2048)), schema.Mandatory),
		dscpArg(),
		schema.Arg("EthernetPriority", u(schema.Between(0, 7))),
	}
	if !down {
		in = append(in, schema.Arg("TestFileLength", schema.UnsignedLong()))
	}
	in = append(in,
		schema.Arg("TimeBasedTestDuration", u(schema.Between(0, 999))),
		schema.Arg("TimeBasedTestMeasurementInterval", u(schema.Between(0, 999))),
		schema.Arg("TimeBasedTestMeasurementOffset", u(schema.Between(0, 255))),
		protoArg(),
		schema.Arg("NumberOfConnections", u(schema.Min(1))),
		schema.Arg("EnablePerConnectionResults", schema.Boolean()))
	out := []*schema.Param{
		schema.Arg("Status", schema.String(schema.Enum(status...))),
		schema.Arg("IPAddressUsed", ipAddr()),
		schema.Arg("ROMTime", schema.DateTime()),
		schema.Arg("BOMTime", schema.DateTime()),
		schema.Arg("EOMTime", schema.DateTime()),
		schema.Arg(bytesOut, counter64()),
		schema.Arg("TotalBytesReceived", counter64()),
		schema.Arg("TotalBytesSent", counter64()),
		schema.Arg(bytesOut+"UnderFullLoading", counter64()),
		schema.Arg("TotalBytesReceivedUnderFullLoading", counter64()),
		schema.Arg("TotalBytesSentUnderFullLoading", counter64()),
		schema.Arg("PeriodOfFullLoading", u()),
		schema.Arg("TCPOpenRequestTime", schema.DateTime()),
		schema.Arg("TCPOpenResponseTime", schema.DateTime()),
	}
	for _, n := range []string{"ROMTime", "BOMTime", "EOMTime"} {
		out = append(out, schema.Arg("PerConnectionResult.{i}."+n, schema.DateTime()))
	}
	for _, n := range []string{bytesOut, "TotalBytesReceived", "TotalBytesSent"} {
		out = append(out, schema.Arg("PerConnectionResult.{i}."+n, counter64()))
	}
	for _, n := range []string{"TCPOpenRequestTime", "TCPOpenResponseTime"} {
		out = append(out, schema.Arg("PerConnectionResult.{i}."+n, schema.DateTime()))
	}
	for _, n := range []string{bytesOut, "TotalBytesReceived", "TotalBytesSent"} {
		out = append(out, schema.Arg("IncrementalResult.{i}."+n, counter64()))
	}
	for _, n := range []string{"StartTime", "EndTime"} {
		out = append(out, schema.Arg("IncrementalResult.{i}."+n, schema.DateTime()))
	}
	b.Command(name, true, in, out)
}

func defineUDPEcho(b *schema.Builder) {
	b.Command("UDPEchoDiagnostics()", true, []*schema.Param{
		ifRef(),
		schema.Arg("Host", str(256), schema.Mandatory),
		schema.Arg("Port", u(schema.Between(1, 65535)), schema.Mandatory),
		schema.Arg("NumberOfRepetitions", u(schema.Min(1))),
		schema.Arg("Timeout", u(schema.Min(1)), schema.Mandatory),
		schema.Arg("DataBlockSize", u(schema.Between(1, 65535))),
		dscpArg(),
		schema.Arg("InterTransmissionTime", u(schema.Between(1, 65535))),
		protoArg(),
		schema.Arg("EnableIndividualPacketResults", schema.Boolean()),
	}, []*schema.Param{
		schema.Arg("Status", schema.String(schema.Enum("Complete", "Error_CannotResolveHostName", "Error_Internal", "Error_Other"))),
		schema.Arg("IPAddressUsed", ipAddr()),
		schema.Arg("SuccessCount", u()),
		schema.Arg("FailureCount", u()),
		schema.Arg("AverageResponseTime", u()),
		schema.Arg("MinimumResponseTime", u()),
		schema.Arg("MaximumResponseTime", u()),
		schema.Arg("IndividualPacketResult.{i}.PacketSuccess", schema.Boolean()),
		schema.Arg("IndividualPacketResult.{i}.PacketSendTime", schema.DateTime()),
		schema.Arg("IndividualPacketResult.{i}.PacketReceiveTime", schema.DateTime()),
		schema.Arg("IndividualPacketResult.{i}.TestGenSN", u()),
		schema.Arg("IndividualPacketResult.{i}.TestRespSN", u()),
		schema.Arg("IndividualPacketResult.{i}.TestRespRcvTimeStamp", u()),
		schema.Arg("IndividualPacketResult.{i}.TestRespReplyTimeStamp", u()),
		schema.Arg("IndividualPacketResult.{i}.TestRespReplyFailureCount", u()),
	})
}

func defineServerSelection(b *schema.Builder) {
	b.Command("ServerSelectionDiagnostics()", true, []*schema.Param{
		ifRef(),
		protoArg(schema.Mandatory),
		schema.Arg("Protocol", schema.String(schema.Enum("ICMP", "UDP Echo")), schema.Mandatory),
		schema.Arg("HostList", schema.String(schema.ListOf(0, 0), schema.MaxLen(256)), schema.Mandatory),
		schema.Arg("NumberOfRepetitions", u(schema.Min(1)), schema.Mandatory),
		schema.Arg("Timeout", u(schema.Min(1)), schema.Mandatory),
	}, []*schema.Param{
		schema.Arg("Status", schema.String(schema.Enum("Complete", "Error_CannotResolveHostName", "Error_Internal", "Error_Other"))),
		schema.Arg("FastestHost", schema.String()),
		schema.Arg("MinimumResponseTime", u()),
		schema.Arg("AverageResponseTime", u()),
		schema.Arg("MaximumResponseTime", u()),
		schema.Arg("IPAddressUsed", ipAddr()),
	})
}

func defineNSLookup(b *schema.Builder) {
	b.Command("NSLookupDiagnostics()", true, []*schema.Param{
		ifRef(),
		schema.Arg("HostName", str(256), schema.Mandatory),
		schema.Arg("DNSServer", str(256)),
		schema.Arg("Timeout", u(), schema.Mandatory),
		schema.Arg("NumberOfRepetitions", u(), schema.Mandatory),
	}, []*schema.Param{
		schema.Arg("Status", schema.String(schema.Enum("Complete", "Error_DNSServerNotResolved", "Error_Internal", "Error_Other"))),
		schema.Arg("SuccessCount", u()),
		schema.Arg("Result.{i}.Status", schema.String(schema.Enum("Success", "Error_DNSServerNotAvailable",
			"Error_HostNameNotResolved", "Error_Timeout", "Error_Other"))),
		schema.Arg("Result.{i}.AnswerType", schema.String(schema.Enum("None", "Authoritative", "NonAuthoritative"))),
		schema.Arg("Result.{i}.HostNameReturned", str(256)),
		schema.Arg("Result.{i}.IPAddresses", schema.String(schema.Named("IPAddress"), schema.MaxLen(45), schema.ListOf(0, 0))),
		schema.Arg("Result.{i}.DNSServerIP", ipAddr()),
		schema.Arg("Result.{i}.ResponseTime", u()),
	})
}
