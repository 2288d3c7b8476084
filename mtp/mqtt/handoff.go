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
// Client.HandOff: if it is still running handOffAfter later, a new
// goroutine takes over the reading, and the Handler's goroutine ends
// when the Handler returns.

// handOffAfter is how long a Handler that called HandOff runs before
// another goroutine takes over the reading.
const handOffAfter = 200 * time.Microsecond

// readerTurn is one reading goroutine's state.
type readerTurn struct {
	state atomic.Int32
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
// for a moment (a fraction of a millisecond): Records that arrive
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
func (s *conn) handOff() {
	if s.turn.Load().state.CompareAndSwap(turnInHandler, turnMayHandOver) {
		s.handOffTimer.Reset(handOffAfter)
	}
}

// handOverReading starts a new reader when the Handler that called
// handOff is still running.
func (s *conn) handOverReading() {
	t := s.turn.Load()
	if !t.state.CompareAndSwap(turnMayHandOver, turnHandedOver) {
		return // the Handler returned
	}
	next := &readerTurn{}
	s.turn.Store(next)
	go s.readLoop(next)
}
