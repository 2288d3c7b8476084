package conformance

import (
	"testing"

	"github.com/uspkit/uspkit/schema/schematest"
)

// TestRowsMatchTR181: every object the MTP server cases add and every
// parameter they set is a TR-181 2.16 one, writable (objects: Add and
// Delete), as the Agent's data model must have it.
func TestRowsMatchTR181(t *testing.T) {
	ref := schematest.LoadTR181(t)
	writable := map[string][]string{
		"Device.MQTT.Client.{i}.": {"Alias", "Enable", "BrokerAddress", "BrokerPort", "ProtocolVersion", "TransportProtocol",
			"EnableEncryption", "ClientID", "KeepAliveTime", "ConnectRetryTime", "ConnectRetryIntervalMultiplier",
			"ConnectRetryMaxInterval", "Username", "Password"},
		"Device.MQTT.Client.{i}.Subscription.{i}.": {"Enable", "Topic", "QoS"},
		"Device.STOMP.Connection.{i}.": {"Alias", "Enable", "Host", "Port", "Username", "Password", "VirtualHost", "EnableEncryption",
			"EnableHeartbeats", "OutgoingHeartbeat", "IncomingHeartbeat", "ServerRetryInitialInterval",
			"ServerRetryIntervalMultiplier", "ServerRetryMaxInterval"},
		"Device.LocalAgent.MTP.{i}.":                      {"Alias", "Enable", "Protocol"},
		"Device.LocalAgent.MTP.{i}.MQTT.":                 {"Reference", "ResponseTopicConfigured", "PublishQoS"},
		"Device.LocalAgent.MTP.{i}.STOMP.":                {"Reference", "Destination"},
		"Device.LocalAgent.Controller.{i}.MTP.{i}.":       {"Enable", "Protocol"},
		"Device.LocalAgent.Controller.{i}.MTP.{i}.MQTT.":  {"Reference", "Topic"},
		"Device.LocalAgent.Controller.{i}.MTP.{i}.STOMP.": {"Reference", "Destination"},
	}
	for obj, params := range writable {
		for _, name := range params {
			p := ref.Param(obj + name)
			if p == nil {
				t.Errorf("%s%s is not in TR-181", obj, name)
				continue
			}
			if !p.Access.Writable() {
				t.Errorf("%s%s is not writable in TR-181", obj, name)
			}
		}
	}
	for _, obj := range []string{"Device.MQTT.Client.{i}.", "Device.MQTT.Client.{i}.Subscription.{i}.", "Device.STOMP.Connection.{i}.",
		"Device.LocalAgent.MTP.{i}.", "Device.LocalAgent.Controller.{i}.MTP.{i}."} {
		if o := ref.Object(obj); o == nil || !o.Access.CanAdd() || !o.Access.CanDelete() {
			t.Errorf("%s is not an object that takes Add and Delete in TR-181", obj)
		}
	}
	// Read, never set.
	for _, path := range []string{"Device.MQTT.Capabilities.ProtocolVersionsSupported", "Device.LocalAgent.SupportedProtocols"} {
		if ref.Param(path) == nil {
			t.Errorf("%s is not in TR-181", path)
		}
	}
}
