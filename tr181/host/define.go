package host

import "github.com/uspkit/uspkit/schema"

// Define adds the objects of the given areas (every area when none is
// given) to m, with the parameters this package provides; names, types,
// access, unique keys and defaults are those of TR-181 Device:2.16.
// Device.IP. and Device.DNS. are defined only when m does not have them
// yet (other packages serve objects below them).
func Define(m *schema.Model, areas ...Area) {
	for _, a := range areaList(areas) {
		switch a {
		case AreaIP:
			defineIP(m)
		case AreaEthernet:
			defineEthernet(m)
		case AreaHosts:
			defineHosts(m)
		case AreaDNS:
			defineDNS(m)
		case AreaRouting:
			defineRouting(m)
		case AreaTime:
			defineTime(m)
		}
	}
}

// defineIP adds Device.IP.Interface.{i}. and its addresses and Stats.
func defineIP(m *schema.Model) {
	if m.Object("Device.IP.") == nil {
		m.Define("Device.IP.").
			Param("InterfaceNumberOfEntries", schema.UnsignedInt())
	}
	m.Define("Device.IP.Interface.{i}.", schema.ObjAddDelete, schema.AliasKey(), schema.NonFunctionalKeys("Name"), schema.NumEntries("InterfaceNumberOfEntries"), schema.EnableParam("Enable")).
		Param("Enable", schema.Boolean(), schema.ReadWrite, schema.Default("false")).
		Param("IPv4Enable", schema.Boolean(), schema.ReadWrite).
		Param("IPv6Enable", schema.Boolean(), schema.ReadWrite).
		Param("Status", schema.String(schema.Enum("Up", "Down", "Unknown", "Dormant", "NotPresent", "LowerLayerDown", "Error")), schema.Default("Down")).
		Param("Alias", schema.String(schema.Named("Alias"), schema.MaxLen(64)), schema.ReadWrite).
		Param("Name", schema.String(schema.MaxLen(64))).
		Param("LastChange", schema.UnsignedInt()).
		Param("LowerLayers", schema.String(schema.ListOf(0, 1024), schema.Ref()), schema.ReadWrite, schema.Default("")).
		Param("MaxMTUSize", schema.UnsignedInt(schema.Bounds("64", "65535")), schema.ReadWrite).
		Param("Type", schema.String(schema.Enum("Normal", "Loopback", "Tunnel", "Tunneled")), schema.Default("Normal")).
		Param("Loopback", schema.Boolean(), schema.ReadWrite, schema.Default("false"))
	m.Define("Device.IP.Interface.{i}.IPv4Address.{i}.", schema.ObjAddDelete, schema.AliasKey(), schema.Keys("IPAddress", "SubnetMask"), schema.NumEntries("IPv4AddressNumberOfEntries"), schema.EnableParam("Enable")).
		Param("Enable", schema.Boolean(), schema.ReadWrite, schema.Default("false")).
		Param("Status", schema.String(schema.Enum("Disabled", "Enabled", "Error_Misconfigured", "Error")), schema.Default("Disabled")).
		Param("Alias", schema.String(schema.Named("Alias"), schema.MaxLen(64)), schema.ReadWrite).
		Param("IPAddress", schema.String(schema.Named("IPv4Address"), schema.MaxLen(15), schema.Pattern(``), schema.Pattern(`((25[0-5]|2[0-4][0-9]|[01]?[0-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|[01]?[0-9]?[0-9])`)), schema.ReadWrite).
		Param("SubnetMask", schema.String(schema.Named("IPv4Address"), schema.MaxLen(15), schema.Pattern(``), schema.Pattern(`((25[0-5]|2[0-4][0-9]|[01]?[0-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|[01]?[0-9]?[0-9])`)), schema.ReadWrite, schema.Default("")).
		Param("AddressingType", schema.String(schema.Enum("DHCP", "IKEv2", "AutoIP", "IPCP", "Static")), schema.Default("Static"))
	m.Define("Device.IP.Interface.{i}.IPv6Address.{i}.", schema.ObjAddDelete, schema.AliasKey(), schema.Keys("IPAddress"), schema.NumEntries("IPv6AddressNumberOfEntries"), schema.EnableParam("Enable")).
		Param("Enable", schema.Boolean(), schema.ReadWrite, schema.Default("false")).
		Param("Status", schema.String(schema.Enum("Disabled", "Enabled", "Error_Misconfigured", "Error")), schema.Default("Disabled")).
		Param("IPAddressStatus", schema.String(schema.Enum("Preferred", "Deprecated", "Invalid", "Inaccessible", "Unknown", "Tentative", "Duplicate", "Optimistic")), schema.Default("Invalid")).
		Param("Alias", schema.String(schema.Named("Alias"), schema.MaxLen(64)), schema.ReadWrite).
		Param("IPAddress", schema.String(schema.Named("IPv6Address"), schema.MaxLen(45)), schema.ReadWrite, schema.Default("")).
		Param("Origin", schema.String(schema.Enum("AutoConfigured", "DHCPv6", "IKEv2", "MAP", "WellKnown", "Static")), schema.Default("Static")).
		Param("PreferredLifetime", schema.DateTime(), schema.ReadWrite, schema.Default("9999-12-31T23:59:59Z")).
		Param("ValidLifetime", schema.DateTime(), schema.ReadWrite, schema.Default("9999-12-31T23:59:59Z"))
	m.Define("Device.IP.Interface.{i}.Stats.").
		Param("BytesSent", schema.UnsignedLong()).
		Param("BytesReceived", schema.UnsignedLong()).
		Param("PacketsSent", schema.UnsignedLong()).
		Param("PacketsReceived", schema.UnsignedLong()).
		Param("ErrorsSent", schema.UnsignedInt()).
		Param("ErrorsReceived", schema.UnsignedInt()).
		Param("DiscardPacketsSent", schema.UnsignedInt()).
		Param("DiscardPacketsReceived", schema.UnsignedInt()).
		Param("MulticastPacketsReceived", schema.UnsignedLong())
}

// defineEthernet adds Device.Ethernet.Interface.{i}. and its Stats.
func defineEthernet(m *schema.Model) {
	m.Define("Device.Ethernet.").
		Param("InterfaceNumberOfEntries", schema.UnsignedInt())
	m.Define("Device.Ethernet.Interface.{i}.", schema.AliasKey(), schema.NonFunctionalKeys("Name"), schema.NumEntries("InterfaceNumberOfEntries")).
		Param("Enable", schema.Boolean(), schema.ReadWrite).
		Param("Status", schema.String(schema.Enum("Up", "Down", "Unknown", "Dormant", "NotPresent", "LowerLayerDown", "Error"))).
		Param("Alias", schema.String(schema.Named("Alias"), schema.MaxLen(64)), schema.ReadWrite).
		Param("Name", schema.String(schema.MaxLen(64))).
		Param("LastChange", schema.UnsignedInt()).
		Param("LowerLayers", schema.String(schema.ListOf(0, 1024), schema.Ref()), schema.ReadWrite).
		Param("Upstream", schema.Boolean()).
		Param("MACAddress", schema.String(schema.Named("MACAddress"), schema.MaxLen(17), schema.Pattern(``), schema.Pattern(`([0-9A-Fa-f][0-9A-Fa-f]:){5}([0-9A-Fa-f][0-9A-Fa-f])`))).
		Param("MaxBitRate", schema.Int(schema.Bounds("-1", "")), schema.ReadWrite).
		Param("CurrentBitRate", schema.UnsignedInt()).
		Param("DuplexMode", schema.String(schema.Enum("Half", "Full", "Auto")), schema.ReadWrite)
	m.Define("Device.Ethernet.Interface.{i}.Stats.").
		Param("BytesSent", schema.UnsignedLong()).
		Param("BytesReceived", schema.UnsignedLong()).
		Param("PacketsSent", schema.UnsignedLong()).
		Param("PacketsReceived", schema.UnsignedLong()).
		Param("ErrorsSent", schema.UnsignedInt()).
		Param("ErrorsReceived", schema.UnsignedInt()).
		Param("DiscardPacketsSent", schema.UnsignedInt()).
		Param("DiscardPacketsReceived", schema.UnsignedInt()).
		Param("MulticastPacketsReceived", schema.UnsignedLong())
}

// defineHosts adds Device.Hosts.Host.{i}. and its address tables.
func defineHosts(m *schema.Model) {
	m.Define("Device.Hosts.").
		Param("HostNumberOfEntries", schema.UnsignedInt())
	m.Define("Device.Hosts.Host.{i}.", schema.Keys("PhysAddress"), schema.NumEntries("HostNumberOfEntries")).
		Param("PhysAddress", schema.String(schema.MaxLen(64))).
		Param("IPAddress", schema.String(schema.Named("IPAddress"), schema.MaxLen(45))).
		Param("Layer1Interface", schema.String(schema.MaxLen(256), schema.Ref())).
		Param("Layer3Interface", schema.String(schema.MaxLen(256), schema.Ref())).
		Param("InterfaceType", schema.String(schema.Enum("Ethernet", "G.hn", "HPNA", "HomePlug", "MoCA", "UPA", "Wi-Fi", "Other"))).
		Param("HostName", schema.String(schema.MaxLen(64))).
		Param("Active", schema.Boolean()).
		Param("ActiveLastChange", schema.DateTime()).
		Param("IPv4AddressNumberOfEntries", schema.UnsignedInt()).
		Param("IPv6AddressNumberOfEntries", schema.UnsignedInt())
	m.Define("Device.Hosts.Host.{i}.IPv4Address.{i}.", schema.Keys("IPAddress"), schema.NumEntries("IPv4AddressNumberOfEntries")).
		Param("IPAddress", schema.String(schema.Named("IPv4Address"), schema.MaxLen(15), schema.Pattern(``), schema.Pattern(`((25[0-5]|2[0-4][0-9]|[01]?[0-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|[01]?[0-9]?[0-9])`)))
	m.Define("Device.Hosts.Host.{i}.IPv6Address.{i}.", schema.Keys("IPAddress"), schema.NumEntries("IPv6AddressNumberOfEntries")).
		Param("IPAddress", schema.String(schema.Named("IPv6Address"), schema.MaxLen(45)))

}

// defineDNS adds Device.DNS.Client. and its Server table.
func defineDNS(m *schema.Model) {
	if m.Object("Device.DNS.") == nil {
		m.Define("Device.DNS.")
	}
	m.Define("Device.DNS.Client.").
		Param("Enable", schema.Boolean(), schema.ReadWrite).
		Param("Status", schema.String(schema.Enum("Disabled", "Enabled", "Error"))).
		Param("ServerNumberOfEntries", schema.UnsignedInt())
	m.Define("Device.DNS.Client.Server.{i}.", schema.ObjAddDelete, schema.Keys("DNSServer"), schema.AliasKey(), schema.NumEntries("ServerNumberOfEntries"), schema.EnableParam("Enable")).
		Param("Enable", schema.Boolean(), schema.ReadWrite, schema.Default("false")).
		Param("Status", schema.String(schema.Enum("Disabled", "Enabled", "Error")), schema.Default("Disabled")).
		Param("Alias", schema.String(schema.Named("Alias"), schema.MaxLen(64)), schema.ReadWrite).
		Param("DNSServer", schema.String(schema.Named("IPAddress"), schema.MaxLen(45)), schema.ReadWrite).
		Param("Interface", schema.String(schema.MaxLen(256), schema.Ref()), schema.ReadWrite, schema.Default("")).
		Param("Type", schema.String(schema.Enum("DHCPv4", "DHCPv6", "RouterAdvertisement", "IPCP", "Static")), schema.Default("Static"))
}

// defineRouting adds Device.Routing.Router.{i}. and its forwarding tables.
func defineRouting(m *schema.Model) {
	m.Define("Device.Routing.").
		Param("RouterNumberOfEntries", schema.UnsignedInt())
	m.Define("Device.Routing.Router.{i}.", schema.ObjAddDelete, schema.AliasKey(), schema.NumEntries("RouterNumberOfEntries"), schema.EnableParam("Enable")).
		Param("Enable", schema.Boolean(), schema.ReadWrite, schema.Default("false")).
		Param("Status", schema.String(schema.Enum("Disabled", "Enabled", "Error")), schema.Default("Disabled")).
		Param("Alias", schema.String(schema.Named("Alias"), schema.MaxLen(64)), schema.ReadWrite).
		Param("IPv4ForwardingNumberOfEntries", schema.UnsignedInt()).
		Param("IPv6ForwardingNumberOfEntries", schema.UnsignedInt())
	m.Define("Device.Routing.Router.{i}.IPv4Forwarding.{i}.", schema.ObjAddDelete, schema.AliasKey(), schema.Keys("DestIPAddress", "DestSubnetMask", "ForwardingPolicy", "GatewayIPAddress", "Interface", "ForwardingMetric"), schema.NumEntries("IPv4ForwardingNumberOfEntries"), schema.EnableParam("Enable")).
		Param("Enable", schema.Boolean(), schema.ReadWrite, schema.Default("false")).
		Param("Status", schema.String(schema.Enum("Disabled", "Enabled", "Error_Misconfigured", "Error")), schema.Default("Disabled")).
		Param("Alias", schema.String(schema.Named("Alias"), schema.MaxLen(64)), schema.ReadWrite).
		Param("Type", schema.String(schema.Enum("Normal", "Receive", "Blackhole", "Unreachable", "Prohibit")), schema.ReadWrite, schema.Default("Normal")).
		Param("StaticRoute", schema.Boolean(), schema.Default("true")).
		Param("DestIPAddress", schema.String(schema.Named("IPv4Address"), schema.MaxLen(15), schema.Pattern(``), schema.Pattern(`((25[0-5]|2[0-4][0-9]|[01]?[0-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|[01]?[0-9]?[0-9])`)), schema.ReadWrite, schema.Default("")).
		Param("DestSubnetMask", schema.String(schema.Named("IPv4Address"), schema.MaxLen(15), schema.Pattern(``), schema.Pattern(`((25[0-5]|2[0-4][0-9]|[01]?[0-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|[01]?[0-9]?[0-9])`)), schema.ReadWrite, schema.Default("")).
		Param("ForwardingPolicy", schema.Int(schema.Bounds("-1", "")), schema.ReadWrite, schema.Default("-1")).
		Param("GatewayIPAddress", schema.String(schema.Named("IPv4Address"), schema.MaxLen(15), schema.Pattern(``), schema.Pattern(`((25[0-5]|2[0-4][0-9]|[01]?[0-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|[01]?[0-9]?[0-9])`)), schema.ReadWrite, schema.Default("")).
		Param("Interface", schema.String(schema.MaxLen(256), schema.Ref()), schema.ReadWrite, schema.Default("")).
		Param("Origin", schema.String(schema.Enum("DHCPv4", "OSPF", "IPCP", "RIP", "Static")), schema.Default("Static")).
		Param("ForwardingMetric", schema.Int(schema.Bounds("-1", "")), schema.ReadWrite, schema.Default("-1"))
	m.Define("Device.Routing.Router.{i}.IPv6Forwarding.{i}.", schema.ObjAddDelete, schema.AliasKey(), schema.Keys("DestIPPrefix", "ForwardingPolicy", "NextHop", "Interface", "ForwardingMetric"), schema.NumEntries("IPv6ForwardingNumberOfEntries"), schema.EnableParam("Enable")).
		Param("Enable", schema.Boolean(), schema.ReadWrite, schema.Default("false")).
		Param("Status", schema.String(schema.Enum("Disabled", "Enabled", "Error_Misconfigured", "Error")), schema.Default("Disabled")).
		Param("Alias", schema.String(schema.Named("Alias"), schema.MaxLen(64)), schema.ReadWrite).
		Param("Type", schema.String(schema.Enum("Normal", "Receive", "Blackhole", "Unreachable", "Prohibit")), schema.ReadWrite, schema.Default("Normal")).
		Param("DestIPPrefix", schema.String(schema.Named("IPv6Prefix"), schema.MaxLen(49)), schema.ReadWrite, schema.Default("")).
		Param("ForwardingPolicy", schema.Int(schema.Bounds("-1", "")), schema.ReadWrite, schema.Default("-1")).
		Param("NextHop", schema.String(schema.Named("IPv6Address"), schema.MaxLen(45)), schema.ReadWrite, schema.Default("")).
		Param("Interface", schema.String(schema.MaxLen(256), schema.Ref()), schema.ReadWrite, schema.Default("")).
		Param("Origin", schema.String(schema.Enum("DHCPv6", "OSPF", "RA", "RIPng", "Static")), schema.Default("Static")).
		Param("ForwardingMetric", schema.Int(schema.Bounds("-1", "")), schema.ReadWrite, schema.Default("-1"))
}

// defineTime adds Device.Time.
func defineTime(m *schema.Model) {
	m.Define("Device.Time.").
		Param("Enable", schema.Boolean(), schema.ReadWrite).
		Param("Status", schema.String(schema.Enum("Disabled", "Unsynchronized", "Synchronized", "Error_FailedToSynchronize", "Error"))).
		Param("NTPServer1", schema.String(schema.MaxLen(64)), schema.ReadWrite).
		Param("NTPServer2", schema.String(schema.MaxLen(64)), schema.ReadWrite).
		Param("NTPServer3", schema.String(schema.MaxLen(64)), schema.ReadWrite).
		Param("NTPServer4", schema.String(schema.MaxLen(64)), schema.ReadWrite).
		Param("NTPServer5", schema.String(schema.MaxLen(64)), schema.ReadWrite).
		Param("CurrentLocalTime", schema.DateTime()).
		Param("LocalTimeZone", schema.String(schema.MaxLen(256)), schema.ReadWrite)
}
