package mqtt_test

import (
	"context"
	"encoding/binary"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/mtp/mqtt"
)

// Phases of the traffic in TestKill9, as the sender saw them when it
// called Send.
const (
	phaseBefore    = iota // before the broker died
	phaseAfterDown        // A had seen its connection go down
	phaseAfterUp          // A and B were both up again
)

// TestKill9 SIGKILLs mosquitto under traffic from A to B and restarts it
// on the same ports. A must wait as mtp.Retry says between attempts
// [R-MQTT.10], [R-MQTT.33] and be back within one wait of the broker's
// return.
//
// Without persistence the broker forgets B's subscription with the
// crash: every Record that Send accepted once A and B were both up again
// must reach B, in order (at-least-once: a Record cut short by the crash
// may come twice, never out of order). With persistence and a kept
// session for B, the broker keeps B's subscription across the crash and
// queues for B: every Record accepted once A had seen the connection go
// down (queued by A, then flushed) must reach B too.
func TestKill9(t *testing.T) {
	for _, tc := range []struct {
		name    string
		v       mqtt.Version
		persist bool
	}{
		{"v5", mqtt.V5, false},
		{"v311", mqtt.V311, false},
		{"v5/persistent", mqtt.V5, true},
		{"v311/persistent", mqtt.V311, true},
	} {
		t.Run(tc.name, func(t *testing.T) { kill9(t, tc.v, tc.persist) })
	}
}

func kill9(t *testing.T, v mqtt.Version, persist bool) {
	m := newMosquitto(t, persist)
	id := randID()
	ta, tb := "usp/test/"+id+"/a", "usp/test/"+id+"/b"
	la, sa, sb := &logs{}, newStates(), newStates()
	oa, ob := m.options(t, v, plain, ta), m.options(t, v, plain, tb)
	oa.MinWait, oa.Multiplier, oa.QueueLen = 100*time.Millisecond, 2000, 100000
	ob.MinWait, ob.Multiplier = 100*time.Millisecond, 2000
	oa.Logger, oa.OnState, ob.OnState = slogOf(la), sa.onState, sb.onState
	from := phaseAfterUp
	if persist {
		ob.ClientID, ob.KeepSession, ob.SessionExpiry = "uspkit-b-"+id, true, time.Hour
		from = phaseAfterDown
	}
	a, b := mqtt.NewClient(oa), mqtt.NewClient(ob)
	atB := newInbox()
	serve(t, a, newInbox())
	serve(t, b, atB)
	sa.wait(t, mtp.StateUp, 10*time.Second)
	sb.wait(t, mtp.StateUp, 10*time.Second)
	if persist {
		time.Sleep(1500 * time.Millisecond) // let the broker save B's subscription
	}

	// Traffic: a numbered Record every 2ms, noting what A had seen.
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
			if err := a.Send(context.Background(), tb, rec); err != nil {
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
	m.Kill(t)
	down := sa.wait(t, mtp.StateDown, 10*time.Second)
	phase.Store(phaseAfterDown)
	t.Logf("A down %v after SIGKILL: %v", down.At.Sub(killed).Round(time.Millisecond), down.Err)
	time.Sleep(700 * time.Millisecond) // a few retries
	m.Restart(t)
	listening := time.Now()
	t.Logf("broker listening again %v after SIGKILL", listening.Sub(killed).Round(time.Millisecond))
	up := sa.wait(t, mtp.StateUp, 20*time.Second)
	sb.wait(t, mtp.StateUp, 20*time.Second)
	phase.Store(phaseAfterUp)
	time.Sleep(time.Second)
	halt()

	checkBackoff(t, la, oa, listening, up.At)
	checkDelivered(t, atB, sentIn, int32(from))
}

// checkBackoff checks each logged wait against mtp.Retry and that A came
// back within the wait it was in when the broker returned.
func checkBackoff(t *testing.T, la *logs, o *mqtt.Options, listening, up time.Time) {
	t.Helper()
	retries := la.find("mqtt: not connected; retrying")
	if len(retries) < 2 {
		t.Fatalf("%d retries logged, want at least 2:\n%s", len(retries), la)
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
// arrives, and that the first arrival of each is in order; repeated
// arrivals (QoS 1 is at least once) are counted, not failed.
func checkDelivered(t *testing.T, atB inbox, sentIn map[uint64]int32, from int32) {
	t.Helper()
	want := 0
	for _, p := range sentIn {
		if p >= from {
			want++
		}
	}
	got, dups, prev := map[uint64]bool{}, 0, uint64(0)
	deadline := time.After(30 * time.Second)
	for n := 0; n < want; {
		select {
		case in := <-atB:
			seq := binary.BigEndian.Uint64(in.Record)
			if got[seq] {
				dups++
				continue
			}
			if seq < prev {
				t.Fatalf("record %d arrived after %d", seq, prev)
			}
			prev, got[seq] = seq, true
			if sentIn[seq] >= from {
				n++
			}
		case <-deadline:
			lost := 0
			for seq, p := range sentIn {
				if p >= from && !got[seq] {
					lost++
				}
			}
			t.Fatalf("%d of %d records sent in phase %d or later never arrived", lost, want, from)
		}
	}
	byPhase, arrived := map[int32]int{}, map[int32]int{}
	for seq, p := range sentIn {
		byPhase[p]++
		if got[seq] {
			arrived[p]++
		}
	}
	t.Logf("sent before/after down/after up: %d/%d/%d, arrived %d/%d/%d, %d twice; all %d from phase %d arrived",
		byPhase[0], byPhase[1], byPhase[2], arrived[0], arrived[1], arrived[2], dups, want, from)
}
