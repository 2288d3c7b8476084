package agent

import (
	"context"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/wire"
)

// workerIdle is how long a goroutine that processed a request waits for
// the next one before it ends. Reusing goroutines spares each request a
// new goroutine's stack growth; ending them keeps an idle Agent without
// them.
const workerIdle = 2 * time.Second

// job is one request handed from a transport's goroutine to a worker. The
// worker owns one of a.slots and the read lock of a.netMu, and calls
// release to end the request's place in its Controller's order.
type job struct {
	ctx      context.Context
	protocol string
	t        mtp.Transport
	addr     string
	from     string
	msg      *wire.Msg
	release  func()
}

// start1 hands j to an idle worker, or to a new one.
func (a *Agent) start1(j *job) {
	select {
	case a.jobs <- j:
		return
	default:
	}
	a.wg.Add(1)
	go a.worker(j)
}

// worker processes j, then the jobs it is handed until it has been idle
// for workerIdle or the Agent stops.
func (a *Agent) worker(j *job) {
	defer a.wg.Done()
	idle := time.NewTimer(workerIdle)
	defer idle.Stop()
	for {
		a.runJob(j)
		idle.Reset(workerIdle)
		select {
		case j = <-a.jobs:
		case <-idle.C:
			return
		case <-a.stopping:
			return
		}
	}
}

// runJob processes one request and gives back what it held.
func (a *Agent) runJob(j *job) {
	defer a.netMu.RUnlock()
	defer func() { <-a.slots }()
	defer j.release()
	defer func() {
		if v := recover(); v != nil {
			a.log.ErrorContext(j.ctx, "request processing panicked", "from", j.from, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
		}
	}()
	a.process(j.ctx, j.protocol, j.t, j.addr, j.from, j.msg)
}
