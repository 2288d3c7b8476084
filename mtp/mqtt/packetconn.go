package mqtt

import (
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// packetWriter writes a connection's packets. Each packet is appended to
// one buffer and leaves in one write (a system call, a TLS record, a
// WebSocket message) with whatever other packets were appended while the
// previous write was under way: the goroutine that finds no write under
// way writes, the others only append. Acknowledgements of received
// PUBLISH packets wait, up to ackDelay, to leave with the next packet,
// typically the answer to the Record they acknowledge.
//
// While the connection's reader handles packets that arrived together
// (hold), the packets sent meanwhile wait for it to have handled the last
// of them (release), or for ackDelay: the answers to several requests
// read in one system call leave in one write.
//
// A failed write is passed to fail and closes the connection, which ends
// every call waiting on it; later packets are refused.
type packetWriter struct {
	nc   net.Conn
	fail func(error)

	mu       sync.Mutex
	idle     sync.Cond // signalled when a write ends; uses mu
	out      []byte    // packets waiting to be written
	spare    []byte    // the other buffer, while out is written
	writing  bool      // a goroutine is writing
	err      error     // the first write error
	acks     bool      // out holds packets waiting for ackTimer or release
	ackDue   time.Time // when the oldest of those must leave
	ackArmed bool      // ackTimer is set, or firing
	held     bool      // hold was called: writes wait for release
	ackTimer *time.Timer

	writes atomic.Uint64 // writes done, for the keep-alive
}

// ackDelay is the longest an acknowledgement of a received PUBLISH waits
// for another packet to leave with.
const ackDelay = time.Millisecond

func newPacketWriter(nc net.Conn, fail func(error)) *packetWriter {
	w := &packetWriter{nc: nc, fail: fail}
	w.idle.L = &w.mu
	w.ackTimer = time.AfterFunc(time.Hour, w.ackTimeout)
	w.ackTimer.Stop()
	return w
}

// waitAcks marks the packets in w.out as waiting, up to ackDelay, for a
// write; w.mu is held.
//
// ackTimer is not set and stopped for each packet: setting a timer
// earlier than every other one wakes a sleeping thread of the runtime,
// and a stopped timer still wakes one at its old time. It is set when it
// is not already, is left running when a write takes the packets, and
// when it fires it writes what is due, sets itself again for what is
// not, or ends: one timer per ackDelay at most, whatever the rate of
// packets.
func (w *packetWriter) waitAcks() {
	if w.acks {
		return
	}
	w.acks = true
	w.ackDue = time.Now().Add(ackDelay)
	if !w.ackArmed {
		w.ackArmed = true
		w.ackTimer.Reset(ackDelay)
	}
}

// ackTimeout is ackTimer's function: it writes the waiting packets once
// they are due.
func (w *packetWriter) ackTimeout() {
	w.mu.Lock()
	w.ackArmed = false
	if !w.acks {
		w.mu.Unlock()
		return
	}
	if wait := time.Until(w.ackDue); wait > 0 {
		w.ackArmed = true
		w.ackTimer.Reset(wait)
		w.mu.Unlock()
		return
	}
	w.write(true)
}

// begin starts a packet: it returns the buffer to append it to, with
// w.mu held, or the first write error (w.mu not held).
func (w *packetWriter) begin() ([]byte, error) {
	w.mu.Lock()
	if w.err != nil {
		err := w.err
		w.mu.Unlock()
		return nil, err
	}
	return w.out, nil
}

// send ends a packet started with begin, b being the buffer with the
// packet appended, and writes it unless another goroutine is writing (it
// then leaves with that goroutine's next write).
func (w *packetWriter) send(b []byte) {
	w.out = b
	w.write(false)
}

// queue ends a packet started with begin without writing it: the caller
// then calls kick, perhaps after releasing a lock that keeps packets in
// their order in the buffer.
func (w *packetWriter) queue(b []byte) {
	w.out = b
	w.mu.Unlock()
}

// kick writes what is waiting unless another goroutine is writing.
func (w *packetWriter) kick() {
	w.mu.Lock()
	w.write(false)
}

// hold makes packets sent from now on wait for release, or at most
// ackDelay, before they are written.
func (w *packetWriter) hold() {
	w.mu.Lock()
	w.held = true
	w.mu.Unlock()
}

// release ends hold and writes what waits.
func (w *packetWriter) release() {
	w.mu.Lock()
	w.held = false
	w.write(false)
}

// sendAck ends an acknowledgement started with begin: it leaves with the
// next packet sent, or after ackDelay.
func (w *packetWriter) sendAck(b []byte) {
	w.out = b
	w.waitAcks()
	w.mu.Unlock()
}

// flush writes what is waiting; with wait, it returns only once it is
// written or the connection has failed.
func (w *packetWriter) flush(wait bool) error {
	w.mu.Lock()
	if wait {
		for w.writing && w.err == nil {
			w.idle.Wait()
		}
	}
	w.write(true)
	if !wait {
		return nil
	}
	w.mu.Lock()
	for w.writing && w.err == nil {
		w.idle.Wait()
	}
	err := w.err
	w.mu.Unlock()
	return err
}

// write writes w.out, and what is appended meanwhile, unless another
// goroutine is writing or, without force, the writer is held; w.mu is
// held and is released.
func (w *packetWriter) write(force bool) {
	if w.writing || w.err != nil || len(w.out) == 0 {
		w.mu.Unlock()
		return
	}
	if w.held && !force {
		w.waitAcks()
		w.mu.Unlock()
		return
	}
	w.writing = true
	w.acks = false // ackTimer, if set, finds nothing due
	for len(w.out) > 0 {
		buf := w.out
		w.out = w.spare[:0]
		w.spare = nil
		w.mu.Unlock()
		_, err := w.nc.Write(buf)
		w.writes.Add(1)
		w.mu.Lock()
		if cap(buf) <= keepBuf {
			w.spare = buf[:0]
		}
		if err != nil {
			w.err = err
			w.writing = false
			w.out = nil
			w.idle.Broadcast()
			w.mu.Unlock()
			w.fail(err)
			w.nc.Close()
			return
		}
		w.acks = false
	}
	w.writing = false
	w.idle.Broadcast()
	w.mu.Unlock()
}

// stop stops the acknowledgement timer.
func (w *packetWriter) stop() { w.ackTimer.Stop() }
