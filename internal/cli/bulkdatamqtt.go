//go:build !usp_nobulk

package cli

import (
	"context"
	"errors"
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
// and the report's media type as Content Type (TR-181
// Device.BulkData.Profile.{i}.MQTT). Only MQTT 5.0 clients publish
// reports.
type mqttClients struct {
	mu sync.Mutex
	m  map[string]mqttClient // by row, without the trailing dot
}

type mqttClient struct {
	c    *mqtt.Client
	v311 bool
}

// add records c as the connection of the Device.MQTT.Client row ("Device.MQTT.Client.1.").
func (r *mqttClients) add(row string, c *mqtt.Client, v311 bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		r.m = map[string]mqttClient{}
	}
	r.m[strings.TrimSuffix(row, ".")] = mqttClient{c: c, v311: v311}
}

// MQTTAvailable reports whether an MQTT 5.0 client was opened.
func (r *mqttClients) MQTTAvailable() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.m {
		if !c.v311 {
			return true
		}
	}
	return false
}

// PublishMQTT publishes m through the client of the row client.
func (r *mqttClients) PublishMQTT(ctx context.Context, client string, m bulkdata.MQTTMessage) error {
	r.mu.Lock()
	c, ok := r.m[strings.TrimSuffix(client, ".")]
	r.mu.Unlock()
	switch {
	case !ok:
		return fmt.Errorf("%s has no connection (no Device.LocalAgent.MTP uses it)", client)
	case c.v311:
		return errors.New("MQTT 3.1.1 clients do not publish bulk data (the topic would carry the reply-to suffix)")
	}
	if err := c.c.Publish(ctx, mqtt.Message{Topic: m.Topic, Payload: m.Payload, QoS: mqtt.QoS(m.QoS + 1), Retain: m.Retain, ContentType: m.ContentType}); err != nil {
		return fmt.Errorf("mqtt: %w", err)
	}
	return nil
}
