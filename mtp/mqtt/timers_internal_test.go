package mqtt

import (
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/uspkit/uspkit/mtp"
)

// TestAckTimerLeftRunning checks an acknowledgement queued while the
// acknowledgement timer is still set for an earlier one that already
// left: it is not written before its own ackDelay, and is written soon
// after it [R-MQTT.20].
func TestAckTimerLeftRunning(t *testing.T) {
	nc := &writeLog{}
	w := newPacketWriter(nc, func(error) {})
	defer w.stop()
	b, _ := w.begin()
	w.sendAck(append(b, "ack1"...))
	b, _ = w.begin()
	w.send(append(b, "answer1"...)) // takes ack1; the timer stays set
	if n := nc.count(); n != 1 {
		t.Fatalf("%d writes, want 1", n)
	}
	time.Sleep(ackDelay / 2)
	b, _ = w.begin()
	start := time.Now()
	w.sendAck(append(b, "ack2"...))
	deadline := time.Now().Add(5 * time.Second)
	for nc.count() < 2 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Microsecond)
	}
	if nc.count() != 2 || string(nc.writes[1]) != "ack2" {
		t.Fatalf("writes %q, want ack2 written alone within 5s", nc.writes)
	}
	if d := nc.at[1].Sub(start); d < ackDelay {
		t.Errorf("ack2 written after %v, before its ackDelay %v", d, ackDelay)
	}
}

// TestHandOffTimer checks the hand-over timer's decisions: a Handler not
// yet due sets it again, one that is due hands the reading over, and with
// no Handler waiting the timer ends.
func TestHandOffTimer(t *testing.T) {
	tests := []struct {
		name      string
		state     int32
		due       time.Duration // from now
		handOver  bool
		armedThen bool
	}{
		{"Handler returned", turnReading, 0, false, false},
		{"Handler without HandOff", turnInHandler, 0, false, false},
		{"not yet due", turnMayHandOver, time.Hour, false, true},
		{"due", turnMayHandOver, -time.Microsecond, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := (&Options{}).withDefaults()
			nc, peer := net.Pipe()
			defer peer.Close()
			l := newLink(&o, slog.New(slog.DiscardHandler), nc, mtp.Peer{}, func(mtp.Inbound) {})
			s := newConn(&Client{o: o}, l)
			defer s.w.stop()
			defer s.handOffTimer.Stop()
			t0 := s.turn.Load()
			t0.state.Store(tt.state)
			t0.due.Store(s.now() + int64(tt.due))
			s.handOffArmed.Store(true) // as when the timer fires
			s.handOverReading()
			if handedOver := s.turn.Load() != t0; handedOver != tt.handOver {
				t.Errorf("handed over: %v, want %v", handedOver, tt.handOver)
			}
			if tt.handOver {
				if t0.state.Load() != turnHandedOver {
					t.Errorf("state %d, want turnHandedOver", t0.state.Load())
				}
				// The new reader ends with the connection.
				nc.Close()
				select {
				case <-s.readerDone:
				case <-time.After(5 * time.Second):
					t.Fatal("the new reader did not end with the connection")
				}
			}
			if armed := s.handOffArmed.Load(); armed != tt.armedThen {
				t.Errorf("timer set: %v, want %v", armed, tt.armedThen)
			}
		})
	}
}

// BenchmarkHandlerTimers is what the reader and a Handler answering
// inline do with the timers for each Record: the acknowledgement queued,
// HandOff, the answer written, the Handler's return.
func BenchmarkHandlerTimers(b *testing.B) {
	o := (&Options{}).withDefaults()
	nc, peer := net.Pipe()
	defer peer.Close()
	l := newLink(&o, slog.New(slog.DiscardHandler), nc, mtp.Peer{}, func(mtp.Inbound) {})
	s := newConn(&Client{o: o}, l)
	s.w = newPacketWriter(discardConn{}, func(error) {}) // a write costs nothing
	t := s.turn.Load()
	defer func() {
		s.w.stop()
		s.handOffTimer.Stop()
		nc.Close()
		if s.turn.Load() != t { // the timer handed the reading over
			<-s.readerDone
		}
	}()
	b.ReportAllocs()
	for b.Loop() {
		buf, _ := s.w.begin()
		s.w.sendAck(appendAck(buf, typePuback, 1))
		t.state.Store(turnInHandler)
		s.handOff()
		buf, _ = s.w.begin()
		s.w.send(append(buf, "answer"...))
		if !t.state.CompareAndSwap(turnInHandler, turnReading) {
			t.state.CompareAndSwap(turnMayHandOver, turnReading)
		}
	}
}
