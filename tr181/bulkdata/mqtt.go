package bulkdata

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/uspkit/uspkit/datamodel"
	"github.com/uspkit/uspkit/usperr"
)

// ProtocolMQTT is the Device.BulkData.Protocols value of reports
// published through one of the Agent's MQTT clients
// (Profile.{i}.MQTT.Reference).
const ProtocolMQTT = "MQTT"

// MQTTMessage is one report to publish.
type MQTTMessage struct {
	// Topic is the profile's MQTT.PublishTopic.
	Topic string
	// Payload is the encoded report.
	Payload []byte
	// QoS is MQTT.PublishQoS (0, 1 or 2); on MQTT 5.0 the publisher
	// lowers it to the server's Maximum QoS.
	QoS byte
	// Retain is MQTT.PublishRetain; on MQTT 5.0 the publisher clears it
	// when the server said Retain Available = 0.
	Retain bool
	// ContentType is the report's media type with its charset, for the
	// MQTT 5.0 Content Type property.
	ContentType string
}

// MQTTPublisher publishes reports through the Agent's MQTT clients.
type MQTTPublisher interface {
	// PublishMQTT publishes m through the connection of the
	// Device.MQTT.Client row client ("Device.MQTT.Client.1", a reference
	// as MQTT.Reference holds it, without the trailing dot). It returns an
	// error when the row has no connection or the publication fails.
	PublishMQTT(ctx context.Context, client string, m MQTTMessage) error
	// MQTTAvailable reports whether some MQTT client can publish reports
	// now: "MQTT" is in Device.BulkData.Protocols only then.
	MQTTAvailable() bool
}

// mqttSettings are a profile's MQTT object.
type mqttSettings struct {
	Reference string
	Topic     string
	QoS       byte
	Retain    bool
}

// SetMQTT lets profiles with Protocol "MQTT" publish their reports
// through p; without it, or while p has no client that can publish,
// "MQTT" is not in Device.BulkData.Protocols and such profiles are
// refused. Call it before Run.
func (s *Service) SetMQTT(p MQTTPublisher) { s.mqtt = p }

// protocols is Device.BulkData.Protocols.
func (s *Service) protocols() string {
	if s.mqtt != nil && s.mqtt.MQTTAvailable() {
		return ProtocolHTTP + "," + ProtocolMQTT + "," + ProtocolUSPEventNotif
	}
	return ProtocolHTTP + "," + ProtocolUSPEventNotif
}

// supported reports whether protocol is one of Device.BulkData.Protocols.
func (s *Service) supported(protocol string) bool {
	return protocol == ProtocolHTTP || protocol == ProtocolUSPEventNotif || (protocol == ProtocolMQTT && s.mqtt != nil && s.mqtt.MQTTAvailable())
}

// loadMQTT reads a profile's MQTT object.
func loadMQTT(v map[string]string) mqttSettings {
	q, _ := strconv.ParseUint(v["PublishQoS"], 10, 8)
	return mqttSettings{Reference: strings.TrimSuffix(v["Reference"], "."), Topic: v["PublishTopic"], QoS: byte(min(q, 2)),
		Retain: v["PublishRetain"] == "true" || v["PublishRetain"] == "1"}
}

// checkMQTT checks that MQTT.Reference names a Device.MQTT.Client row and
// that MQTT.PublishTopic is a Topic Name (no wildcards).
func (s *Service) checkMQTT(ctx context.Context, r *datamodel.Request) error {
	defer s.wake()
	if r.Op == datamodel.OpDelete {
		return nil
	}
	if ref := strings.TrimSuffix(r.Values["Reference"], "."); ref != "" {
		n, ok := strings.CutPrefix(ref, "Device.MQTT.Client.")
		if i, err := strconv.ParseUint(n, 10, 32); !ok || err != nil || i == 0 {
			return usperr.Errorf(usperr.CodeInvalidValue, "%sReference: %q is not a Device.MQTT.Client row", r.Path, r.Values["Reference"])
		}
	}
	if topic := r.Values["PublishTopic"]; strings.ContainsAny(topic, "+#\x00") {
		return usperr.Errorf(usperr.CodeInvalidValue, "%sPublishTopic: %q is not an MQTT Topic Name", r.Path, topic)
	}
	return nil
}

// sendMQTT publishes body on the profile's MQTT.PublishTopic through the
// MQTT client of MQTT.Reference, with its PublishQoS and PublishRetain
// (TR-181 Device.BulkData.Profile.{i}.MQTT). A failed publication is a
// failed transfer: the report is retained as NumberOfRetainedFailedReports
// says; there is no retry within the interval.
func (s *Service) sendMQTT(ctx context.Context, p *profile, body []byte) error {
	switch {
	case s.mqtt == nil:
		return errors.New("no MQTT client to publish with")
	case p.MQTT.Reference == "":
		return errors.New("MQTT.Reference is empty")
	case p.MQTT.Topic == "":
		return errors.New("MQTT.PublishTopic is empty")
	}
	ctype, _ := contentType(p.Encoding, p.JSON, p.CSV)
	err := s.mqtt.PublishMQTT(ctx, p.MQTT.Reference, MQTTMessage{Topic: p.MQTT.Topic, Payload: body, QoS: p.MQTT.QoS, Retain: p.MQTT.Retain, ContentType: ctype})
	if err != nil {
		return fmt.Errorf("publish through %s: %w", p.MQTT.Reference, err)
	}
	return nil
}
