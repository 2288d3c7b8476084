package stomp_test

import (
	"context"
	"crypto/x509"
	"errors"
	"github.com/uspkit/uspkit/internal/testenv"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/mtp/mtptest"
	"github.com/uspkit/uspkit/mtp/stomp"
)

// TestSuite runs the MTP behaviour suite over RabbitMQ's STOMP plugin.
func TestSuite(t *testing.T) {
	r := testenv.RabbitMQ(t)
	mtptest.Run(t, func(t *testing.T) *mtptest.Pair { return rabbitPair(t, r, false) })
}

// TestSuiteTLS runs the suite over the TLS listener, with heart-beats.
func TestSuiteTLS(t *testing.T) {
	r := testenv.RabbitMQ(t)
	mtptest.Run(t, func(t *testing.T) *mtptest.Pair { return rabbitPair(t, r, true) })
}

// TestReplyToDest checks that a Record arrives with the sender's own
// destination as Peer.Address [R-STOMP.21], [R-STOMP.23], and, over TLS,
// the broker's verified chain as Peer.Certs [R-STOMP.36].
func TestReplyToDest(t *testing.T) {
	r := testenv.RabbitMQ(t)
	for _, useTLS := range []bool{false, true} {
		t.Run(map[bool]string{false: "tcp", true: "tls"}[useTLS], func(t *testing.T) {
			id := randID()
			da, db := "/queue/usp."+id+".a", "/queue/usp."+id+".b"
			sa := newStates()
			oa := rabbitOptions(r, useTLS, da)
			oa.OnState = sa.onState
			a, b := stomp.NewClient(oa), stomp.NewClient(rabbitOptions(r, useTLS, db))
			atA, atB := newInbox(), newInbox()
			serve(t, a, atA)
			serve(t, b, atB)
			up := sa.wait(t, mtp.StateUp, 20*time.Second)
			if up.Peer.Address != oa.Addr {
				t.Errorf("StateUp Peer.Address = %q, want %q", up.Peer.Address, oa.Addr)
			}
			if err := a.Send(context.Background(), db, []byte("ping")); err != nil {
				t.Fatal(err)
			}
			in := atB.next(t, 20*time.Second)
			if string(in.Record) != "ping" || in.From.Address != da {
				t.Fatalf("B got %q from %q, want %q from %q", in.Record, in.From.Address, "ping", da)
			}
			if err := b.Send(context.Background(), in.From.Address, []byte("pong")); err != nil {
				t.Fatal(err)
			}
			if in := atA.next(t, 20*time.Second); string(in.Record) != "pong" || in.From.Address != db {
				t.Fatalf("A got %q from %q", in.Record, in.From.Address)
			}
			check := func(what string, certs []*x509.Certificate) {
				t.Helper()
				switch {
				case !useTLS && len(certs) != 0:
					t.Errorf("%s Peer.Certs over TCP: %d certificates", what, len(certs))
				case useTLS && (len(certs) == 0 || !certs[0].Equal(r.PKI.Server.Leaf)):
					t.Errorf("%s Peer.Certs do not start with the broker's certificate", what)
				}
			}
			check("inbound", in.From.Certs)
			check("StateUp", up.Peer.Certs)
		})
	}
}

// TestRefused checks that an ERROR frame in answer to the STOMP frame
// puts the client in the retry state with the back-off of mtp.Retry
// [R-STOMP.7], [R-STOMP.25]; the unknown virtual host shows that the host
// header is sent [R-STOMP.5].
func TestRefused(t *testing.T) {
	r := testenv.RabbitMQ(t)
	cases := []struct {
		name string
		set  func(*stomp.Options)
	}{
		{"bad passcode", func(o *stomp.Options) { o.Password = "wrong" }},
		{"unknown virtual host", func(o *stomp.Options) { o.VirtualHost = "no-such-vhost" }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l := &logs{}
			st := newStates()
			o := rabbitOptions(r, false, "/queue/usp."+randID())
			o.Logger, o.OnState, o.MinWait, o.Multiplier = newLogger(l), st.onState, 20*time.Millisecond, 1500
			tc.set(o)
			serve(t, stomp.NewClient(o), newInbox())
			deadline := time.Now().Add(20 * time.Second)
			for len(l.find("stomp: not connected; retrying")) < 4 && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			retries := l.find("stomp: not connected; retrying")
			if len(retries) < 4 {
				t.Fatalf("%d retries, want 4", len(retries))
			}
			retry := mtp.Retry{MinWait: o.MinWait, Multiplier: o.Multiplier}
			for i, a := range retries[:4] {
				var se *stomp.ServerError
				if err, _ := a["err"].Any().(error); !errors.As(err, &se) {
					t.Errorf("retry %d: err = %v, want a *stomp.ServerError", i+1, a["err"].Any())
				} else {
					t.Logf("retry %d after %v", i+1, se)
				}
				lo, hi := retry.Range(i + 1)
				if n, w := a["attempt"].Int64(), a["wait"].Duration(); n != int64(i+1) || w < lo || w > hi {
					t.Errorf("retry %d: attempt %d wait %v, want attempt %d in [%v, %v]", i+1, n, w, i+1, lo, hi)
				}
			}
			select {
			case e := <-st:
				t.Errorf("unexpected state %v", e.State)
			default:
			}
		})
	}
}

// TestErrorFrame checks that an ERROR frame during a session (RabbitMQ
// sends one for a destination it does not know) brings the connection
// down with a *stomp.ServerError and that the client comes back
// [R-STOMP.25].
func TestErrorFrame(t *testing.T) {
	r := testenv.RabbitMQ(t)
	id := randID()
	da, db := "/queue/usp."+id+".a", "/queue/usp."+id+".b"
	st := newStates()
	oa := rabbitOptions(r, false, da)
	oa.OnState = st.onState
	a, b := stomp.NewClient(oa), stomp.NewClient(rabbitOptions(r, false, db))
	atB := newInbox()
	serve(t, a, newInbox())
	serve(t, b, atB)
	st.wait(t, mtp.StateUp, 20*time.Second)
	if err := a.Send(context.Background(), "/no-such-kind/x", []byte("x")); err != nil {
		t.Fatal(err)
	}
	down := st.wait(t, mtp.StateDown, 20*time.Second)
	var se *stomp.ServerError
	if !errors.As(down.Err, &se) {
		t.Fatalf("StateDown err = %v, want a *stomp.ServerError", down.Err)
	}
	t.Logf("down: %v", se)
	st.wait(t, mtp.StateUp, 20*time.Second)
	if err := a.Send(context.Background(), db, []byte("after")); err != nil {
		t.Fatal(err)
	}
	if in := atB.next(t, 20*time.Second); string(in.Record) != "after" {
		t.Fatalf("got %q", in.Record)
	}
}

// TestHeartbeat checks heart-beats against RabbitMQ: the offer 1000,1000
// is taken [R-STOMP.8], [R-STOMP.10], [R-STOMP.11]; the broker keeps an
// idle client (so the client beats); and a frozen broker (SIGSTOP) is
// found dead after twice the incoming interval and the client reconnects
// once it thaws.
func TestHeartbeat(t *testing.T) {
	r := testenv.RabbitMQ(t)
	id := randID()
	da, db := "/queue/usp."+id+".a", "/queue/usp."+id+".b"
	l, st := &logs{}, newStates()
	oa := rabbitOptions(r, false, da)
	oa.OutgoingHeartbeat, oa.IncomingHeartbeat = time.Second, time.Second
	oa.Logger, oa.OnState = newLogger(l), st.onState
	a, b := stomp.NewClient(oa), stomp.NewClient(rabbitOptions(r, false, db))
	atB := newInbox()
	serve(t, a, newInbox())
	serve(t, b, atB)
	st.wait(t, mtp.StateUp, 20*time.Second)
	conn := l.find("stomp: connected")
	if out, in := conn[0]["heartbeat_out"].Duration(), conn[0]["heartbeat_in"].Duration(); out != time.Second || in != time.Second {
		t.Errorf("negotiated heart-beats out %v in %v, want 1s and 1s", out, in)
	}

	time.Sleep(4 * time.Second) // the broker drops a client silent for 2 intervals
	select {
	case e := <-st:
		t.Fatalf("idle connection went %v: %v", e.State, e.Err)
	default:
	}
	if err := a.Send(context.Background(), db, []byte("idle")); err != nil {
		t.Fatal(err)
	}
	atB.next(t, 10*time.Second)

	r.Signal(t, syscall.SIGSTOP)
	stopped := time.Now()
	thawed := false
	thaw := func() {
		if !thawed {
			thawed = true
			r.Signal(t, syscall.SIGCONT)
		}
	}
	defer thaw()
	down := st.wait(t, mtp.StateDown, 10*time.Second)
	took := down.At.Sub(stopped)
	t.Logf("frozen broker found dead after %v: %v", took, down.Err)
	// The last beat came at most one interval before the freeze.
	if !errors.Is(down.Err, os.ErrDeadlineExceeded) || took < time.Second || took > 3500*time.Millisecond {
		t.Errorf("StateDown after %v with %v, want a deadline error within 1s to 2s and some slack", took, down.Err)
	}
	thaw()
	st.wait(t, mtp.StateUp, 30*time.Second)
	if err := a.Send(context.Background(), db, []byte("thawed")); err != nil {
		t.Fatal(err)
	}
	for {
		if in := atB.next(t, 20*time.Second); string(in.Record) == "thawed" {
			break
		}
	}
}
