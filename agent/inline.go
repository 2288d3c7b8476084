package agent

import (
	"context"
	"fmt"
	"runtime/debug"
	"strings"

	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/wire"
)

// Small reads on the transport's goroutine. Handing a request to a worker
// costs a goroutine wake-up, often on another thread, which for a Get of a
// parameter or two is most of the request's CPU time apart from the
// system calls. A read whose answer is a few parameter values, that no
// earlier request from its Controller holds back (order.go), is therefore
// answered by the goroutine of the transport that delivered it, as the
// request would be with Options.MaxConcurrent 1, when the transport can
// hand its reading over to another goroutine (handOffer, the MQTT client):
// once the request has its place in the order, the Agent lets it, so that
// a parameter whose handler is slow does not hold back the Records behind
// it, and Gets from one Controller still run at the same time. Requests
// that are likely to take long stay with the workers: object paths,
// wildcards and search expressions (a Get of "Device." or of a table),
// more than maxInlinePaths paths, every other message type, and every
// request while a USP Service is registered (its paths are answered by the
// Service, whose answer the transport's goroutine must stay free to read).

// maxInlinePaths is the most parameter paths a Get answered on the
// transport's goroutine may name.
const maxInlinePaths = 8

// smallRead reports whether req is a read cheap enough to answer on the
// transport's goroutine: GetSupportedProtocol, or a Get of at most
// maxInlinePaths full parameter paths without wildcards or search
// expressions.
func smallRead(req *wire.Request) bool {
	switch r := req.GetReqType().(type) {
	case *wire.Request_GetSupportedProtocol:
		return true
	case *wire.Request_Get:
		ps := r.Get.GetParamPaths()
		if len(ps) == 0 || len(ps) > maxInlinePaths {
			return false
		}
		for _, p := range ps {
			if p == "" || p[len(p)-1] == '.' || strings.ContainsAny(p, "*[{") {
				return false
			}
		}
		return true
	}
	return false
}

// noServices reports whether no USP Service has registered a path.
func (b *broker) noServices() bool {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return len(b.owner) == 0
}

// tryRead starts a read request from the Controller from if no request
// that may change something is in progress or waiting before it; nil
// when one is (the request then goes through acquire). endRead ends it.
func (o *orderer) tryRead(from string) *orderLock {
	o.mu.Lock()
	defer o.mu.Unlock()
	l := o.locks[from]
	if l == nil {
		l = &orderLock{}
	}
	// TryRLock fails while a writer holds the lock or waits for it: a
	// Set, Add, Delete or Operate received earlier goes first.
	if !l.rw.TryRLock() {
		return nil
	}
	if l.refs == 0 {
		o.locks[from] = l
	}
	l.refs++
	return l
}

// endRead ends a read request started by tryRead.
func (o *orderer) endRead(from string, l *orderLock) {
	l.rw.RUnlock()
	o.mu.Lock()
	if l.refs--; l.refs == 0 {
		delete(o.locks, from)
	}
	o.mu.Unlock()
}

// handOffer is a transport whose Handler may let the transport's reading
// go on in another goroutine if it runs long (mqtt.Client.HandOff).
type handOffer interface {
	HandOff()
}

// inline answers req on the calling (transport's) goroutine when it is a
// small read (smallRead) that may start now and t is a handOffer; false
// leaves it to the caller. The caller holds the read lock of netMu.
func (a *Agent) inline(ctx context.Context, protocol string, t mtp.Transport, addr, from string, msg *wire.Msg, req *wire.Request) bool {
	h, ok := t.(handOffer)
	if !ok || !smallRead(req) || !a.brk.noServices() {
		return false
	}
	l := a.order.tryRead(from)
	if l == nil {
		return false
	}
	defer a.order.endRead(from, l)
	// The slot first: while every slot is taken, the transport stops
	// reading, as it does for the requests handed to workers.
	a.slots <- struct{}{}
	defer func() { <-a.slots }()
	// The request has its place in the order: Records behind it may be
	// read, and handled, before it is answered.
	h.HandOff()
	defer func() {
		if v := recover(); v != nil {
			a.log.ErrorContext(ctx, "request processing panicked", "from", from, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
		}
	}()
	a.process(ctx, protocol, t, addr, from, msg)
	return true
}
