package mqtt

import "github.com/eclipse/paho.golang/paho"

// Unexported helpers, for the tests of package mqtt_test.
var (
	MatchFilter      = matchFilter
	ValidTopicName   = validTopicName
	ValidTopicFilter = validTopicFilter
)

// PlanOf returns the "reply to" Topic and the SUBSCRIBE filters of a
// connection with o after the CONNACK ack (nil for none, or MQTT 3.1.1).
func PlanOf(o *Options, ack *paho.Connack) (replyTo string, filters []string, err error) {
	c := o.withDefaults()
	var g grant
	if ack != nil && ack.Properties != nil {
		pr := ack.Properties
		g = grant{assignedID: pr.AssignedClientID, responseInfo: pr.ResponseInfo,
			subscribeTopics: pr.User.GetAll(userSubscribeTopic)}
		if pr.MaximumPacketSize != nil {
			g.maxPacket = *pr.MaximumPacketSize
		}
	}
	p, err := makePlan(&c, g)
	return p.replyTo, p.filters, err
}
