//go:build !usp_nobulk

package cli

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/uspkit/uspkit/mtp/mqtt"
	"github.com/uspkit/uspkit/tr181/bulkdata"
)

// mqttClients are the MQTT clients the dialer opened, by their
// Device.MQTT.Client row: Bulk Data profiles with Protocol "MQTT" publish
// their reports through them (bulkdata.MQTTPublisher). The zero
// mqttClients is empty and usable.
//
// A report goes out with the client's Publish: at the profile's
// MQTT.PublishQoS, lowered to the server's Maximum QoS, with RETAIN when
// MQTT.PublishRetain is true unless the server said Retain Available = 0,
// and the report's media type as Content Type on MQTT 5.0 (TR-181
// Device.BulkData.Profile.{i}.MQTT). MQTT 5.0 and 3.1.1 clients publish
// reports alike: the topic is MQTT.PublishTopic as it is, without the
// "reply to" of USP Records.
type mqttClients struct {
	mu sync.Mutex
	m  map[string]mqttClient // by row, without the trailing dot
}

type mqttClient struct {
	c *mqtt.Client
}

// add records c, of either MQTT version, as the connection of the
// Device.MQTT.Client row ("Device.MQTT.Client.1.").
func (r *mqttClients) add(row string, c *mqtt.Client, _ bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		r.m = map[string]mqttClient{}
	}
	r.m[strings.TrimSuffix(row, ".")] = mqttClient{c: c}
}

// MQTTAvailable reports whether an MQTT client was opened.
func (r *mqttClients) MQTTAvailable() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.m) > 0
}

// PublishMQTT publishes m through the client of the row client.
func (r *mqttClients) PublishMQTT(ctx context.Context, client string, m bulkdata.MQTTMessage) error {
	r.mu.Lock()
	c, ok := r.m[strings.TrimSuffix(client, ".")]
	r.mu.Unlock()
	if !ok {
		return fmt.Errorf("%s has no connection (no Device.LocalAgent.MTP uses it)", client)
	}
	if err := c.c.Publish(ctx, mqtt.Message{Topic: m.Topic, Payload: m.Payload, QoS: mqtt.QoS(m.QoS + 1), Retain: m.Retain, ContentType: m.ContentType}); err != nil {
		return fmt.Errorf("mqtt: %w", err)
	}
	return nil
}
