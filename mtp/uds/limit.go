package uds

// MaxRecord returns the largest Record Send takes, Options.MaxRecord; it
// makes the Server an mtp.Limited.
func (s *Server) MaxRecord() int { return s.cfg.MaxRecord }

// MaxRecord returns the largest Record Send takes, Options.MaxRecord; it
// makes the Client an mtp.Limited.
func (cl *Client) MaxRecord() int { return cl.cfg.MaxRecord }
