package e2e

import (
	"testing"
	"time"

	"github.com/uspkit/uspkit/record"
)

// FuzzReceive drives one session with Records made from the fuzzer's
// bytes: arbitrary sequence, expected and retransmit ids, SAR states and
// payload sizes, and duplicates. Whatever arrives, the session never
// panics and never holds more than its Config allows.
func FuzzReceive(f *testing.F) {
	f.Add([]byte{1, 1, 0, 0, 0, 10, 2, 1, 0, 1, 1, 200, 3, 1, 0, 3, 3, 5})
	f.Add([]byte{4, 1, 0, 0, 0, 1, 2, 1, 0, 0, 0, 1, 3, 1, 0, 0, 0, 1, 1, 1, 0, 0, 0, 1})
	f.Add([]byte{1, 0, 9, 2, 2, 0})
	cfg := Config{MaxBuffered: 16, MaxMessage: 8 << 10, MaxRetransmit: 2}
	f.Fuzz(func(t *testing.T, data []byte) {
		s := NewSession("os::agent", "proto::ctl", 5, cfg)
		peer := NewSession("proto::ctl", "os::agent", 5, cfg)
		for range 4 { // something to retransmit
			s.Send([]byte("response"), time.Time{})
		}
		now := time.Unix(0, 0)
		for len(data) >= 6 {
			d := data[:6]
			data = data[6:]
			r := peer.header()
			r.Session.SequenceID = uint64(d[0])
			r.Session.ExpectedID = uint64(d[1])
			r.Session.RetransmitID = uint64(d[2] % 8)
			r.Session.PayloadSAR = record.SARState(d[3] % 5)
			r.Session.PayloadRecSAR = record.SARState(d[4] % 5)
			if d[5] > 0 {
				r.Session.Payload = [][]byte{make([]byte, int(d[5])*40)}
			}
			now = now.Add(time.Second)
			s.Receive(r, now)
			if len(s.in) > cfg.MaxBuffered || s.inBytes > cfg.MaxMessage || s.segBytes > cfg.MaxMessage {
				t.Fatalf("buffers past the limits: %d records, %d bytes, %d bytes reassembling", len(s.in), s.inBytes, s.segBytes)
			}
			if len(s.out) > 4 {
				t.Fatalf("%d records in the outgoing buffer, 4 sent", len(s.out))
			}
		}
	})
}
