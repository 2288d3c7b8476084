package e2e

import (
	"errors"
	"io"
	"net"
	"sync"
	"time"
)

// pipe is the in-memory net.Conn under a session's tls.Conn: what the
// peer's Records carry is fed in, what TLS writes is collected to go out
// in Records. The TLS goroutine blocks in Read while there is no input;
// settle waits for that moment, when all input has been consumed and
// all output written.
type pipe struct {
	mu      sync.Mutex
	cond    *sync.Cond
	in      []byte
	out     []byte
	waiting bool // the TLS goroutine waits in Read with no input
	done    bool // the TLS goroutine returned
	closed  bool
}

func newPipe() *pipe {
	p := &pipe{}
	p.cond = sync.NewCond(&p.mu)
	return p
}

// errOutput: TLS wrote more than a session may hold.
var errOutput = errors.New("e2e: TLS output over the message limit")

func (p *pipe) Read(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for len(p.in) == 0 {
		if p.closed {
			return 0, io.EOF
		}
		p.waiting = true
		p.cond.Broadcast()
		p.cond.Wait()
		p.waiting = false
	}
	n := copy(b, p.in)
	p.in = p.in[n:]
	if len(p.in) == 0 {
		p.in = nil
	}
	return n, nil
}

func (p *pipe) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return 0, net.ErrClosed
	}
	if len(p.out)+len(b) > DefaultMaxMessage {
		return 0, errOutput
	}
	p.out = append(p.out, b...)
	return len(b), nil
}

// feed hands the peer's TLS bytes to the TLS goroutine.
func (p *pipe) feed(b []byte) {
	p.mu.Lock()
	p.in = append(p.in, b...)
	p.cond.Broadcast()
	p.mu.Unlock()
}

// settle waits, at most d, until the TLS goroutine has consumed all input
// and waits for more, or has returned. It reports whether it did.
func (p *pipe) settle(d time.Duration) bool {
	timedOut := false
	t := time.AfterFunc(d, func() {
		p.mu.Lock()
		timedOut = true
		p.cond.Broadcast()
		p.mu.Unlock()
	})
	defer t.Stop()
	p.mu.Lock()
	defer p.mu.Unlock()
	for !(p.waiting && len(p.in) == 0) && !p.done && !timedOut {
		p.cond.Wait()
	}
	return !timedOut
}

// take returns and clears the output.
func (p *pipe) take() []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.out
	p.out = nil
	return out
}

func (p *pipe) finish() {
	p.mu.Lock()
	p.done = true
	p.cond.Broadcast()
	p.mu.Unlock()
}

func (p *pipe) Close() error {
	p.mu.Lock()
	p.closed = true
	p.cond.Broadcast()
	p.mu.Unlock()
	return nil
}

type pipeAddr struct{}

func (pipeAddr) Network() string { return "usp-record" }
func (pipeAddr) String() string  { return "usp-record" }

func (p *pipe) LocalAddr() net.Addr                { return pipeAddr{} }
func (p *pipe) RemoteAddr() net.Addr               { return pipeAddr{} }
func (p *pipe) SetDeadline(t time.Time) error      { return nil }
func (p *pipe) SetReadDeadline(t time.Time) error  { return nil }
func (p *pipe) SetWriteDeadline(t time.Time) error { return nil }
