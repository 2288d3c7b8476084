package broker_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"fmt"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/packets"

	"github.com/uspkit/uspkit/broker"
)

// TestLoad connects loadClients MQTT 5 clients at once (password check
// and USP policy on), each subscribing to its own topic, then each
// publishes one message and receives it. It reports connections per
// second and broker memory per connection. The clients are bare
// connections driven with paho's packet codec, so that the memory figure
// is the broker's (the clients add a net.Conn each).
func TestLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("load test skipped in -short mode")
	}
	// The outbound queue is most of a connection's memory: 8 bytes a slot.
	for _, q := range []int{0, 128} {
		t.Run(fmt.Sprintf("MaxQueued=%d", q), func(t *testing.T) { load(t, q) })
	}
}

func load(t *testing.T, maxQueued int) {
	const (
		loadClients = 2000
		workers     = 64
		limit       = 60 * time.Second
	)
	deadline := time.Now().Add(limit)
	auth := func(_ context.Context, id, _ string, pass []byte, _ []*x509.Certificate) (broker.Account, error) {
		if string(pass) != "load" {
			return broker.Account{}, fmt.Errorf("bad password")
		}
		return broker.Account{Name: id, Controller: true}, nil // may publish to its own (Controller) topic
	}
	b, _ := start(t, broker.Options{Authenticate: auth, USPPolicy: true, MaxClients: loadClients, MaxQueued: maxQueued})
	addr := b.Addrs().TCP

	before := memUse()
	g0 := runtime.NumGoroutine()
	conns := make([]net.Conn, loadClients)
	t.Cleanup(func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	})
	t0 := time.Now()
	parallel(t, loadClients, workers, func(i int) error {
		c, err := loadConnect(addr, i, deadline)
		conns[i] = c
		return err
	})
	connectDur := time.Since(t0)
	if n := b.Connected(); n != loadClients {
		t.Fatalf("Connected() = %d, want %d", n, loadClients)
	}
	after := memUse()
	perConn := float64(after-before) / loadClients
	t.Logf("%d clients connected and subscribed in %v: %.0f connections/s", loadClients, connectDur.Round(time.Millisecond),
		loadClients/connectDur.Seconds())
	t.Logf("memory per connection (heap+stacks, broker plus a bare client conn): %.1f KiB; goroutines per connection: %.1f",
		perConn/1024, float64(runtime.NumGoroutine()-g0)/loadClients)

	t1 := time.Now()
	parallel(t, loadClients, workers, func(i int) error { return loadEcho(conns[i], i, deadline) })
	pubDur := time.Since(t1)
	t.Logf("%d publish→receive round trips in %v: %.0f messages/s", loadClients, pubDur.Round(time.Millisecond),
		loadClients/pubDur.Seconds())
	if time.Now().After(deadline) {
		t.Fatalf("load test exceeded %v", limit)
	}

	for _, c := range conns {
		c.Close()
	}
	for b.Connected() > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d clients still connected after their connections closed", b.Connected())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// memUse is the heap and stack memory in use after a GC.
func memUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse + m.StackInuse
}

// parallel runs f(0..n-1) on workers goroutines and fails t on the first
// error.
func parallel(t *testing.T, n, workers int, f func(int) error) {
	t.Helper()
	next := make(chan int)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range next {
				if err := f(i); err != nil {
					errs <- fmt.Errorf("client %d: %w", i, err)
				}
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func loadTopic(i int) string { return fmt.Sprintf("usp/controller/load-%d", i) }

// loadConnect connects client i and subscribes it to its own topic, the
// one the CONNACK announces.
func loadConnect(addr string, i int, deadline time.Time) (net.Conn, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	c.SetDeadline(deadline)
	cp := packets.NewControlPacket(packets.CONNECT)
	cc := cp.Content.(*packets.Connect)
	cc.ClientID, cc.CleanStart, cc.KeepAlive = fmt.Sprintf("load-%d", i), true, 60
	cc.Username, cc.UsernameFlag, cc.Password, cc.PasswordFlag = cc.ClientID, true, []byte("load"), true
	if _, err := cp.WriteTo(c); err != nil {
		return c, err
	}
	ack, err := packets.ReadPacket(c)
	if err != nil {
		return c, err
	}
	ca, ok := ack.Content.(*packets.Connack)
	if !ok || ca.ReasonCode != 0 {
		return c, fmt.Errorf("CONNACK %v", ack)
	}
	var sub string
	for _, u := range ca.Properties.User {
		if u.Key == "subscribe-topic" {
			sub = u.Value
		}
	}
	if sub != loadTopic(i)+"/#" {
		return c, fmt.Errorf("subscribe-topic %q", sub)
	}
	sp := packets.NewControlPacket(packets.SUBSCRIBE)
	s := sp.Content.(*packets.Subscribe)
	s.PacketID, s.Subscriptions = 1, []packets.SubOptions{{Topic: sub}}
	if _, err := sp.WriteTo(c); err != nil {
		return c, err
	}
	ack, err = packets.ReadPacket(c)
	if err != nil {
		return c, err
	}
	if sa, ok := ack.Content.(*packets.Suback); !ok || len(sa.Reasons) != 1 || sa.Reasons[0] != 0 {
		return c, fmt.Errorf("SUBACK %v", ack)
	}
	return c, nil
}

// loadEcho publishes one message to client i's own topic and reads it back.
func loadEcho(c net.Conn, i int, deadline time.Time) error {
	payload := []byte(fmt.Sprintf("record %d", i))
	pp := packets.NewControlPacket(packets.PUBLISH)
	p := pp.Content.(*packets.Publish)
	p.Topic, p.Payload = loadTopic(i), payload
	if _, err := pp.WriteTo(c); err != nil {
		return err
	}
	in, err := packets.ReadPacket(c)
	if err != nil {
		return err
	}
	if got, ok := in.Content.(*packets.Publish); !ok || got.Topic != p.Topic || !bytes.Equal(got.Payload, payload) {
		return fmt.Errorf("received %v", in)
	}
	return nil
}
