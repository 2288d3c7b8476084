package mqtt

import (
	"errors"
	"sync/atomic"
	"time"
)

// Handing the reading over. A connection's reader calls the Handler itself,
// so a Handler that runs long holds back every packet behind its Record,
// and a Handler that keeps Records in their order of arrival depends on
// that. One that has taken its Record's place in its own order may call
// Client.HandOff: if it is still running handOffAfter later (handOffIdle
// when no packet was waiting behind its Record), a new goroutine takes
// over the reading, and the Handler's goroutine ends when the Handler
// returns.

// handOffAfter is how long a Handler that called HandOff runs before
// another goroutine takes over the reading, when more packets had already
// arrived behind its Record; handOffIdle when none had: Records that come
// later wait a little longer, and the hand-over timer fires less often
// (see handOff).
const (
	handOffAfter = 200 * time.Microsecond
	handOffIdle  = time.Millisecond
)

// readerTurn is one reading goroutine's state.
type readerTurn struct {
	state  atomic.Int32
	queued atomic.Bool  // packets were read behind the Record in the Handler
	due    atomic.Int64 // when its Handler hands over, on the conn's clock
}

const (
	turnReading     = iota // reading packets
	turnInHandler          // in the Handler
	turnMayHandOver        // in the Handler, which called HandOff
	turnHandedOver         // in the Handler; another goroutine reads
)

// errHandedOver ends a reader that handed the reading over.
var errHandedOver = errors.New("mqtt: reading handed over")

// HandOff lets the goroutine that reads the current connection go on
// reading without the Handler that calls it, once that Handler has run
// for a moment (a fraction of a millisecond when Records were already
// waiting behind its own, a millisecond otherwise): Records that arrive
// meanwhile may be handed to the Handler before it returns. It is for a
// Handler that answers a Record where it gets it but has already taken
// that Record's place in whatever order it keeps, so that a slow answer
// does not hold back the Records behind it. It must be called from the
// Handler, on the goroutine the Client called it on; called from
// anywhere else it may hand the reading over early, which only costs a
// goroutine.
func (c *Client) HandOff() {
	c.mu.Lock()
	s, ok := c.cur.(*conn)
	c.mu.Unlock()
	if ok {
		s.handOff()
	}
}

// handOff arms the hand-over of the reader's turn if its Handler runs for
// handOffAfter.
//
// The timer is not set and stopped for each Handler: setting a timer
// earlier than every other one wakes a sleeping thread of the runtime to
// take it into account, and a stopped timer still wakes one at its old
// time. It is set when no hand-over check is pending, is left running
// when the Handler returns, and when it fires it hands over, waits for
// the rest of the current Handler's handOffAfter, or ends: one timer per
// handOffAfter at most, whatever the rate of Records.
func (s *conn) handOff() {
	t := s.turn.Load()
	after := handOffIdle
	if t.queued.Load() {
		after = handOffAfter
	}
	t.due.Store(s.now() + int64(after))
	if t.state.CompareAndSwap(turnInHandler, turnMayHandOver) && s.handOffArmed.CompareAndSwap(false, true) {
		s.handOffTimer.Reset(after)
	}
}

// now is the time on the connection's monotonic clock.
func (s *conn) now() int64 { return int64(time.Since(s.epoch)) }

// handOverReading, when the hand-over timer fires, starts a new reader if
// the Handler that called handOff is due to hand over, or sets the timer
// again for when it will be.
func (s *conn) handOverReading() {
	s.handOffArmed.Store(false)
	t := s.turn.Load()
	if t.state.Load() != turnMayHandOver {
		return // the Handler returned; the next one sets the timer
	}
	if wait := time.Duration(t.due.Load() - s.now()); wait > 0 {
		if s.handOffArmed.CompareAndSwap(false, true) {
			s.handOffTimer.Reset(wait)
		}
		return
	}
	if !t.state.CompareAndSwap(turnMayHandOver, turnHandedOver) {
		return // the Handler returned
	}
	next := &readerTurn{}
	s.turn.Store(next)
	go s.readLoop(next)
}
