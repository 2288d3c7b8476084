package mqtt

// Will is a Record the broker publishes for the client when its
// connection ends without a DISCONNECT, as when the process dies or the
// network goes: an Agent leaves a Disconnect Record for its Controller
// there, so that the Controller learns at once that the Agent is gone
// [R-MTP.7]. It goes to Topic, with the client's own Topic (Options.Topic)
// as its reply-to, as a Send would, at QoS 1 and not retained. Only MQTT
// 3.1.1 clients leave it (see below).
type Will struct {
	Topic  string
	Record []byte
}

// An MQTT 5 client leaves no Will: a broker that binds an Agent's
// reply-to to its login (the embedded one) refuses a Will without a
// Response Topic, so the Controller learns of a dead MQTT 5 Agent from
// unanswered requests instead.

// will311Topic is the Topic Name of an MQTT 3.1.1 Will: Will.Topic with
// the client's reply-to Topic after "/reply-to=" [R-MQTT.24], as for any
// PUBLISH.
func (c *Client) will311Topic() string {
	if c.o.Topic == "" {
		return c.o.Will.Topic
	}
	return ReplyTopic(c.o.Will.Topic, c.o.Topic)
}
