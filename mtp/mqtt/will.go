package mqtt

import (
	paho "github.com/eclipse/paho.golang/paho"
)

// Will is a Record the broker publishes for the client when its
// connection ends without a DISCONNECT, as when the process dies or the
// network goes: an Agent leaves a Disconnect Record for its Controller
// there, so that the Controller learns at once that the Agent is gone
// [R-MTP.7]. It goes to Topic, with the client's own Topic (Options.Topic)
// as its reply-to, as a Send would, at QoS 1 and not retained. Only MQTT
// 3.1.1 clients leave it (see will5).
type Will struct {
	Topic  string
	Record []byte
}

// will5 fills the Will of an MQTT 5 CONNECT. The MQTT 5 client library
// drops a Will's Response Topic, and a broker that binds an Agent's
// reply-to to its login (the embedded one) refuses a Will without one, so
// an MQTT 5 client leaves no Will: the Controller learns of a dead MQTT 5
// Agent from unanswered requests instead.
func (c *Client) will5(*paho.Connect) {}

// will311Topic is the Topic Name of an MQTT 3.1.1 Will: Will.Topic with
// the client's reply-to Topic after "/reply-to=" [R-MQTT.24], as for any
// PUBLISH.
func (c *Client) will311Topic() string {
	if c.o.Topic == "" {
		return c.o.Will.Topic
	}
	return ReplyTopic(c.o.Will.Topic, c.o.Topic)
}
