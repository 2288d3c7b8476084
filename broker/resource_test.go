package broker_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/packets"
	"github.com/eclipse/paho.golang/paho"

	"github.com/uspkit/uspkit/broker"
	"github.com/uspkit/uspkit/internal/testenv"
)

// quiet logs at Info level and above only: mochi's Debug lines carry
// whole packets, which would dwarf the figures measured here.
func quiet(o broker.Options) broker.Options {
	o.Logger = slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo}))
	return o
}

// heapMB is the live heap after a collection, in MB.
func heapMB() float64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return float64(m.HeapAlloc) / 1e6
}

// rssMB is the process's resident set size, in MB (0 if unknown).
func rssMB() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64)
			return kb / 1000
		}
	}
	return 0
}

// retainFlood publishes n retained messages of size bytes on distinct
// topics made by topic(i), with QoS 1 so that each is processed before
// the next, and returns the growth of the live heap in MB.
func retainFlood(t *testing.T, c *client5, n, size int, topic func(int) string, reply string) float64 {
	t.Helper()
	before := heapMB()
	payload := bytes.Repeat([]byte{'r'}, size)
	for i := range n {
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		_, err := c.Publish(ctx, &paho.Publish{Topic: topic(i), QoS: 1, Retain: true, Payload: payload,
			Properties: &paho.PublishProperties{ResponseTopic: reply}})
		cancel()
		if err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
	}
	return heapMB() - before
}

// TestRetainedUSPTopics: under USPPolicy a retained PUBLISH to a USP
// topic is delivered but never stored, so 800 retained 250 KB Records
// (the attack that took the broker from 37 to 642 MB RSS) leave nothing
// behind, and a later subscriber gets no stale Record.
func TestRetainedUSPTopics(t *testing.T) {
	b, _ := start(t, quiet(uspOptions()))
	addr := b.Addrs().TCP
	a1, err := connect5(t, dial5{addr: addr, id: "a1", user: "agent1", pass: "pw1"})
	if err != nil {
		t.Fatal(err)
	}
	rss0 := rssMB()
	grew := retainFlood(t, a1, 800, 250<<10, func(i int) string { return fmt.Sprintf("usp/controller/ctrl/%d", i) }, "usp/agent/agent1")
	st := b.Stats()
	t.Logf("800 retained 250 KB PUBLISHes to USP topics: live heap %+.1f MB, RSS %.0f -> %.0f MB, retained stored %d, not stored %d",
		grew, rss0, rssMB(), st.RetainedStored, st.RetainDropped)
	if st.RetainedStored != 0 || st.RetainDropped != 800 {
		t.Fatalf("stats %+v", st)
	}
	if grew > 32 {
		t.Errorf("live heap grew by %.1f MB", grew)
	}
	ctl, err := connect5(t, dial5{addr: addr, id: "c", user: "ctrl", pass: "pwc"})
	if err != nil {
		t.Fatal(err)
	}
	if err := ctl.subscribe(t, "usp/controller/ctrl/#"); err != nil {
		t.Fatal(err)
	}
	ctl.expectNone(t)
}

// TestRetainedCap: on other topics the retained store is capped in count
// (MaxRetained) and payload bytes (MaxRetainedBytes); beyond them a
// retained PUBLISH is delivered but not stored.
func TestRetainedCap(t *testing.T) {
	if os.Getenv("USP_BROKER_UNLIMITED") == "1" {
		// The figure without limits, for comparison.
		b, _ := start(t, quiet(broker.Options{Users: users, MaxRetained: 1 << 20, MaxRetainedBytes: 1 << 40}))
		c, err := connect5(t, dial5{addr: b.Addrs().TCP, id: "p", user: "agent1", pass: "pw1"})
		if err != nil {
			t.Fatal(err)
		}
		rss0 := rssMB()
		grew := retainFlood(t, c, 800, 250<<10, func(i int) string { return fmt.Sprintf("r/%d", i) }, "")
		t.Logf("unlimited: live heap %+.1f MB, RSS %.0f -> %.0f MB, stored %d", grew, rss0, rssMB(), b.Stats().RetainedStored)
		return
	}
	tests := []struct {
		name      string
		opts      broker.Options
		n, size   int
		wantStore int64
		maxGrowMB float64
	}{
		{name: "defaults, 800 x 250 KB", opts: broker.Options{Users: users}, n: 800, size: 250 << 10,
			wantStore: broker.DefaultMaxRetainedBytes / (250 << 10), maxGrowMB: 2*broker.DefaultMaxRetainedBytes/1e6 + 8},
		{name: "count cap", opts: broker.Options{Users: users, MaxRetained: 5}, n: 20, size: 100, wantStore: 5, maxGrowMB: 8},
		{name: "retain off", opts: broker.Options{Users: users, MaxRetained: -1}, n: 20, size: 100, wantStore: 0, maxGrowMB: 8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, _ := start(t, quiet(tt.opts))
			c, err := connect5(t, dial5{addr: b.Addrs().TCP, id: "p", user: "agent1", pass: "pw1"})
			if err != nil {
				t.Fatal(err)
			}
			rss0 := rssMB()
			grew := retainFlood(t, c, tt.n, tt.size, func(i int) string { return fmt.Sprintf("r/%d", i) }, "")
			st := b.Stats()
			t.Logf("%d retained %d B PUBLISHes: live heap %+.1f MB, RSS %.0f -> %.0f MB, stored %d, not stored %d",
				tt.n, tt.size, grew, rss0, rssMB(), st.RetainedStored, st.RetainDropped)
			if st.RetainedStored != tt.wantStore || st.RetainDropped != int64(tt.n)-tt.wantStore {
				t.Fatalf("stats %+v, want %d stored", st, tt.wantStore)
			}
			if grew > tt.maxGrowMB {
				t.Errorf("live heap grew by %.1f MB", grew)
			}
			// Replacing and deleting stored topics still works at the cap.
			if tt.wantStore > 0 {
				if err := c.publish(t, "r/0", nil, 1); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// TestSessionQueueLimits: the messages held for an offline persistent
// session are capped in count (SessionQueue) and bytes
// (SessionQueueBytes, dropping the oldest): 800 QoS 1 250 KB Records to
// an offline Agent leave at most SessionQueueBytes queued.
func TestSessionQueueLimits(t *testing.T) {
	tests := []struct {
		name    string
		opts    broker.Options
		n, size int
		max     int // messages delivered on resume, at most
	}{
		{name: "bytes", opts: uspOptions(), n: 800, size: 250 << 10, max: broker.DefaultSessionQueueBytes / (250 << 10)},
		{name: "count", opts: func() broker.Options { o := uspOptions(); o.SessionQueue = 10; return o }(), n: 50, size: 100, max: 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, _ := start(t, quiet(tt.opts))
			addr := b.Addrs().TCP
			a, err := connect5(t, dial5{addr: addr, id: "a1", user: "agent1", pass: "pw1", expiry: 3600})
			if err != nil {
				t.Fatal(err)
			}
			if err := a.subscribe(t, "usp/agent/agent1/#"); err != nil {
				t.Fatal(err)
			}
			a.close()
			for b.Connected() != 0 {
				time.Sleep(10 * time.Millisecond)
			}
			ctl, err := connect5(t, dial5{addr: addr, id: "c", user: "ctrl", pass: "pwc"})
			if err != nil {
				t.Fatal(err)
			}
			before := heapMB()
			payload := bytes.Repeat([]byte{'q'}, tt.size)
			for range tt.n {
				if err := ctl.publish(t, "usp/agent/agent1", payload, 1); err != nil {
					t.Fatal(err)
				}
			}
			grew := heapMB() - before
			st := b.Stats()
			a2, err := connect5(t, dial5{addr: addr, id: "a1", user: "agent1", pass: "pw1", expiry: 3600, resume: true})
			if err != nil {
				t.Fatal(err)
			}
			got := 0
			for done := false; !done; {
				select {
				case <-a2.msgs:
					got++
				case <-time.After(500 * time.Millisecond):
					done = true
				}
			}
			t.Logf("%d QoS 1 PUBLISHes of %d B to an offline session: live heap %+.1f MB, %d delivered on resume, %d dropped over bytes",
				tt.n, tt.size, grew, got, st.QueueDropped)
			if got == 0 || got > tt.max {
				t.Fatalf("%d delivered on resume, want 1..%d", got, tt.max)
			}
			// mochi holds a queued PUBLISH as read and as copied for the
			// subscriber: about two bytes of heap per byte queued.
			if limit := 2*float64(broker.DefaultSessionQueueBytes)/1e6 + 8; grew > limit {
				t.Errorf("live heap grew by %.1f MB (limit %.0f)", grew, limit)
			}
		})
	}
}

// rawConnect sends an MQTT 5 CONNECT from local (an IP on loopback) and
// reports whether it was accepted; closed is true when the broker closed
// the connection without a CONNACK.
func rawConnect(addr, local, user, pass string) (ok, closed bool, err error) {
	d := net.Dialer{Timeout: wait, LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		return false, false, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(wait))
	cp := packets.NewControlPacket(packets.CONNECT)
	cc := cp.Content.(*packets.Connect)
	cc.ClientID, cc.CleanStart, cc.KeepAlive = "", true, 30
	cc.Username, cc.UsernameFlag, cc.Password, cc.PasswordFlag = user, true, []byte(pass), true
	if _, err := cp.WriteTo(c); err != nil {
		return false, true, nil
	}
	ack, err := packets.ReadPacket(c)
	if err != nil {
		return false, true, nil
	}
	ca, isAck := ack.Content.(*packets.Connack)
	if !isAck {
		return false, false, fmt.Errorf("got %v", ack)
	}
	return ca.ReasonCode == 0, false, nil
}

// TestLoginThrottle: failed logins are throttled per source address:
// after LoginFailures failures in the window, new connections from that
// address are closed at accept, before any password check, while other
// addresses log in; refusals are logged once per LogInterval plus one
// summary line. A bounded flood of bad CONNECTs from 127.0.0.1 shows the
// figures (before the throttle: 1,380 checked refusals/s, one WARN each).
func TestLoginThrottle(t *testing.T) {
	const (
		burst    = 5
		flood    = 2 * time.Second
		workers  = 8
		interval = 500 * time.Millisecond
	)
	b, lb := start(t, broker.Options{Users: users, LoginFailures: burst, LoginFailureWindow: time.Hour, LogInterval: interval})
	addr := b.Addrs().TCP
	var attempts, refused, closed atomic.Int64
	var wg sync.WaitGroup
	end := time.Now().Add(flood)
	for range workers {
		wg.Go(func() {
			for time.Now().Before(end) {
				ok, cl, err := rawConnect(addr, "127.0.0.1", "agent1", "wrong")
				attempts.Add(1)
				switch {
				case err != nil || ok:
					t.Errorf("bad CONNECT: ok=%v err=%v", ok, err)
					return
				case cl:
					closed.Add(1)
				default:
					refused.Add(1)
				}
			}
		})
	}
	wg.Wait()
	time.Sleep(2 * interval) // the last summary line
	st := b.Stats()
	logText := lb.String()
	full := strings.Count(logText, `msg="connect refused"`) + strings.Count(logText, "too many failed logins from this address")
	summaries := strings.Count(logText, "(summary)")
	secs := flood.Seconds()
	t.Logf("%d bad CONNECTs in %v from one address (%.0f/s): %d password checks (%d refused with CONNACK), %d closed at accept; "+
		"log: %d full lines, %d summary lines (%.1f lines/s)",
		attempts.Load(), flood, float64(attempts.Load())/secs, st.LoginsRefused, refused.Load(), st.Throttled,
		full, summaries, float64(full+summaries)/(secs+2*interval.Seconds()))
	if st.LoginsRefused > burst+workers {
		t.Errorf("%d password checks, want at most %d", st.LoginsRefused, burst+workers)
	}
	if st.Throttled == 0 || closed.Load() == 0 {
		t.Error("no connection closed at accept")
	}
	if maxLines := 2 * (int(secs/interval.Seconds()) + 3); full+summaries > maxLines {
		t.Errorf("%d log lines, want at most %d", full+summaries, maxLines)
	}
	// Another address is not throttled; the flooding one is, even with
	// the right password.
	if ok, _, err := rawConnect(addr, "127.0.0.2", "agent1", "pw1"); !ok || err != nil {
		t.Fatalf("127.0.0.2: ok=%v err=%v", ok, err)
	}
	if ok, closed, _ := rawConnect(addr, "127.0.0.1", "agent1", "pw1"); ok || !closed {
		t.Fatalf("throttled address: ok=%v closed=%v", ok, closed)
	}
}

// TestLoginThrottleRefill: one failure comes back every
// LoginFailureWindow/LoginFailures.
func TestLoginThrottleRefill(t *testing.T) {
	b, _ := start(t, broker.Options{Users: users, LoginFailures: 2, LoginFailureWindow: 400 * time.Millisecond})
	addr := b.Addrs().TCP
	for range 2 {
		if _, closed, err := rawConnect(addr, "127.0.0.1", "agent1", "x"); closed || err != nil {
			t.Fatalf("closed=%v err=%v", closed, err)
		}
	}
	if _, closed, _ := rawConnect(addr, "127.0.0.1", "agent1", "pw1"); !closed {
		t.Fatal("not throttled after 2 failures")
	}
	time.Sleep(250 * time.Millisecond)
	if ok, _, err := rawConnect(addr, "127.0.0.1", "agent1", "pw1"); !ok || err != nil {
		t.Fatalf("after refill: ok=%v err=%v", ok, err)
	}
}

// TestMaxPending: connections that have not sent CONNECT are capped;
// beyond MaxPending they are closed at accept.
func TestMaxPending(t *testing.T) {
	b, lb := start(t, broker.Options{Users: users, MaxClients: 2, MaxPending: 3})
	addr := b.Addrs().TCP
	var idle []net.Conn
	t.Cleanup(func() {
		for _, c := range idle {
			c.Close()
		}
	})
	for range 5 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		idle = append(idle, c)
	}
	// The first five fit (MaxClients+MaxPending); the sixth is closed.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(wait))
	if n, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatalf("read %d bytes", n)
	}
	waitLog(t, lb, "MaxClients+MaxPending connections open")
}

// TestReceiveMaximum: a client that leaves QoS 2 PUBLISHes unreleased
// (each held by the broker until PUBREL) is disconnected with 0x93
// ("Receive Maximum exceeded") once it has ReceiveMaximum of them, so it
// cannot fill the broker's in-flight table.
func TestReceiveMaximum(t *testing.T) {
	const limit, sent = 8, 200
	b, _ := start(t, quiet(broker.Options{Users: users, ReceiveMaximum: limit}))
	c, err := net.Dial("tcp", b.Addrs().TCP)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(wait))
	cp := packets.NewControlPacket(packets.CONNECT)
	cc := cp.Content.(*packets.Connect)
	cc.ClientID, cc.CleanStart, cc.KeepAlive = "q2", true, 30
	cc.Username, cc.UsernameFlag, cc.Password, cc.PasswordFlag = "agent1", true, []byte("pw1"), true
	if _, err := cp.WriteTo(c); err != nil {
		t.Fatal(err)
	}
	ack, err := packets.ReadPacket(c)
	if err != nil {
		t.Fatal(err)
	}
	if ca := ack.Content.(*packets.Connack); ca.Properties.ReceiveMaximum == nil || *ca.Properties.ReceiveMaximum != limit {
		t.Fatalf("CONNACK Receive Maximum %v", ca.Properties.ReceiveMaximum)
	}
	go func() {
		for i := range sent {
			pp := packets.NewControlPacket(packets.PUBLISH)
			p := pp.Content.(*packets.Publish)
			p.Topic, p.QoS, p.PacketID, p.Payload = "q/x", 2, uint16(i+1), []byte("held")
			if _, err := pp.WriteTo(c); err != nil {
				return
			}
		}
	}()
	pubrecs, reason := 0, byte(0)
	for {
		in, err := packets.ReadPacket(c)
		if err != nil {
			break
		}
		switch p := in.Content.(type) {
		case *packets.Pubrec:
			pubrecs++
		case *packets.Disconnect:
			reason = p.ReasonCode
		}
	}
	t.Logf("%d unreleased QoS 2 PUBLISHes sent: %d accepted, then DISCONNECT %#x", sent, pubrecs, reason)
	if pubrecs != limit || reason != 0x93 {
		t.Fatalf("%d PUBRECs, DISCONNECT %#x; want %d and 0x93", pubrecs, reason, limit)
	}
}

// TestTLSHandshakeThrottle: failed TLS handshakes (here: no client
// certificate where one is required) count as failed logins, so an
// address that keeps failing is closed at accept, before any handshake.
func TestTLSHandshakeThrottle(t *testing.T) {
	p := testenv.NewPKI(t, "os::012345-TLS1")
	b, lb := start(t, quiet(broker.Options{Users: users, TLS: p.ServerConfig(), LoginFailures: 3, LoginFailureWindow: time.Hour}))
	for i := range 5 {
		c, err := tls.Dial("tcp", b.Addrs().TCP, &tls.Config{RootCAs: p.CAPool, MinVersion: tls.VersionTLS13})
		if err == nil {
			// TLS 1.3: the server's refusal shows at the first read.
			c.SetReadDeadline(time.Now().Add(wait))
			_, err = c.Read(make([]byte, 1))
			c.Close()
		}
		if err == nil {
			t.Fatal("handshake without a client certificate succeeded")
		}
		// The client may see the alert before the broker has counted it.
		deadline := time.Now().Add(wait)
		for st := b.Stats(); st.LoginsRefused+st.Throttled < int64(i+1); st = b.Stats() {
			if time.Now().After(deadline) {
				t.Fatalf("attempt %d not counted: %+v", i, st)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	st := b.Stats()
	if st.LoginsRefused != 3 || st.Throttled != 2 {
		t.Fatalf("stats %+v: want 3 failed handshakes, then 2 closed at accept\n%s", st, lb)
	}
}

// TestSlowConsumer: a subscriber that stops reading (here with
// keep-alive 0, so no keep-alive timeout either) is disconnected once a
// write to it has been blocked for WriteTimeout, which frees what was
// queued for it.
func TestSlowConsumer(t *testing.T) {
	const timeout = 500 * time.Millisecond
	b, _ := start(t, quiet(broker.Options{Users: users, WriteTimeout: timeout}))
	addr := b.Addrs().TCP
	// A raw subscriber that never reads after its SUBACK.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.(*net.TCPConn).SetReadBuffer(4096)
	c.SetDeadline(time.Now().Add(wait))
	cp := packets.NewControlPacket(packets.CONNECT)
	cc := cp.Content.(*packets.Connect)
	cc.ClientID, cc.CleanStart, cc.KeepAlive = "slow", true, 0
	cc.Username, cc.UsernameFlag, cc.Password, cc.PasswordFlag = "agent1", true, []byte("pw1"), true
	if _, err := cp.WriteTo(c); err != nil {
		t.Fatal(err)
	}
	if _, err := packets.ReadPacket(c); err != nil {
		t.Fatal(err)
	}
	sp := packets.NewControlPacket(packets.SUBSCRIBE)
	sp.Content.(*packets.Subscribe).PacketID = 1
	sp.Content.(*packets.Subscribe).Subscriptions = []packets.SubOptions{{Topic: "slow/#"}}
	if _, err := sp.WriteTo(c); err != nil {
		t.Fatal(err)
	}
	if _, err := packets.ReadPacket(c); err != nil {
		t.Fatal(err)
	}
	pub, err := connect5(t, dial5{addr: addr, id: "fast", user: "agent2", pass: "pw2"})
	if err != nil {
		t.Fatal(err)
	}
	payload := bytes.Repeat([]byte{'s'}, 256<<10)
	start := time.Now()
	deadline := start.Add(wait)
	sent := 0
	for b.Connected() == 2 {
		if time.Now().After(deadline) {
			t.Fatalf("slow subscriber still connected after %d publishes", sent)
		}
		if err := pub.publish(t, "slow/x", payload, 0); err != nil {
			t.Fatal(err)
		}
		sent++
		if sent%16 == 0 {
			time.Sleep(10 * time.Millisecond)
		}
	}
	t.Logf("slow subscriber cut after %v and %d publishes of 256 KB", time.Since(start).Round(10*time.Millisecond), sent)
	if n := b.Stats().SlowConsumers; n != 1 {
		t.Errorf("Stats().SlowConsumers = %d", n)
	}
	// The publisher was not held up.
	if err := pub.publish(t, "other/x", []byte("still here"), 1); err != nil {
		t.Fatal(err)
	}
}
