package mqtt

import "github.com/eclipse/paho.golang/paho"

// Unexported helpers, for the tests of package mqtt_test.
var (
	MatchFilter      = matchFilter
	ValidTopicName   = validTopicName
	ValidTopicFilter = validTopicFilter
)

// Writes returns how many writes the Client's current connection has made,
// or -1 while it has none.
func Writes(c *Client) int64 {
	c.mu.Lock()
	s, ok := c.cur.(*conn)
	c.mu.Unlock()
	if !ok {
		return -1
	}
	return int64(s.w.writes.Load())
}

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
