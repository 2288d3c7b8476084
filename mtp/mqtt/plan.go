package mqtt

import (
	"errors"
	"slices"
)

// ErrNoTopic is returned by Serve when the Client has no "reply to" Topic
// to put in its PUBLISH packets [R-MQTT.22]: no Options.Topic, and on
// MQTT 5.0 neither a Response Information nor a "subscribe-topic" without
// wildcards in the CONNACK. The Client then disconnects and considers the
// MTP disabled [R-MQTT.16]: it closes.
var ErrNoTopic = errors.New("mqtt: no reply-to topic: neither Options.Topic nor the CONNACK gives one")

// userSubscribeTopic names a CONNACK User Property whose value is a Topic
// Filter to subscribe to [R-MQTT.15].
const userSubscribeTopic = "subscribe-topic"

// userEndpointID names the CONNECT User Property that carries the
// Endpoint ID [R-MQTT.13].
const userEndpointID = "usp-endpoint-id"

// grant is what an MQTT 5.0 CONNACK tells a USP endpoint.
type grant struct {
	// assignedID is the Assigned Client Identifier [R-MQTT.9].
	assignedID string
	// responseInfo is the Response Information [R-MQTT.12], the "reply
	// to" Topic to use [R-MQTT.21].
	responseInfo string
	// subscribeTopics are the values of the "subscribe-topic" User
	// Properties, in order [R-MQTT.15].
	subscribeTopics []string
	// maxPacket is the server's Maximum Packet Size; 0 means none.
	maxPacket uint32
}

// plan is what one connection subscribes to and answers on.
type plan struct {
	// replyTo is the "reply to" Topic put in every PUBLISH [R-MQTT.22].
	replyTo string
	// filters are the Topic Filters of the SUBSCRIBE, without
	// duplicates.
	filters []string
	// ignored are "subscribe-topic" values or a Response Information
	// that were not usable (not a valid filter or topic name).
	ignored []string
}

// makePlan decides the "reply to" Topic and the subscriptions of a
// connection from the Options and, on MQTT 5.0, the CONNACK's grant. It
// returns ErrNoTopic when there is no "reply to" Topic.
//
// The SUBSCRIBE holds, in this order [R-MQTT.15]: the configured
// Subscriptions; on MQTT 5.0 every "subscribe-topic" of the CONNACK; then
// the "reply to" Topic unless one of those filters already matches it. On
// MQTT 3.1.1 that last filter is Topic+"/#" (unless a filter matches names
// of the form Topic+"/reply-to=..."), so that PUBLISH Topic Names with a
// "/reply-to=" part [R-MQTT.24] reach us.
func makePlan(o *Options, g grant) (plan, error) {
	var p plan
	p.filters = append(p.filters, o.Subscriptions...)
	if o.Version == V311 {
		p.replyTo = o.Topic
		if p.replyTo == "" {
			return p, ErrNoTopic
		}
		if !covered(p.filters, ReplyTopic(p.replyTo, "x")) {
			p.filters = append(p.filters, p.replyTo+"/#")
		}
		return p.dedup(), nil
	}
	for _, f := range g.subscribeTopics {
		if validTopicFilter(f) {
			p.filters = append(p.filters, f)
		} else {
			p.ignored = append(p.ignored, f)
		}
	}
	switch {
	case validTopicName(g.responseInfo):
		p.replyTo = g.responseInfo // [R-MQTT.21]
	case o.Topic != "":
		if g.responseInfo != "" {
			p.ignored = append(p.ignored, g.responseInfo)
		}
		p.replyTo = o.Topic
	default:
		if g.responseInfo != "" {
			p.ignored = append(p.ignored, g.responseInfo)
		}
		for _, f := range g.subscribeTopics {
			if validTopicName(f) {
				p.replyTo = f
				break
			}
		}
	}
	if p.replyTo == "" {
		return p, ErrNoTopic // [R-MQTT.16]
	}
	if !covered(p.filters, p.replyTo) {
		p.filters = append(p.filters, p.replyTo)
	}
	return p.dedup(), nil
}

// dedup drops repeated filters, keeping the first of each.
func (p plan) dedup() plan {
	out := p.filters[:0]
	for _, f := range p.filters {
		if !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	p.filters = out
	return p
}
