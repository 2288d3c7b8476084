package controller

// subscriber is one reader of the Controller's events: its channel, and
// the channel that tells it it fell behind (nil for Subscribe).
type subscriber struct {
	ch  chan Event
	lag chan struct{}
}

// send gives e to the subscriber without waiting: a slow subscriber
// misses it rather than stall the Controller, and is told so on its lag
// channel when it has one.
func (s subscriber) send(e Event) {
	select {
	case s.ch <- e:
	default:
		if s.lag != nil {
			select {
			case s.lag <- struct{}{}:
			default: // already told
			}
		}
	}
}

// SubscribeLag is Subscribe for a reader that catches up from the events
// kept (EventsAfter) when it falls behind: lagged receives a value (at
// most one waits) whenever an event could not be put in the channel,
// which holds 256. Events may arrive out of Seq order by a few; a reader
// that keeps the highest Seq it passed on and catches up when an event
// is not the next one misses none that are kept.
func (c *Controller) SubscribeLag() (events <-chan Event, lagged <-chan struct{}, stop func()) {
	ch, lag := make(chan Event, 256), make(chan struct{}, 1)
	c.mu.Lock()
	c.subs[ch] = lag
	c.mu.Unlock()
	return ch, lag, func() {
		c.mu.Lock()
		delete(c.subs, ch)
		c.mu.Unlock()
	}
}

// EventsAfter is Events, with the Seq of the oldest event kept (of any
// Agent; 0 when none) and the newest Seq given out, so that a reader
// resuming after a Seq can tell whether events in between are no longer
// kept: those from after+1 to oldest-1.
func (c *Controller) EventsAfter(agent string, after uint64) (events []Event, oldest, newest uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	kept := c.retained()
	if len(kept) > 0 {
		oldest = kept[0].Seq
	}
	for _, e := range kept {
		if e.Seq > after && (agent == "" || e.Agent == agent) {
			events = append(events, e)
		}
	}
	return events, oldest, c.seq
}
