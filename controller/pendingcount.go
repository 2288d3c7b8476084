package controller

// countPendingLocked keeps c.nPending, the number of Agents waiting for
// approval, as an Agent's Pending goes from was to is (false to false
// when an Agent is added or removed that does not wait). It lets
// admitLocked apply MaxPending without looking at every Agent; c.mu is
// held.
func (c *Controller) countPendingLocked(was, is bool) {
	switch {
	case was && !is:
		c.nPending--
	case !was && is:
		c.nPending++
	}
}
