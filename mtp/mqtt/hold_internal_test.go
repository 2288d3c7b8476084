package mqtt

import (
	"net"
	"sync"
	"testing"
	"time"
)

// writeLog is a net.Conn that records each write.
type writeLog struct {
	net.Conn
	mu     sync.Mutex
	writes [][]byte
	at     []time.Time
}

func (w *writeLog) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.writes = append(w.writes, append([]byte(nil), b...))
	w.at = append(w.at, time.Now())
	return len(b), nil
}

func (w *writeLog) Close() error { return nil }

func (w *writeLog) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.writes)
}

// TestWriterHold checks packetWriter.hold: packets sent while held are
// not written until release, which writes them all in one write; without
// release they are written after ackDelay, so that an answer never waits
// long for a reader that is held up.
func TestWriterHold(t *testing.T) {
	t.Run("release", func(t *testing.T) {
		nc := &writeLog{}
		w := newPacketWriter(nc, func(error) {})
		defer w.stop()
		w.hold()
		for _, p := range []string{"a", "b", "c"} {
			b, err := w.begin()
			if err != nil {
				t.Fatal(err)
			}
			w.send(append(b, p...))
		}
		if n := nc.count(); n != 0 {
			t.Fatalf("%d writes while held, want 0", n)
		}
		w.release()
		if n := nc.count(); n != 1 || string(nc.writes[0]) != "abc" {
			t.Fatalf("after release: %d writes %q, want one of \"abc\"", n, nc.writes)
		}
	})
	t.Run("ackDelay", func(t *testing.T) {
		nc := &writeLog{}
		w := newPacketWriter(nc, func(error) {})
		defer w.stop()
		w.hold()
		b, _ := w.begin()
		start := time.Now()
		w.send(append(b, "answer"...))
		deadline := time.Now().Add(5 * time.Second)
		for nc.count() == 0 && time.Now().Before(deadline) {
			time.Sleep(100 * time.Microsecond)
		}
		if nc.count() != 1 {
			t.Fatalf("a held packet was not written within 5s")
		}
		if d := nc.at[0].Sub(start); d < ackDelay {
			t.Errorf("written after %v, before ackDelay %v", d, ackDelay)
		}
	})
	t.Run("flush", func(t *testing.T) {
		nc := &writeLog{}
		w := newPacketWriter(nc, func(error) {})
		defer w.stop()
		w.hold()
		b, _ := w.begin()
		w.out = append(b, "disconnect"...)
		w.mu.Unlock()
		if err := w.flush(true); err != nil || nc.count() != 1 {
			t.Fatalf("flush(true) while held: %v, %d writes; want the packet written", err, nc.count())
		}
	})
}
