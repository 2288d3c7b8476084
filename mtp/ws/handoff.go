package ws

import (
	"errors"
	"sync/atomic"
	"time"
)

// Handing the reading over. A connection's reader calls the Handler
// itself, so a Handler that runs long holds back every Record behind its
// own, and a Handler that keeps Records in their order of arrival depends
// on that. One that has taken its Record's place in its own order may call
// Client.HandOff or Server.HandOff: if it is still running handOffAfter
// later, a new goroutine takes over the reading, and the Handler's
// goroutine ends when the Handler returns. A Handler that answers where it
// gets its Record (a small read) thus costs no goroutine hand-off, and a
// slow one still lets the Records behind it in.

// handOffAfter is how long a Handler that called HandOff runs before
// another goroutine takes over the reading. Unlike the MQTT client, the
// WebSocket library does not tell whether more messages already wait in
// its buffer, so there is one delay.
const handOffAfter = time.Millisecond

// readerTurn is one reading goroutine's state.
type readerTurn struct {
	state atomic.Int32
	due   atomic.Int64 // when its Handler hands over, on the link's clock

	// buf is the turn's read buffer: a Record handed to a Handler that
	// is still running after the reading was handed over stays its own.
	buf []byte
	// rejected says why the Handler rejected the Record (mtp.Inbound.
	// Reject); reject sets it. Only the turn's goroutine touches them.
	rejected string
	reject   func(string)
}

const (
	turnReading     = iota // reading a message
	turnInHandler          // in the Handler
	turnMayHandOver        // in the Handler, which called HandOff
	turnHandedOver         // in the Handler; another goroutine reads
)

// errHandedOver ends a reader that handed the reading over.
var errHandedOver = errors.New("ws: reading handed over")

func newTurn() *readerTurn {
	t := &readerTurn{}
	t.reject = func(reason string) {
		if reason == "" {
			reason = "USP Record cannot be extracted"
		}
		t.rejected = reason
	}
	return t
}

// inHandler reports whether the link's reader is in the Handler.
func (l *link) inHandler() bool {
	st := l.turn.Load().state.Load()
	return st == turnInHandler || st == turnMayHandOver
}

// handOff arms the hand-over of the reader's turn if its Handler runs for
// handOffAfter.
//
// The timer is not set and stopped for each Handler: setting a timer
// earlier than every other one wakes a sleeping thread of the runtime to
// take it into account, and a stopped timer still wakes one at its old
// time. It is set when no hand-over check is pending, is left running
// when the Handler returns, and when it fires it hands over, waits for the
// rest of the current Handler's handOffAfter, or ends: one timer per
// handOffAfter at most, whatever the rate of Records.
func (l *link) handOff() {
	t := l.turn.Load()
	t.due.Store(l.now() + int64(handOffAfter))
	if t.state.CompareAndSwap(turnInHandler, turnMayHandOver) && l.handOffArmed.CompareAndSwap(false, true) {
		l.handOffTimer.Reset(handOffAfter)
	}
}

// now is the time on the link's monotonic clock.
func (l *link) now() int64 { return int64(time.Since(l.epoch)) }

// handOverReading, when the hand-over timer fires, starts a new reader if
// the Handler that called handOff is due to hand over, or sets the timer
// again for when it will be.
func (l *link) handOverReading() {
	l.handOffArmed.Store(false)
	t := l.turn.Load()
	if t.state.Load() != turnMayHandOver {
		return // the Handler returned; the next one sets the timer
	}
	if wait := time.Duration(t.due.Load() - l.now()); wait > 0 {
		if l.handOffArmed.CompareAndSwap(false, true) {
			l.handOffTimer.Reset(wait)
		}
		return
	}
	if !t.state.CompareAndSwap(turnMayHandOver, turnHandedOver) {
		return // the Handler returned
	}
	next := newTurn()
	l.turn.Store(next)
	if l.cork != nil {
		l.cork.flush() // what the Handler wrote so far leaves now
	}
	go func() {
		// The reader that ends the connection reports it to serve.
		if err := l.readLoop(next); err != errHandedOver {
			l.readEnd <- err
		}
	}()
}

// HandOff lets the goroutine that reads the current connection go on
// reading without the Handler that calls it, once that Handler has run for
// handOffAfter: Records that arrive meanwhile may be handed to the Handler
// before it returns. It is for a Handler that answers a Record where it
// gets it but has already taken that Record's place in whatever order it
// keeps, so that a slow answer does not hold back the Records behind it.
// It must be called from the Handler, on the goroutine the Client called
// it on; called from anywhere else it may hand the reading over early,
// which only costs a goroutine.
func (c *Client) HandOff() {
	c.mu.Lock()
	l := c.cur
	c.mu.Unlock()
	if l != nil {
		l.handOff()
	}
}

// HandOff is Client.HandOff for the connection whose Handler calls it.
// The Server finds that connection as the one whose reader is in the
// Handler; while several are, it cannot tell which one called and hands
// nothing over (their Handlers then hold back their own connections'
// Records until they return, as without HandOff).
func (s *Server) HandOff() {
	var found *link
	s.mu.Lock()
	for l := range s.live {
		if l.inHandler() {
			if found != nil {
				s.mu.Unlock()
				return
			}
			found = l
		}
	}
	s.mu.Unlock()
	if found != nil {
		found.handOff()
	}
}
