package stomp_test

import (
	"context"
	"encoding/binary"
	"errors"
	"github.com/uspkit/uspkit/internal/testenv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/mtp/stomp"
)

// TestKill9 SIGKILLs the broker under traffic and restarts it on the same
// ports. The client must wait as mtp.Retry says between attempts
// [R-STOMP.7], be back within one wait of the broker's return, and every
// Record accepted by Send once the client had seen the connection go
// down (queued, then flushed) or come back must reach the other client,
// in order.
func TestKill9(t *testing.T) {
	r := testenv.RabbitMQ(t)
	id := randID()
	da, db := "/queue/usp."+id+".a", "/queue/usp."+id+".b"
	la, sa, sb := &logs{}, newStates(), newStates()
	oa, ob := rabbitOptions(r, false, da), rabbitOptions(r, false, db)
	oa.MinWait, oa.Multiplier, oa.QueueLen = 100*time.Millisecond, 2000, 100000
	ob.MinWait, ob.Multiplier = 100*time.Millisecond, 2000
	oa.Logger, oa.OnState, ob.OnState = newLogger(la), sa.onState, sb.onState
	a, b := stomp.NewClient(oa), stomp.NewClient(ob)
	atB := newInbox()
	serve(t, a, newInbox())
	serve(t, b, atB)
	sa.wait(t, mtp.StateUp, 20*time.Second)
	sb.wait(t, mtp.StateUp, 20*time.Second)

	// Traffic: a numbered Record every 2ms, noting what A had seen.
	const before, afterDown, afterUp = 0, 1, 2
	var phase atomic.Int32
	var mu sync.Mutex
	sentIn := map[uint64]int32{}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for seq := uint64(1); ; seq++ {
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
			p := phase.Load()
			rec := binary.BigEndian.AppendUint64(nil, seq)
			if err := a.Send(context.Background(), db, rec); err != nil {
				if !errors.Is(err, mtp.ErrQueueFull) {
					t.Errorf("Send %d: %v", seq, err)
				}
				continue
			}
			mu.Lock()
			sentIn[seq] = p
			mu.Unlock()
		}
	})
	var once sync.Once
	halt := func() { once.Do(func() { close(stop) }); wg.Wait() }
	defer halt()

	time.Sleep(500 * time.Millisecond)
	killed := time.Now()
	r.Kill(t)
	down := sa.wait(t, mtp.StateDown, 10*time.Second)
	phase.Store(afterDown)
	t.Logf("A down %v after SIGKILL: %v", down.At.Sub(killed).Round(time.Millisecond), down.Err)
	r.Restart(t)
	listening := time.Now()
	t.Logf("broker listening again %v after SIGKILL", listening.Sub(killed).Round(time.Millisecond))
	up := sa.wait(t, mtp.StateUp, 60*time.Second)
	phase.Store(afterUp)
	sb.wait(t, mtp.StateUp, 60*time.Second)
	time.Sleep(time.Second)
	halt()

	checkBackoff(t, la, oa, listening, up.At)
	checkDelivered(t, atB, sentIn, afterDown)
}

// checkBackoff checks each logged wait against mtp.Retry and that A came
// back within the wait it was in when the broker returned.
func checkBackoff(t *testing.T, la *logs, o *stomp.Options, listening, up time.Time) {
	t.Helper()
	retries := la.find("stomp: not connected; retrying")
	if len(retries) < 2 {
		t.Fatalf("%d retries logged, want at least 2", len(retries))
	}
	rt := mtp.Retry{MinWait: o.MinWait, Multiplier: o.Multiplier}
	var last time.Duration
	for i, a := range retries {
		n, w := a["attempt"].Int64(), a["wait"].Duration()
		lo, hi := rt.Range(i + 1)
		if n != int64(i+1) || w < lo || w > hi {
			t.Errorf("retry %d: attempt %d wait %v, want attempt %d in [%v, %v]", i+1, n, w, i+1, lo, hi)
		}
		last = w
	}
	back := up.Sub(listening)
	t.Logf("%d retries; A up %v after the broker listened; last wait %v", len(retries), back.Round(time.Millisecond), last.Round(time.Millisecond))
	if back > last+time.Second {
		t.Errorf("A came back %v after the broker, more than its last wait %v and slack", back, last)
	}
}

// checkDelivered checks that every Record sent in phase from or later
// arrives, and that all arrive in order.
func checkDelivered(t *testing.T, atB inbox, sentIn map[uint64]int32, from int32) {
	t.Helper()
	want := 0
	for _, p := range sentIn {
		if p >= from {
			want++
		}
	}
	got, lost, prev := map[uint64]bool{}, 0, uint64(0)
	deadline := time.After(30 * time.Second)
	for n := 0; n < want; {
		select {
		case in := <-atB:
			seq := binary.BigEndian.Uint64(in.Record)
			if seq <= prev {
				t.Fatalf("record %d arrived after %d", seq, prev)
			}
			prev, got[seq] = seq, true
			if sentIn[seq] >= from {
				n++
			}
		case <-deadline:
			for seq, p := range sentIn {
				if p >= from && !got[seq] {
					lost++
				}
			}
			t.Fatalf("%d of %d records sent after the client saw the failure never arrived", lost, want)
		}
	}
	byPhase := map[int32]int{}
	for _, p := range sentIn {
		byPhase[p]++
	}
	t.Logf("sent before/after down/after up: %d/%d/%d; all %d after the failure arrived (%d in all)",
		byPhase[0], byPhase[1], byPhase[2], want, len(got))
}
