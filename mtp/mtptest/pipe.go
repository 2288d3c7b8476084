package mtptest

import (
	"context"
	"fmt"
	"sync"

	"github.com/uspkit/uspkit/mtp"
)

// PipeQueue is how many Records a Pipe end buffers for its peer.
const PipeQueue = 1024

// Pipe is one end of an in-memory transport made by NewPipe. Records sent on
// one end are delivered, in order, to the Handler serving the other end; a
// Record sent before the other end serves waits in a queue of PipeQueue.
// Addresses are the ends' names: Send accepts only the peer's name.
type Pipe struct {
	name string
	in   chan []byte // records for this end
	peer *Pipe

	mu      sync.Mutex
	closed  bool
	done    chan struct{}
	onState mtp.StateFunc
}

// NewPipe returns two connected ends named a and b. onState, if not nil, is
// told when each end starts and stops serving.
func NewPipe(a, b string, onState mtp.StateFunc) (*Pipe, *Pipe) {
	pa := &Pipe{name: a, in: make(chan []byte, PipeQueue), done: make(chan struct{}), onState: onState}
	pb := &Pipe{name: b, in: make(chan []byte, PipeQueue), done: make(chan struct{}), onState: onState}
	pa.peer, pb.peer = pb, pa
	return pa, pb
}

// Name returns the end's address.
func (p *Pipe) Name() string { return p.name }

// Serve delivers the Records sent to this end until ctx is done or Close.
func (p *Pipe) Serve(ctx context.Context, h mtp.Handler) error {
	peer := mtp.Peer{Address: p.peer.name, EndpointID: p.peer.name}
	p.state(ctx, peer, mtp.StateUp, nil)
	defer p.state(ctx, peer, mtp.StateDown, ctx.Err())
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-p.done:
			return nil
		case rec := <-p.in:
			h.HandleRecord(ctx, mtp.Inbound{Record: rec, From: peer})
		}
	}
}

func (p *Pipe) state(ctx context.Context, peer mtp.Peer, s mtp.State, err error) {
	if p.onState != nil {
		p.onState(ctx, peer, s, err)
	}
}

// Send copies rec to the peer's queue.
func (p *Pipe) Send(ctx context.Context, addr string, rec []byte) error {
	if addr != p.peer.name {
		return fmt.Errorf("pipe %s: send to %q: %w", p.name, addr, mtp.ErrNoPeer)
	}
	p.mu.Lock()
	closed := p.closed
	p.mu.Unlock()
	if closed {
		return fmt.Errorf("pipe %s: %w", p.name, mtp.ErrClosed)
	}
	select {
	case <-p.peer.done:
		return fmt.Errorf("pipe %s: peer %w", p.name, mtp.ErrClosed)
	default:
	}
	cp := append([]byte(nil), rec...)
	select {
	case p.peer.in <- cp:
		return nil
	case <-p.peer.done:
		return fmt.Errorf("pipe %s: peer %w", p.name, mtp.ErrClosed)
	case <-ctx.Done():
		return ctx.Err()
	default:
		return fmt.Errorf("pipe %s: %w", p.name, mtp.ErrQueueFull)
	}
}

// Close stops this end; the peer's Sends fail with ErrClosed from then on.
func (p *Pipe) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.closed {
		p.closed = true
		close(p.done)
	}
	return nil
}

var _ mtp.Transport = (*Pipe)(nil)
