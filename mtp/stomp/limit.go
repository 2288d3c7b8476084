package stomp

// MaxRecord returns the largest Record Send takes, Options.MaxRecord (a
// STOMP server states no limit); it makes the Client an mtp.Limited.
func (c *Client) MaxRecord() int { return c.o.MaxRecord }
