package e2e_test

import (
	"testing"
	"time"

	"github.com/uspkit/uspkit/e2e"
	"github.com/uspkit/uspkit/record"
)

// BenchmarkTLSHandshake: a TLS12 session's handshake over Records, both
// sides (ECDHE P-256, ECDSA signatures of the handshake and of the
// Records carrying it).
func BenchmarkTLSHandshake(b *testing.B) {
	ca := newTestCA(b)
	cc, ac := ca.config(b, ctlID, time.Now().Add(time.Hour)), ca.config(b, agtID, time.Now().Add(time.Hour))
	b.ReportAllocs()
	for b.Loop() {
		ctl := e2e.NewSession(ctlID, agtID, 42, e2e.Config{Security: record.PayloadSecurityTLS12, TLS: cc})
		agt := e2e.AcceptSession(agtID, ctlID, 42, e2e.Config{Security: record.PayloadSecurityTLS12, TLS: ac})
		flight, _ := ctl.Send(nil, t0)
		for i := 0; len(flight) > 0; i++ {
			to := agt
			if i%2 == 1 {
				to = ctl
			}
			var next []*record.Record
			for _, r := range flight {
				got, err := to.Receive(r, t0)
				if err != nil {
					b.Fatal(err)
				}
				next = append(next, got.Send...)
			}
			flight = next
		}
		if !ctl.Established() || !agt.Established() {
			b.Fatal("not established")
		}
		ctl.Close()
		agt.Close()
	}
}

// BenchmarkTLSMsg: one 1 KiB Msg through an established TLS12 session
// (encryption, MAC, decryption, MAC check).
func BenchmarkTLSMsg(b *testing.B) {
	ca := newTestCA(b)
	cc, ac := ca.config(b, ctlID, time.Now().Add(time.Hour)), ca.config(b, agtID, time.Now().Add(time.Hour))
	ctl := e2e.NewSession(ctlID, agtID, 42, e2e.Config{Security: record.PayloadSecurityTLS12, TLS: cc, MaxRetransmit: -1})
	agt := e2e.AcceptSession(agtID, ctlID, 42, e2e.Config{Security: record.PayloadSecurityTLS12, TLS: ac})
	defer ctl.Close()
	defer agt.Close()
	flight, _ := ctl.Send(nil, t0)
	for i := 0; len(flight) > 0; i++ {
		to := agt
		if i%2 == 1 {
			to = ctl
		}
		var next []*record.Record
		for _, r := range flight {
			got, _ := to.Receive(r, t0)
			next = append(next, got.Send...)
		}
		flight = next
	}
	msg := make([]byte, 1024)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		recs, err := ctl.Send(msg, t0)
		if err != nil {
			b.Fatal(err)
		}
		got, err := agt.Receive(recs[0], t0)
		if err != nil || len(got.Msgs) != 1 {
			b.Fatal(err)
		}
		// Acknowledge, so that the Controller's outgoing buffer stays small.
		ack, _ := agt.Send(nil, t0)
		ctl.Receive(ack[0], t0)
	}
}
