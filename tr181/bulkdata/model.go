package bulkdata

import "github.com/uspkit/uspkit/schema"

// Paths of the objects this package serves.
const (
	pathBulkData = "Device.BulkData."
	pathProfiles = "Device.BulkData.Profile."
)

// Supported protocols and encodings, in the order Device.BulkData.Protocols
// and EncodingTypes list them.
const (
	ProtocolHTTP          = "HTTP"
	ProtocolUSPEventNotif = "USPEventNotif"
	EncodingJSON          = "JSON"
	EncodingCSV           = "CSV"
)

// defaultRowSeparator is the CSV row separator a new profile starts with:
// a line feed, TR-181's "&#10;" (the published XML shows it flattened to a
// space).
const defaultRowSeparator = "\n"

// Define adds Device.BulkData, its Profile table with Parameter,
// CSVEncoding, JSONEncoding, HTTP (with RequestURIParameter) and MQTT
// (used once Service.SetMQTT gave a publisher), the ForceCollection()
// command and the Push! event to m, as TR-181 2.16 defines them. The
// Streaming and File parts of a profile are not supported and not
// defined, nor are the read-only
// HTTP.CompressionsSupported and HTTP.MethodsSupported (a stored object
// has no way to give them their values); the compressions supported are
// None and GZIP, the methods POST and PUT.
func Define(m *schema.Model) {
	m.Define(pathBulkData).
		Param("Enable", schema.Boolean(), schema.ReadWrite).
		Param("Status", schema.String(schema.Enum("Enabled", "Disabled", "Error"))).
		Param("MinReportingInterval", schema.UnsignedInt()).
		Param("Protocols", schema.String(schema.Enum("Streaming", "File", "HTTP", "MQTT", "USPEventNotif"), schema.ListOf(0, 0))).
		Param("EncodingTypes", schema.String(schema.Enum("XML", "XDR", "CSV", "JSON"), schema.ListOf(0, 0))).
		Param("ParameterWildCardSupported", schema.Boolean()).
		Param("MaxNumberOfProfiles", schema.Int(schema.Bounds("-1", ""))).
		Param("MaxNumberOfParameterReferences", schema.Int(schema.Bounds("-1", ""))).
		Param("ProfileNumberOfEntries", schema.UnsignedInt())
	m.Define("Device.BulkData.Profile.{i}.", schema.ObjAddDelete, schema.AliasKey(), schema.NumEntries("ProfileNumberOfEntries"), schema.EnableParam("Enable"),
		schema.Entries(0, MaxProfiles)).
		Param("Enable", schema.Boolean(), schema.ReadWrite, schema.Default("false")).
		Param("Alias", schema.String(schema.Named("Alias"), schema.MaxLen(64)), schema.ReadWrite).
		Param("Name", schema.String(schema.MaxLen(255)), schema.ReadWrite).
		Param("Controller", schema.String(schema.Ref())).
		Param("NumberOfRetainedFailedReports", schema.Int(schema.Bounds("-1", "")), schema.ReadWrite, schema.Default("0")).
		Param("Protocol", schema.String(), schema.ReadWrite).
		Param("EncodingType", schema.String(), schema.ReadWrite).
		Param("ReportingInterval", schema.UnsignedInt(schema.Bounds("1", "")), schema.ReadWrite, schema.Default("86400")).
		Param("TimeReference", schema.DateTime(), schema.ReadWrite, schema.Default("0001-01-01T00:00:00Z")).
		Param("ParameterNumberOfEntries", schema.UnsignedInt()).
		Command("ForceCollection()", false, nil, nil).
		Event("Push!", schema.Arg("Data", schema.String()))
	m.Define("Device.BulkData.Profile.{i}.Parameter.{i}.", schema.ObjAddDelete, schema.NumEntries("ParameterNumberOfEntries"), schema.Entries(0, maxParams)).
		Param("Name", schema.String(schema.MaxLen(64)), schema.ReadWrite).
		Param("Reference", schema.String(schema.MaxLen(256)), schema.ReadWrite, schema.Default("")).
		Param("Exclude", schema.Boolean(), schema.ReadWrite, schema.Default("false"))
	m.Define("Device.BulkData.Profile.{i}.CSVEncoding.").
		Param("FieldSeparator", schema.String(), schema.ReadWrite, schema.Default(",")).
		Param("RowSeparator", schema.String(), schema.ReadWrite, schema.Default(defaultRowSeparator)).
		Param("EscapeCharacter", schema.String(), schema.ReadWrite, schema.Default(`"`)).
		Param("ReportFormat", schema.String(schema.Enum("ParameterPerRow", "ParameterPerColumn")), schema.ReadWrite, schema.Default("ParameterPerColumn")).
		Param("RowTimestamp", schema.String(schema.Enum("Unix-Epoch", "ISO-8601", "None")), schema.ReadWrite, schema.Default("Unix-Epoch"))
	m.Define("Device.BulkData.Profile.{i}.JSONEncoding.").
		Param("ReportFormat", schema.String(schema.Enum("ObjectHierarchy", "NameValuePair")), schema.ReadWrite, schema.Default("ObjectHierarchy")).
		Param("ReportTimestamp", schema.String(schema.Enum("Unix-Epoch", "ISO-8601", "None")), schema.ReadWrite, schema.Default("Unix-Epoch"))
	m.Define("Device.BulkData.Profile.{i}.HTTP.").
		Param("URL", schema.String(schema.Named("URL"), schema.MaxLen(2048)), schema.ReadWrite).
		Param("Username", schema.String(schema.MaxLen(256)), schema.ReadWrite).
		Param("Password", schema.String(schema.MaxLen(256)), schema.ReadWrite, schema.Secured).
		Param("Compression", schema.String(), schema.ReadWrite, schema.Default("None")).
		Param("Method", schema.String(), schema.ReadWrite, schema.Default("POST")).
		Param("UseDateHeader", schema.Boolean(), schema.ReadWrite, schema.Default("true")).
		Param("RetryEnable", schema.Boolean(), schema.ReadWrite, schema.Default("false")).
		Param("RetryMinimumWaitInterval", schema.UnsignedInt(schema.Bounds("1", "65535")), schema.ReadWrite, schema.Default("5")).
		Param("RetryIntervalMultiplier", schema.UnsignedInt(schema.Bounds("1000", "65535")), schema.ReadWrite, schema.Default("2000")).
		Param("RequestURIParameterNumberOfEntries", schema.UnsignedInt()).
		Param("PersistAcrossReboot", schema.Boolean(), schema.ReadWrite, schema.Default("false"))
	m.Define("Device.BulkData.Profile.{i}.MQTT.").
		Param("Reference", schema.String(schema.Ref()), schema.ReadWrite, schema.Default("")).
		Param("PublishTopic", schema.String(schema.MaxLen(65535)), schema.ReadWrite).
		Param("PublishQoS", schema.UnsignedInt(schema.Bounds("0", "2")), schema.ReadWrite).
		Param("PublishRetain", schema.Boolean(), schema.ReadWrite, schema.Default("false"))
	m.Define("Device.BulkData.Profile.{i}.HTTP.RequestURIParameter.{i}.", schema.ObjAddDelete, schema.NumEntries("RequestURIParameterNumberOfEntries")).
		Param("Name", schema.String(schema.MaxLen(64)), schema.ReadWrite).
		Param("Reference", schema.String(schema.MaxLen(256)), schema.ReadWrite, schema.Default(""))
}
