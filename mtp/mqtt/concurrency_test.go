package mqtt_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/uspkit/uspkit/broker"
	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/mtp/mqtt"
)

// The shape of a Controller managing a fleet over one MQTT connection:
// one "controller" client, fleetAgents "agent" clients that echo every
// Record from their handler (as an Agent answers a request), and many
// goroutines sending requests through the controller's one connection
// at the same time, at QoS 1 both ways.
const (
	fleetAgents  = 100
	fleetCallers = 256
	fleetRecord  = 256 // bytes per Record
)

// fleetKind is the protocol of every client of a fleet.
type fleetKind struct {
	name    string
	v       mqtt.Version
	recvMax uint16 // Options.ReceiveMaximum
}

var (
	v5Kind        = fleetKind{"v5", mqtt.V5, 0}
	v5RecvMaxKind = fleetKind{"v5-receive-max", mqtt.V5, 256}
	v311Kind      = fleetKind{"v311", mqtt.V311, 0}
)

// fleetKinds are the kinds measured on a server: the embedded broker
// mishandles a Receive Maximum (see Options.ReceiveMaximum).
func fleetKinds(server string) []fleetKind {
	if server == "mosquitto" {
		return []fleetKind{v5Kind, v5RecvMaxKind, v311Kind}
	}
	return []fleetKind{v5Kind, v311Kind}
}

// BenchmarkConcurrentRoundTrip measures round trips per second through
// one controller connection with fleetCallers concurrent senders, MQTT
// 5.0 and 3.1.1 in the same run, through the embedded broker and through
// mosquitto.
func BenchmarkConcurrentRoundTrip(b *testing.B) {
	for _, srv := range []string{"embedded", "mosquitto"} {
		for _, k := range fleetKinds(srv) {
			b.Run(srv+"/"+k.name, func(b *testing.B) {
				f := newFleet(b, fleetServer(b, srv), k, fleetAgents)
				b.SetParallelism(max(fleetCallers/runtime.GOMAXPROCS(0), 1))
				b.ReportAllocs()
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if err := f.roundTrip(context.Background()); err != nil {
							b.Error(err)
							return
						}
					}
				})
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rt/s")
			})
		}
	}
}

// TestConcurrentRoundTrips sends the same load through one MQTT 5.0 and
// one MQTT 3.1.1 controller connection, one after the other in the same
// process, and fails when 5.0 manages less than a quarter of 3.1.1's round
// trips per second (the better of two rounds of each, as the machine may
// be busy); the rates are logged. With each packet written in pieces,
// MQTT 5.0 made 40 to 70% of 3.1.1's rate; TestV5PacketPerWrite checks
// that more closely. On mosquitto, which honours a Receive Maximum, it
// also runs MQTT 5.0 with one. USP_MQTT_ROUNDTRIPS sets the number of
// round trips of each (default 2,000).
func TestConcurrentRoundTrips(t *testing.T) {
	n := 2000
	if v, err := strconv.Atoi(os.Getenv("USP_MQTT_ROUNDTRIPS")); err == nil && v > 0 {
		n = v
	}
	for _, srv := range []string{"embedded", "mosquitto"} {
		t.Run(srv, func(t *testing.T) {
			addr := fleetServer(t, srv)
			rate := map[string]float64{}
			var line strings.Builder
			for range 2 {
				for _, k := range fleetKinds(srv) {
					f := newFleet(t, addr, k, fleetAgents)
					rate[k.name] = max(rate[k.name], f.run(t, n, fleetCallers))
					f.close()
				}
			}
			for _, k := range fleetKinds(srv) {
				fmt.Fprintf(&line, " %s %.0f/s;", k.name, rate[k.name])
			}
			t.Logf("%s, %d round trips each, %d agents, %d callers on one controller connection:%s MQTT 3.1.1/5.0 %.2f",
				srv, n, fleetAgents, fleetCallers, line.String(), rate[v311Kind.name]/rate[v5Kind.name])
			for _, k := range fleetKinds(srv) {
				// A quarter, not parity: the figure is a timing on a
				// shared machine, and what it guards against was 1%.
				if k.v == mqtt.V5 && rate[k.name] < rate[v311Kind.name]/4 {
					t.Errorf("%s: %.0f round trips/s, under a quarter of MQTT 3.1.1's %.0f", k.name, rate[k.name], rate[v311Kind.name])
				}
			}
		})
	}
}

// TestIdleClientMemory connects idleClients clients of each kind to
// mosquitto (another process, so that only the clients count) and
// measures the heap and stacks each one holds while idle: MQTT 3.1.1,
// MQTT 5.0, and MQTT 5.0 with a Receive Maximum. It fails when the last
// holds more than twice an MQTT 3.1.1 client plus 16 KiB. Without a
// Receive Maximum the MQTT 5.0 protocol client keeps a queue of 65535
// received PUBLISH packets, 512 KiB.
func TestIdleClientMemory(t *testing.T) {
	m := sharedMosquitto(t)
	per := map[string]float64{}
	for _, k := range []fleetKind{v311Kind, v5Kind, v5RecvMaxKind} {
		per[k.name] = idleMemory(t, m, k, idleClients)
	}
	t.Logf("memory per idle client (%d clients each): MQTT 3.1.1 %.1f KiB, MQTT 5.0 %.1f KiB, MQTT 5.0 with Receive Maximum %d %.1f KiB",
		idleClients, per[v311Kind.name]/1024, per[v5Kind.name]/1024, v5RecvMaxKind.recvMax, per[v5RecvMaxKind.name]/1024)
	if v5, v311 := per[v5RecvMaxKind.name], per[v311Kind.name]; v5 > 2*v311+16<<10 {
		t.Errorf("MQTT 5.0 client with Receive Maximum %d holds %.1f KiB, MQTT 3.1.1 %.1f KiB", v5RecvMaxKind.recvMax, v5/1024, v311/1024)
	}
}

const idleClients = 200

// idleMemory returns the bytes of heap and stack each of n connected,
// subscribed and idle clients of kind k holds.
func idleMemory(t *testing.T, m *mosquitto, k fleetKind, n int) float64 {
	before := inUse()
	st := newStates()
	clients := make([]*mqtt.Client, n)
	var wg sync.WaitGroup
	for i := range clients {
		o := m.options(t, k.v, plain, "usp/idle/"+randID())
		o.OnState, o.ReceiveMaximum = st.onState, k.recvMax
		clients[i] = mqtt.NewClient(o)
		wg.Go(func() { clients[i].Serve(context.Background(), mtp.HandlerFunc(func(context.Context, mtp.Inbound) {})) })
	}
	defer func() {
		for _, c := range clients {
			c.Close()
		}
		wg.Wait()
	}()
	for range n {
		st.wait(t, mtp.StateUp, 30*time.Second)
	}
	return float64(inUse()-before) / float64(n)
}

// inUse returns the heap and stack bytes in use after a collection.
func inUse() int64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapInuse + ms.StackInuse)
}

// fleetServer returns the address of an MQTT server: a fresh embedded
// broker closed at the end of the test, or the shared mosquitto.
func fleetServer(t testing.TB, which string) string {
	t.Helper()
	if which == "mosquitto" {
		return sharedMosquitto(t).Plain
	}
	brk, err := broker.New(&broker.Options{Addr: "127.0.0.1:0", AllowAnonymous: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := brk.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { brk.Close() })
	return brk.Addrs().TCP
}

// fleet is one controller client and the agents it sends to. Each Record
// begins with an 8-byte sequence number, which the echo keeps and the
// controller's handler uses to find the waiting caller.
type fleet struct {
	ctl    *mqtt.Client
	agents []string // the agents' topics
	seq    atomic.Uint64
	stop   []func()

	mu      sync.Mutex
	waiting map[uint64]chan struct{}
}

// newFleet connects a controller and n agents of kind k to the server at
// addr and waits until all are subscribed.
func newFleet(t testing.TB, addr string, k fleetKind, n int) *fleet {
	t.Helper()
	id := randID()
	f := &fleet{waiting: map[uint64]chan struct{}{}}
	st := newStates()
	opts := func(topic string) *mqtt.Options {
		return &mqtt.Options{URL: "tcp://" + addr, Version: k.v, ReceiveMaximum: k.recvMax, EndpointID: "proto::" + topic, Topic: topic,
			MinWait: 50 * time.Millisecond, Multiplier: 2000, ConnectTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second,
			OnState: st.onState}
	}
	f.ctl = mqtt.NewClient(opts("usp/fleet/" + id + "/controller"))
	f.start(f.ctl, mtp.HandlerFunc(f.answered))
	for i := range n {
		topic := "usp/fleet/" + id + "/agent-" + strconv.Itoa(i)
		a := mqtt.NewClient(opts(topic))
		f.agents = append(f.agents, topic)
		f.start(a, mtp.HandlerFunc(func(ctx context.Context, in mtp.Inbound) {
			// An agent answers from its handler, as usp sim and the agent do.
			if err := a.Send(ctx, in.From.Address, in.Record); err != nil {
				t.Logf("agent %d: %v", i, err)
			}
		}))
	}
	t.Cleanup(f.close)
	for range n + 1 {
		st.wait(t, mtp.StateUp, 30*time.Second)
	}
	return f
}

// start serves c with h until the fleet is closed.
func (f *fleet) start(c *mqtt.Client, h mtp.Handler) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.Serve(context.Background(), h)
	}()
	f.stop = append(f.stop, func() { c.Close(); <-done })
}

// close closes every client; it may be called more than once.
func (f *fleet) close() {
	for _, s := range f.stop {
		s()
	}
	f.stop = nil
}

// answered wakes the caller waiting for an echo.
func (f *fleet) answered(_ context.Context, in mtp.Inbound) {
	if len(in.Record) < 8 {
		return
	}
	n := binary.BigEndian.Uint64(in.Record)
	f.mu.Lock()
	ch := f.waiting[n]
	delete(f.waiting, n)
	f.mu.Unlock()
	if ch != nil {
		close(ch)
	}
}

// roundTrip sends a Record to a random agent and waits for its echo.
func (f *fleet) roundTrip(ctx context.Context) error {
	n := f.seq.Add(1)
	rec := make([]byte, fleetRecord)
	binary.BigEndian.PutUint64(rec, n)
	ch := make(chan struct{})
	f.mu.Lock()
	f.waiting[n] = ch
	f.mu.Unlock()
	if err := f.ctl.Send(ctx, f.agents[rand.IntN(len(f.agents))], rec); err != nil {
		return err
	}
	t := time.NewTimer(30 * time.Second)
	defer t.Stop()
	select {
	case <-ch:
		return nil
	case <-t.C:
		return fmt.Errorf("no echo of record %d within 30s", n)
	}
}

// run makes n round trips from callers goroutines and returns round
// trips per second.
func (f *fleet) run(t testing.TB, n, callers int) float64 {
	t.Helper()
	var left atomic.Int64
	left.Store(int64(n))
	var wg sync.WaitGroup
	start := time.Now()
	for range callers {
		wg.Go(func() {
			for left.Add(-1) >= 0 {
				if err := f.roundTrip(context.Background()); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	return float64(n) / time.Since(start).Seconds()
}
