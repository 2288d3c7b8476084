package agent

import "github.com/uspkit/uspkit/schema"

// Define adds to m the objects the Agent itself implements: the root
// object's lifecycle items (Reboot(), FactoryReset(),
// SelfTestDiagnostics(), Boot!) and Device.LocalAgent with its MTP,
// Controller, Certificate, ControllerTrust, Subscription and Request
// tables. Names, types, access, unique keys and defaults are those of
// TR-181 Device:2.16; a test checks them against BBF's document. Newer
// items are marked where they are defined: Controller.{i}.OnBoardingComplete
// and OnBoardingRestartTime (TR-181 2.17, onboarding.go), and
// Subscription.{i}.TriggerConfigSettings, writable for TriggerAction
// (trigger.go) where 2.16 has it read-only.
//
// Call Define before other packages add objects below Device., and before
// building the datamodel.Mux the Agent is given.
func Define(m *schema.Model) {
	m.Define("Device.").
		Command("Reboot()", false, nil, nil).
		Command("FactoryReset()", false, nil, nil).
		Command("ScheduleTimer()", true, []*schema.Param{schema.Arg("DelaySeconds", schema.UnsignedInt(schema.Bounds("1", "")), schema.Mandatory)}, nil).
		Command("SelfTestDiagnostics()", true, nil, []*schema.Param{schema.Arg("Status", schema.String(schema.Enum("Complete", "Error_Internal", "Error_Other"))), schema.Arg("Results", schema.String(schema.MaxLen(1024)))}).
		Event("Boot!", schema.Arg("CommandKey", schema.String()), schema.Arg("Cause", schema.String(schema.Enum("LocalReboot", "RemoteReboot", "FactoryReset", "LocalFactoryReset", "RemoteFactoryReset"))), schema.Arg("FirmwareUpdated", schema.Boolean()), schema.Arg("ParameterMap", schema.String(schema.Named("JSONObject"))))
	m.Define("Device.LocalAgent.").
		Param("EndpointID", schema.String()).
		Param("SoftwareVersion", schema.String(schema.MaxLen(64))).
		Param("UpTime", schema.UnsignedInt(), schema.ValueChangeWillIgnore).
		Param("SupportedProtocols", schema.String(schema.Enum("CoAP", "WebSocket", "STOMP", "MQTT", "UDS"), schema.ListOf(0, 0), schema.MinItems(1))).
		Param("MTPNumberOfEntries", schema.UnsignedInt()).
		Param("ControllerNumberOfEntries", schema.UnsignedInt()).
		Param("CertificateNumberOfEntries", schema.UnsignedInt()).
		Param("SubscriptionNumberOfEntries", schema.UnsignedInt()).
		Param("RequestNumberOfEntries", schema.UnsignedInt()).
		Event("Periodic!").
		Command("AddCertificate()", false, []*schema.Param{schema.Arg("Alias", schema.String(schema.Named("Alias"), schema.MaxLen(64))), schema.Arg("Certificate", schema.String(schema.MaxLen(65535)), schema.Mandatory)}, nil) // addcert.go
	m.Define("Device.LocalAgent.MTP.{i}.", schema.ObjAddDelete, schema.AliasKey(), schema.NumEntries("MTPNumberOfEntries"), schema.EnableParam("Enable")).
		Param("Alias", schema.String(schema.Named("Alias"), schema.MaxLen(64)), schema.ReadWrite).
		Param("Enable", schema.Boolean(), schema.ReadWrite, schema.Default("false")).
		Param("Status", schema.String(schema.Enum("Up", "Down", "Error"))).
		Param("Protocol", schema.String(), schema.ReadWrite).
		Param("EnableMDNS", schema.Boolean(), schema.ReadWrite, schema.Default("true"))
	m.Define("Device.LocalAgent.MTP.{i}.STOMP.").
		Param("Reference", schema.String(schema.Ref()), schema.ReadWrite, schema.Default("")).
		Param("Destination", schema.String(), schema.ReadWrite, schema.Default("")).
		Param("DestinationFromServer", schema.String(), schema.Default(""))
	m.Define("Device.LocalAgent.MTP.{i}.WebSocket.").
		Param("Interfaces", schema.String(schema.ListOf(0, 0), schema.Ref()), schema.ReadWrite).
		Param("Port", schema.UnsignedInt(schema.Bounds("1", "65535")), schema.ReadWrite, schema.Default("5683")).
		Param("Path", schema.String(), schema.ReadWrite).
		Param("EnableEncryption", schema.Boolean(), schema.ReadWrite, schema.Default("true")).
		Param("KeepAliveInterval", schema.UnsignedInt(schema.Bounds("1", "")), schema.ReadWrite, schema.Default("60"))
	m.Define("Device.LocalAgent.MTP.{i}.MQTT.").
		Param("Reference", schema.String(schema.Ref()), schema.ReadWrite, schema.Default("")).
		Param("ResponseTopicConfigured", schema.String(schema.MaxLen(65535)), schema.ReadWrite).
		Param("ResponseTopicDiscovered", schema.String(schema.MaxLen(65535))).
		Param("PublishQoS", schema.UnsignedInt(schema.Bounds("0", "2")), schema.ReadWrite)
	m.Define("Device.LocalAgent.MTP.{i}.UDS.").
		Param("UnixDomainSocketRef", schema.String(schema.Ref()), schema.ReadWrite, schema.Default(""))
	m.Define("Device.LocalAgent.Controller.{i}.", schema.ObjAddDelete, schema.Keys("EndpointID"), schema.AliasKey(), schema.NumEntries("ControllerNumberOfEntries"), schema.EnableParam("Enable")).
		Param("Alias", schema.String(schema.Named("Alias"), schema.MaxLen(64)), schema.ReadWrite).
		Param("EndpointID", schema.String(), schema.ReadWrite, schema.Default("")).
		Param("ProvisioningCode", schema.String(schema.MaxLen(64)), schema.ReadWrite, schema.Default("")).
		Param("Enable", schema.Boolean(), schema.ReadWrite, schema.Default("false")).
		Param("AssignedRole", schema.String(schema.ListOf(0, 0), schema.Ref()), schema.ReadWrite).
		Param("PeriodicNotifInterval", schema.UnsignedInt(schema.Bounds("1", "")), schema.ReadWrite).
		Param("PeriodicNotifTime", schema.DateTime(), schema.ReadWrite).
		Param("USPNotifRetryMinimumWaitInterval", schema.UnsignedInt(schema.Bounds("1", "65535")), schema.ReadWrite, schema.Default("5")).
		Param("USPNotifRetryIntervalMultiplier", schema.UnsignedInt(schema.Bounds("1000", "65535")), schema.ReadWrite, schema.Default("2000")).
		Param("MTPNumberOfEntries", schema.UnsignedInt()).
		Param("BootParameterNumberOfEntries", schema.UnsignedInt()).
		Command("SendOnBoardRequest()", false, nil, nil)
	defineOnBoarding(m) // TR-181 2.17 (onboarding.go)
	defineE2E(m)
	m.Define("Device.LocalAgent.Controller.{i}.MTP.{i}.", schema.ObjAddDelete, schema.Keys("Protocol"), schema.AliasKey(), schema.NumEntries("MTPNumberOfEntries"), schema.EnableParam("Enable")).
		Param("Alias", schema.String(schema.Named("Alias"), schema.MaxLen(64)), schema.ReadWrite).
		Param("Enable", schema.Boolean(), schema.ReadWrite, schema.Default("false")).
		Param("Protocol", schema.String(), schema.ReadWrite).
		Param("Order", schema.UnsignedInt(schema.Bounds("1", "")), schema.ReadWrite)
	m.Define("Device.LocalAgent.Controller.{i}.MTP.{i}.STOMP.").
		Param("Reference", schema.String(schema.Ref()), schema.ReadWrite, schema.Default("")).
		Param("Destination", schema.String(), schema.ReadWrite, schema.Default("")).
		Param("USPServiceRef", schema.String(schema.Ref()), schema.Default(""))
	m.Define("Device.LocalAgent.Controller.{i}.MTP.{i}.WebSocket.").
		Param("Host", schema.String(schema.MaxLen(256)), schema.ReadWrite).
		Param("Port", schema.UnsignedInt(schema.Bounds("1", "65535")), schema.ReadWrite).
		Param("Path", schema.String(), schema.ReadWrite).
		Param("IsEncrypted", schema.Boolean()).
		Param("EnableEncryption", schema.Boolean(), schema.ReadWrite, schema.Default("true")).
		Param("KeepAliveInterval", schema.UnsignedInt(schema.Bounds("1", "")), schema.ReadWrite).
		Param("CurrentRetryCount", schema.UnsignedInt()).
		Param("SessionRetryMinimumWaitInterval", schema.UnsignedInt(schema.Bounds("1", "65535")), schema.ReadWrite, schema.Default("5")).
		Param("SessionRetryIntervalMultiplier", schema.UnsignedInt(schema.Bounds("1000", "65535")), schema.ReadWrite, schema.Default("2000")).
		Param("USPServiceRef", schema.String(schema.Ref()), schema.Default("")).
		Command("Reset()", false, nil, nil)
	m.Define("Device.LocalAgent.Controller.{i}.MTP.{i}.MQTT.").
		Param("Reference", schema.String(schema.Ref()), schema.ReadWrite, schema.Default("")).
		Param("Topic", schema.String(schema.MaxLen(65535)), schema.ReadWrite).
		Param("PublishRetainResponse", schema.Boolean(), schema.ReadWrite, schema.Default("false")).
		Param("PublishRetainNotify", schema.Boolean(), schema.ReadWrite, schema.Default("false")).
		Param("USPServiceRef", schema.String(schema.Ref()), schema.Default(""))
	m.Define("Device.LocalAgent.Controller.{i}.MTP.{i}.UDS.").
		Param("UnixDomainSocketRef", schema.String(schema.Ref()), schema.ReadWrite, schema.Default("")).
		Param("USPServiceRef", schema.String(schema.Ref()), schema.Default("")) // filled by a USP Broker, as the other MTPs' (broker_refs.go)
	m.Define("Device.LocalAgent.Controller.{i}.BootParameter.{i}.", schema.ObjAddDelete, schema.Keys("ParameterName"), schema.AliasKey(), schema.NumEntries("BootParameterNumberOfEntries"), schema.EnableParam("Enable")).
		Param("Alias", schema.String(schema.Named("Alias"), schema.MaxLen(64)), schema.ReadWrite).
		Param("Enable", schema.Boolean(), schema.ReadWrite, schema.Default("false")).
		Param("ParameterName", schema.String(schema.MaxLen(256)), schema.ReadWrite, schema.Default(""))
	m.Define("Device.LocalAgent.Certificate.{i}.", schema.Keys("SerialNumber", "Issuer"), schema.AliasKey(), schema.NumEntries("CertificateNumberOfEntries")).
		Param("Alias", schema.String(schema.Named("Alias"), schema.MaxLen(64)), schema.ReadWrite).
		Param("Enable", schema.Boolean(), schema.ReadWrite).
		Param("SerialNumber", schema.String(schema.MaxLen(64))).
		Param("Issuer", schema.String(schema.MaxLen(256))).
		Command("Delete()", false, nil, nil). // added certificates (addcert.go)
		Command("GetFingerprint()", false, []*schema.Param{schema.Arg("FingerprintAlgorithm", schema.String(schema.Enum("SHA-1", "SHA-224", "SHA-256", "SHA-384", "SHA-512")), schema.Mandatory)}, []*schema.Param{schema.Arg("Fingerprint", schema.HexBinary(schema.MaxLen(128)))})
	m.Define("Device.LocalAgent.ControllerTrust.").
		Param("UntrustedRole", schema.String(schema.ListOf(1, 0), schema.Ref()), schema.ReadWrite).
		Param("BannedRole", schema.String(schema.Ref()), schema.ReadWrite).
		Param("SecuredRoles", schema.String(schema.ListOf(0, 0), schema.Ref()), schema.ReadWrite). // secured.go
		Param("RoleNumberOfEntries", schema.UnsignedInt())
	m.Define("Device.LocalAgent.ControllerTrust.Role.{i}.", schema.ObjAddDelete, schema.Keys("Name"), schema.AliasKey(), schema.NumEntries("RoleNumberOfEntries"), schema.EnableParam("Enable")).
		Param("Alias", schema.String(schema.Named("Alias"), schema.MaxLen(64)), schema.ReadWrite).
		Param("Enable", schema.Boolean(), schema.ReadWrite, schema.Default("false")).
		Param("Name", schema.String(), schema.ReadWrite).
		Param("PermissionNumberOfEntries", schema.UnsignedInt())
	m.Define("Device.LocalAgent.ControllerTrust.Role.{i}.Permission.{i}.", schema.ObjAddDelete, schema.Keys("Order"), schema.AliasKey(), schema.NumEntries("PermissionNumberOfEntries"), schema.EnableParam("Enable")).
		Param("Alias", schema.String(schema.Named("Alias"), schema.MaxLen(64)), schema.ReadWrite).
		Param("Enable", schema.Boolean(), schema.ReadWrite, schema.Default("false")).
		Param("Order", schema.UnsignedInt(), schema.ReadWrite, schema.Default("0")).
		Param("Targets", schema.String(schema.ListOf(0, 0)), schema.ReadWrite, schema.Default("")).
		Param("Param", schema.String(schema.Len(4, 4)), schema.ReadWrite, schema.Default("----")).
		Param("Obj", schema.String(schema.Len(4, 4)), schema.ReadWrite, schema.Default("----")).
		Param("InstantiatedObj", schema.String(schema.Len(4, 4)), schema.ReadWrite, schema.Default("----")).
		Param("CommandEvent", schema.String(schema.Len(4, 4)), schema.ReadWrite, schema.Default("----"))
	m.Define("Device.LocalAgent.Subscription.{i}.", schema.ObjAddDelete, schema.AliasKey(), schema.NonFunctionalKeys("Recipient", "ID"), schema.NumEntries("SubscriptionNumberOfEntries"), schema.EnableParam("Enable")).
		Param("Alias", schema.String(schema.Named("Alias"), schema.MaxLen(64)), schema.ReadWrite).
		Param("Enable", schema.Boolean(), schema.ReadWrite, schema.Default("false")).
		Param("Recipient", schema.String(schema.Ref())).
		Param("ID", schema.String(schema.Len(1, 64)), schema.ReadWrite).
		Param("CreationDate", schema.DateTime()).
		Param("NotifType", schema.String(schema.Enum("ValueChange", "ObjectCreation", "ObjectDeletion", "OperationComplete", "Event")), schema.ReadWrite).
		Param("ReferenceList", schema.String(schema.MaxLen(256), schema.ListOf(0, 0)), schema.ReadWrite).
		Param("Persistent", schema.Boolean(), schema.ReadWrite, schema.Default("false")).
		Param("TimeToLive", schema.UnsignedInt(), schema.ReadWrite, schema.Default("0")).
		Param("NotifRetry", schema.Boolean(), schema.ReadWrite, schema.Default("false")).
		Param("NotifExpiration", schema.UnsignedInt(), schema.ReadWrite, schema.Default("0")).
		Param("TriggerAction", schema.String(schema.Enum(triggerNotify, triggerConfig, triggerNotifyAndConfig)), schema.ReadWrite, schema.Default(triggerNotify)).
		Param("TriggerConfigSettings", schema.String(schema.ListOf(16, 0)), schema.ReadWrite) // trigger.go
	defineConnections(m)
	defineCredentials(m) // credential.go
	defineChallenges(m)  // challenge.go
	m.Define("Device.LocalAgent.Request.{i}.", schema.Keys("Originator", "Command", "CommandKey"), schema.AliasKey(), schema.NumEntries("RequestNumberOfEntries")).
		Param("Alias", schema.String(schema.Named("Alias"), schema.MaxLen(64)), schema.ReadWrite).
		Param("Originator", schema.String()).
		Param("Command", schema.String()).
		Param("CommandKey", schema.String()).
		Param("Status", schema.String(schema.Enum("Requested", "Active", "Canceling", "Canceled", "Success", "Error"))).
		Command("Cancel()", false, nil, nil)
}

// defineConnections adds the MQTT client and STOMP connection tables that
// Device.LocalAgent.MTP.{i}.MQTT.Reference and .STOMP.Reference point to:
// the Agent opens its broker connections from them.
func defineConnections(m *schema.Model) {
	m.Define("Device.MQTT.").
		Param("ClientNumberOfEntries", schema.UnsignedInt())
	m.Define("Device.MQTT.Capabilities.").
		Param("ProtocolVersionsSupported", schema.String(schema.Enum("3.1", "3.1.1", "5.0"), schema.ListOf(0, 0))).
		Param("TransportProtocolSupported", schema.String(schema.Enum("TCP/IP", "TLS", "WebSocket", "WebSocketTLS"), schema.ListOf(0, 0))).
		Param("MaxNumberOfClientSubscriptions", schema.UnsignedInt())
	m.Define("Device.MQTT.Client.{i}.", schema.ObjAddDelete, schema.AliasKey(), schema.NonFunctionalKeys("Name"), schema.NumEntries("ClientNumberOfEntries"), schema.EnableParam("Enable")).
		Param("Alias", schema.String(schema.Named("Alias"), schema.MaxLen(64)), schema.ReadWrite).
		Param("Name", schema.String(schema.MaxLen(64)), schema.ReadWrite).
		Param("Enable", schema.Boolean(), schema.ReadWrite).
		Param("Status", schema.String(schema.Enum("Disabled", "Connecting", "Connected", "Error_Misconfigured", "Error_BrokerUnreachable", "Error"))).
		Param("ProtocolVersion", schema.String(), schema.ReadWrite).
		Param("EnableEncryption", schema.Boolean(), schema.ReadWrite, schema.Default("true")).
		Param("BrokerAddress", schema.String(schema.MaxLen(256)), schema.ReadWrite).
		Param("BrokerPort", schema.UnsignedInt(schema.Bounds("1", "65535")), schema.ReadWrite, schema.Default("1883")).
		Param("TransportProtocol", schema.String(), schema.ReadWrite, schema.Default("TCP/IP")).
		Param("CleanSession", schema.Boolean(), schema.ReadWrite, schema.Default("true")).
		Param("CleanStart", schema.Boolean(), schema.ReadWrite, schema.Default("true")).
		Param("KeepAliveTime", schema.UnsignedInt(schema.Bounds("", "65535")), schema.ReadWrite, schema.Default("60")).
		Param("ClientID", schema.String(schema.Len(0, 65535)), schema.ReadWrite).
		Param("Username", schema.String(schema.MaxLen(256)), schema.ReadWrite).
		Param("Password", schema.String(schema.MaxLen(256)), schema.ReadWrite, schema.Secured).
		Param("ConnectRetryTime", schema.UnsignedInt(schema.Bounds("1", "")), schema.ReadWrite, schema.Default("5")).
		Param("ConnectRetryIntervalMultiplier", schema.UnsignedInt(schema.Bounds("1000", "65535")), schema.ReadWrite, schema.Default("2000")).
		Param("ConnectRetryMaxInterval", schema.UnsignedInt(schema.Bounds("1", "")), schema.ReadWrite, schema.Default("30720")).
		Param("MessageRetryTime", schema.UnsignedInt(schema.Bounds("1", "")), schema.ReadWrite, schema.Default("5")).
		Param("MaximumPacketSize", schema.UnsignedInt(), schema.ReadWrite).
		Param("ResponseInformation", schema.String(schema.MaxLen(65535))).
		Param("SubscriptionNumberOfEntries", schema.UnsignedInt())
	m.Define("Device.MQTT.Client.{i}.Subscription.{i}.", schema.ObjAddDelete, schema.AliasKey(), schema.Keys("Topic"), schema.NumEntries("SubscriptionNumberOfEntries"), schema.EnableParam("Enable")).
		Param("Alias", schema.String(schema.Named("Alias"), schema.MaxLen(64)), schema.ReadWrite).
		Param("Enable", schema.Boolean(), schema.ReadWrite).
		Param("Status", schema.String(schema.Enum("Unsubscribed", "Subscribed", "Subscribing", "Unsubscribing", "Error"))).
		Param("Topic", schema.String(schema.MaxLen(65535)), schema.ReadWrite).
		Param("QoS", schema.UnsignedInt(schema.Bounds("0", "2")), schema.ReadWrite)
	m.Define("Device.STOMP.").
		Param("ConnectionNumberOfEntries", schema.UnsignedInt())
	m.Define("Device.STOMP.Connection.{i}.", schema.ObjAddDelete, schema.Keys("Host", "Username", "VirtualHost"), schema.AliasKey(), schema.NumEntries("ConnectionNumberOfEntries"), schema.EnableParam("Enable")).
		Param("Alias", schema.String(schema.Named("Alias"), schema.MaxLen(64)), schema.ReadWrite).
		Param("Enable", schema.Boolean(), schema.ReadWrite, schema.Default("false")).
		Param("Status", schema.String(schema.Enum("Enabled", "Disabled", "Unknown", "Connecting", "ServerNotPresent", "Error_Misconfigured", "Error_AuthenticationFailure", "Error"))).
		Param("Host", schema.String(schema.MaxLen(256)), schema.ReadWrite).
		Param("Port", schema.UnsignedInt(schema.Bounds("1", "65535")), schema.ReadWrite, schema.Default("61613")).
		Param("Username", schema.String(schema.MaxLen(256)), schema.ReadWrite).
		Param("Password", schema.String(schema.MaxLen(256)), schema.ReadWrite, schema.Secured).
		Param("VirtualHost", schema.String(schema.MaxLen(256)), schema.ReadWrite, schema.Default("")).
		Param("EnableHeartbeats", schema.Boolean(), schema.ReadWrite, schema.Default("false")).
		Param("OutgoingHeartbeat", schema.UnsignedInt(), schema.ReadWrite, schema.Default("0")).
		Param("IncomingHeartbeat", schema.UnsignedInt(), schema.ReadWrite, schema.Default("0")).
		Param("ServerRetryInitialInterval", schema.UnsignedInt(schema.Bounds("1", "65535")), schema.ReadWrite, schema.Default("60")).
		Param("ServerRetryIntervalMultiplier", schema.UnsignedInt(schema.Bounds("1000", "65535")), schema.ReadWrite, schema.Default("2000")).
		Param("ServerRetryMaxInterval", schema.UnsignedInt(schema.Bounds("1", "")), schema.ReadWrite, schema.Default("30720")).
		Param("IsEncrypted", schema.Boolean()).
		Param("EnableEncryption", schema.Boolean(), schema.ReadWrite, schema.Default("true"))
}
