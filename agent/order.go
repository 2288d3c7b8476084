package agent

import (
	"sync"

	"github.com/uspkit/uspkit/wire"
)

// Requests from Controllers are processed concurrently where TR-369 lets
// them be, in this order:
//
//   - Requests from one Controller that only read (Get, GetInstances,
//     GetSupportedDM, GetSupportedProtocol) run at the same time as each
//     other. TR-369 lets responses come back in another order than the
//     requests went out: "Controllers can and should expect that Responses
//     may be received in a different order than that in which Requests
//     were made" (section "Example Message Flows" of Messages).
//   - A request that may change something (Set, Add, Delete, Operate, and
//     any other) waits until every earlier request from the same
//     Controller has been answered, and requests that arrive after it
//     wait until it has been answered. A Controller that sends a Set and
//     then a Get without waiting therefore reads what it wrote, and its
//     changes are applied in the order it sent them, as over one
//     connection processed one message at a time.
//   - Requests from different Controllers are not ordered with respect to
//     each other; the engine's own locking keeps each one atomic.
//
// The order is taken where the transport hands the Record over (each MTP
// delivers one connection's Records one at a time), so it is the order
// of arrival.

// isRead reports whether req only reads the data model.
func isRead(req *wire.Request) bool {
	switch req.GetReqType().(type) {
	case *wire.Request_Get, *wire.Request_GetInstances, *wire.Request_GetSupportedDm, *wire.Request_GetSupportedProtocol:
		return true
	}
	return false
}

// orderer holds one reader/writer lock per Controller with requests in
// progress. A lock is taken in arrival order by the goroutine that
// receives the Record and released by the goroutine that answers it.
type orderer struct {
	mu    sync.Mutex
	locks map[string]*orderLock
}

type orderLock struct {
	rw   sync.RWMutex
	refs int // requests holding or waiting for rw; the entry goes at 0
}

func newOrderer() *orderer { return &orderer{locks: map[string]*orderLock{}} }

// acquire waits until a request from the Controller from may start, as a
// reader or a writer, and returns the function that ends it.
func (o *orderer) acquire(from string, read bool) (release func()) {
	o.mu.Lock()
	l := o.locks[from]
	if l == nil {
		l = &orderLock{}
		o.locks[from] = l
	}
	l.refs++
	o.mu.Unlock()
	// sync.RWMutex: a waiting Lock holds back later RLocks, so requests
	// start in the order acquire is called.
	if read {
		l.rw.RLock()
	} else {
		l.rw.Lock()
	}
	return func() {
		if read {
			l.rw.RUnlock()
		} else {
			l.rw.Unlock()
		}
		o.mu.Lock()
		if l.refs--; l.refs == 0 {
			delete(o.locks, from)
		}
		o.mu.Unlock()
	}
}
