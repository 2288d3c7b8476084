package ws

// MaxRecord returns the largest Record Send takes, Options.MaxRecord; it
// makes the Server an mtp.Limited.
func (s *Server) MaxRecord() int { return s.o.MaxRecord }

// MaxRecord returns the largest Record Send takes, Options.MaxRecord; it
// makes the Client an mtp.Limited.
func (c *Client) MaxRecord() int { return c.o.MaxRecord }
