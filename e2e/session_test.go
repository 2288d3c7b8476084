package e2e_test

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/uspkit/uspkit/e2e"
	"github.com/uspkit/uspkit/record"
)

var t0 = time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)

// pair returns the two ends of one session.
func pair(cfg e2e.Config) (ctl, agt *e2e.Session) {
	return e2e.NewSession("proto::ctl", "os::agent", 42, cfg), e2e.NewSession("os::agent", "proto::ctl", 42, cfg)
}

// wireTrip encodes and decodes r, as an MTP would carry it, and checks its
// size against max when max > 0.
func wireTrip(t *testing.T, r *record.Record, max int) *record.Record {
	t.Helper()
	b, err := r.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if max > 0 && len(b) > max {
		t.Fatalf("record of %d bytes over the maximum %d", len(b), max)
	}
	var out record.Record
	if err := record.Decode(b, &out, nil); err != nil {
		t.Fatal(err)
	}
	return &out
}

func send(t *testing.T, s *e2e.Session, msg string) []*record.Record {
	t.Helper()
	recs, err := s.Send([]byte(msg), t0)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

func receive(t *testing.T, s *e2e.Session, r *record.Record) []string {
	t.Helper()
	got, err := s.Receive(wireTrip(t, r, 0), t0)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range got.Msgs {
		out = append(out, string(m))
	}
	return out
}

// TestSequenceIDs checks that Records are numbered from 1 up by one
// [R-E2E.14, R-E2E.15] and carry the next sequence_id expected from the
// peer [R-E2E.17].
func TestSequenceIDs(t *testing.T) {
	ctl, agt := pair(e2e.Config{})
	for i := uint64(1); i <= 3; i++ {
		r := send(t, ctl, "get")[0]
		if r.Session.SequenceID != i || r.Session.SessionID != 42 || r.Type != record.TypeSessionContext {
			t.Fatalf("record %d: %+v", i, r.Session)
		}
		receive(t, agt, r)
		resp := send(t, agt, "resp")[0]
		if resp.Session.SequenceID != i || resp.Session.ExpectedID != i+1 {
			t.Fatalf("response %d: sequence_id %d expected_id %d", i, resp.Session.SequenceID, resp.Session.ExpectedID)
		}
		receive(t, ctl, resp)
	}
}

// TestOutOfOrder follows TP-469 3.11: Records 1, 4, 2, 3 are processed as
// 1, then 2, then 3 and 4 together [R-E2E.20].
func TestOutOfOrder(t *testing.T) {
	ctl, agt := pair(e2e.Config{})
	recs := []*record.Record{send(t, ctl, "m1")[0], send(t, ctl, "m2")[0], send(t, ctl, "m3")[0], send(t, ctl, "m4")[0]}
	steps := []struct {
		rec  int
		want []string
	}{{0, []string{"m1"}}, {3, nil}, {1, []string{"m2"}}, {2, []string{"m3", "m4"}}}
	for _, st := range steps {
		got := receive(t, agt, recs[st.rec])
		if !equal(got, st.want) {
			t.Fatalf("after record %d: released %q, want %q", st.rec+1, got, st.want)
		}
	}
	if agt.Expected() != 5 {
		t.Fatalf("expected_id %d, want 5", agt.Expected())
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestDuplicatesIgnored: a Record seen before, processed or buffered, is
// ignored [R-E2E.25].
func TestDuplicatesIgnored(t *testing.T) {
	ctl, agt := pair(e2e.Config{})
	r1, r2, r3 := send(t, ctl, "a")[0], send(t, ctl, "b")[0], send(t, ctl, "c")[0]
	receive(t, agt, r1)
	if got := receive(t, agt, r1); got != nil {
		t.Fatalf("duplicate of a processed record released %q", got)
	}
	receive(t, agt, r3)
	receive(t, agt, r3)
	if got := receive(t, agt, r2); !equal(got, []string{"b", "c"}) {
		t.Fatalf("released %q, want b c once each", got)
	}
}

// TestRetransmit: a Record asked for by retransmit_id is sent again from
// the outgoing buffer (TP-469 3.12), at most MaxRetransmit times; one no
// longer buffered fails the session.
func TestRetransmit(t *testing.T) {
	ctl, agt := pair(e2e.Config{MaxRetransmit: 2})
	receive(t, agt, send(t, ctl, "get")[0])
	resp := send(t, agt, "getresp")[0]
	for i := 0; i < 2; i++ {
		ask := send(t, ctl, "")[0]
		ask.Session.RetransmitID = resp.Session.SequenceID
		got, err := agt.Receive(wireTrip(t, ask, 0), t0)
		if err != nil || len(got.Resend) != 1 {
			t.Fatalf("retransmit %d: %v, %d records", i+1, err, len(got.Resend))
		}
		if !bytes.Equal(got.Resend[0].Session.Payload[0], []byte("getresp")) || got.Resend[0].Session.SequenceID != resp.Session.SequenceID {
			t.Fatalf("retransmitted %+v", got.Resend[0].Session)
		}
	}
	ask := send(t, ctl, "")[0]
	ask.Session.RetransmitID = resp.Session.SequenceID
	if _, err := agt.Receive(wireTrip(t, ask, 0), t0); !errors.Is(err, e2e.ErrRetransmit) {
		t.Fatalf("third retransmission: %v, want ErrRetransmit", err)
	}
	ctl, agt = pair(e2e.Config{})
	ask = send(t, ctl, "")[0]
	ask.Session.RetransmitID = 99
	if _, err := agt.Receive(wireTrip(t, ask, 0), t0); !errors.Is(err, e2e.ErrRetransmit) {
		t.Fatalf("retransmission of an unknown record: %v, want ErrRetransmit", err)
	}
}

// TestOutgoingBufferCleared: Records the peer's expected_id has passed
// leave the outgoing buffer [R-E2E.16].
func TestOutgoingBufferCleared(t *testing.T) {
	ctl, agt := pair(e2e.Config{})
	for i := 0; i < 5; i++ {
		receive(t, ctl, send(t, agt, "notify")[0])
	}
	if agt.Outstanding() != 5 {
		t.Fatalf("%d outstanding before any acknowledgement, want 5", agt.Outstanding())
	}
	receive(t, agt, send(t, ctl, "")[0]) // expected_id 6
	if agt.Outstanding() != 0 {
		t.Fatalf("%d outstanding after expected_id 6, want 0", agt.Outstanding())
	}
}

// TestSegmentation sends Msgs larger than MaxRecordSize: every Record fits,
// the SAR states go BEGIN, INPROCESS…, COMPLETE on both fields, and the
// receiver rebuilds each Msg, also when the Records arrive shuffled.
func TestSegmentation(t *testing.T) {
	for _, tc := range []struct {
		name    string
		max     int
		size    int
		shuffle bool
	}{
		{"fits", 1024, 500, false},
		{"two", 1024, 1500, false},
		{"many", 300, 20000, false},
		{"many shuffled", 300, 20000, true},
		{"64KiB records, 1 MB message", 64 << 10, 1 << 20, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctl, agt := pair(e2e.Config{MaxRecordSize: tc.max})
			msg := make([]byte, tc.size)
			rnd := rand.New(rand.NewPCG(1, 2))
			for i := range msg {
				msg[i] = byte(rnd.Uint32())
			}
			recs, err := agt.Send(msg, t0)
			if err != nil {
				t.Fatal(err)
			}
			for i, r := range recs {
				want := record.SARStateNone
				if len(recs) > 1 {
					want = record.SARStateInProcess
					if i == 0 {
						want = record.SARStateBegin
					} else if i == len(recs)-1 {
						want = record.SARStateComplete
					}
				}
				if r.Session.PayloadSAR != want || r.Session.PayloadRecSAR != want {
					t.Fatalf("record %d of %d: SAR %d/%d, want %d", i, len(recs), r.Session.PayloadSAR, r.Session.PayloadRecSAR, want)
				}
			}
			if tc.shuffle {
				rnd.Shuffle(len(recs), func(i, j int) { recs[i], recs[j] = recs[j], recs[i] })
			}
			var out [][]byte
			for _, r := range recs {
				got, err := ctl.Receive(wireTrip(t, r, tc.max), t0)
				if err != nil {
					t.Fatal(err)
				}
				out = append(out, got.Msgs...)
			}
			if len(out) != 1 || !bytes.Equal(out[0], msg) {
				t.Fatalf("reassembled %d messages (%d records)", len(out), len(recs))
			}
		})
	}
}

// TestBadSegments: SAR states out of order fail the session.
func TestBadSegments(t *testing.T) {
	for _, tc := range []struct {
		name   string
		states []record.SARState
	}{
		{"in process without begin", []record.SARState{record.SARStateInProcess}},
		{"complete without begin", []record.SARState{record.SARStateComplete}},
		{"begin twice", []record.SARState{record.SARStateBegin, record.SARStateBegin}},
		{"none inside", []record.SARState{record.SARStateBegin, record.SARStateNone}},
		{"unknown state", []record.SARState{7}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctl, agt := pair(e2e.Config{})
			var err error
			for _, st := range tc.states {
				r := send(t, ctl, "x")[0]
				r.Session.PayloadSAR, r.Session.PayloadRecSAR = st, st
				if _, err = agt.Receive(r, t0); err != nil {
					break
				}
			}
			if !errors.Is(err, e2e.ErrBadSegment) {
				t.Fatalf("err = %v, want ErrBadSegment", err)
			}
		})
	}
}

// TestBounded: a peer that never sends the missing Record, or sends an
// endless segmented Msg, fills bounded buffers and fails the session.
func TestBounded(t *testing.T) {
	ctl, agt := pair(e2e.Config{MaxBuffered: 8, MaxMessage: 4096})
	send(t, ctl, "lost") // sequence_id 1 never arrives
	var err error
	for i := 0; i < 20 && err == nil; i++ {
		_, err = agt.Receive(send(t, ctl, "ahead")[0], t0)
	}
	if !errors.Is(err, e2e.ErrBufferFull) {
		t.Fatalf("err = %v, want ErrBufferFull", err)
	}
	ctl, agt = pair(e2e.Config{MaxMessage: 4096})
	r := send(t, ctl, string(make([]byte, 1000)))[0]
	r.Session.PayloadSAR, r.Session.PayloadRecSAR = record.SARStateBegin, record.SARStateBegin
	_, err = agt.Receive(r, t0)
	for i := 0; i < 10 && err == nil; i++ {
		r := send(t, ctl, string(make([]byte, 1000)))[0]
		r.Session.PayloadSAR, r.Session.PayloadRecSAR = record.SARStateInProcess, record.SARStateInProcess
		_, err = agt.Receive(r, t0)
	}
	if !errors.Is(err, e2e.ErrTooLarge) {
		t.Fatalf("err = %v, want ErrTooLarge", err)
	}
}

// TestSecurity: TLS12 is not offered, and a change of payload_security
// inside a session fails it [R-E2E.19].
func TestSecurity(t *testing.T) {
	ctl, agt := pair(e2e.Config{})
	r := send(t, ctl, "x")[0]
	r.PayloadSecurity = record.PayloadSecurityTLS12
	if _, err := agt.Receive(r, t0); !errors.Is(err, e2e.ErrUnsupportedSecurity) {
		t.Fatalf("TLS12: %v", err)
	}
}

func TestRecordSizeTooSmall(t *testing.T) {
	ctl, _ := pair(e2e.Config{MaxRecordSize: 20})
	if _, err := ctl.Send([]byte("hello"), t0); !errors.Is(err, e2e.ErrRecordSize) {
		t.Fatalf("err = %v, want ErrRecordSize", err)
	}
}

// TestBufferedRecordsCopied: an MTP may decode each Record into one buffer
// it reuses; a Record waiting out of order, or a segment waiting for the
// rest of its Msg, must not change when the next Record overwrites that
// buffer.
func TestBufferedRecordsCopied(t *testing.T) {
	for _, segmented := range []bool{false, true} {
		ctl, agt := pair(e2e.Config{})
		var recs []*record.Record
		if segmented {
			ctl, agt = pair(e2e.Config{MaxRecordSize: 200})
			var err error
			recs, err = ctl.Send(bytes.Repeat([]byte("A"), 500), t0)
			if err != nil {
				t.Fatal(err)
			}
		} else {
			r1, r2 := send(t, ctl, "msg-1")[0], send(t, ctl, "msg-2")[0]
			recs = []*record.Record{r2, r1} // 2 waits for 1
		}
		buf := make([]byte, 4096)
		var got [][]byte
		for i, r := range recs {
			b, _ := r.MarshalBinary()
			for j := range buf {
				buf[j] = byte(i) // the previous Record's bytes are gone
			}
			n := copy(buf, b)
			var dec record.Record
			if err := record.Decode(buf[:n], &dec, nil); err != nil {
				t.Fatal(err)
			}
			rel, err := agt.Receive(&dec, t0)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range rel.Msgs {
				got = append(got, bytes.Clone(m))
			}
		}
		want := []string{"msg-1", "msg-2"}
		if segmented {
			want = []string{strings.Repeat("A", 500)}
		}
		if len(got) != len(want) {
			t.Fatalf("segmented=%v: %d messages", segmented, len(got))
		}
		for i := range want {
			if string(got[i]) != want[i] {
				t.Fatalf("segmented=%v: message %d is %q, want %q", segmented, i, got[i], want[i])
			}
		}
	}
}
