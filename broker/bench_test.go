package broker_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/eclipse/paho.golang/paho"

	"github.com/uspkit/uspkit/broker"
)

// BenchmarkRoundTrip is a USP exchange over loopback TCP with the USP
// policy on: the Controller publishes a Record to the Agent's topic, the
// Agent publishes a reply to the Controller's topic, and the Controller
// receives it. Allocations include both paho clients.
func BenchmarkRoundTrip(b *testing.B) {
	for _, qos := range []byte{0, 1} {
		for _, size := range []int{256, 4096} {
			b.Run(fmt.Sprintf("qos%d/%dB", qos, size), func(b *testing.B) { benchRoundTrip(b, qos, size) })
		}
	}
}

func benchRoundTrip(b *testing.B, qos byte, size int) {
	br, _ := start(b, uspOptions())
	addr := br.Addrs().TCP
	agent, err := connect5(b, dial5{addr: addr, id: "a1", user: "agent1", pass: "pw1"})
	if err != nil {
		b.Fatal(err)
	}
	ctl, err := connect5(b, dial5{addr: addr, id: "c", user: "ctrl", pass: "pwc"})
	if err != nil {
		b.Fatal(err)
	}
	for c, f := range map[*client5]string{agent: "usp/agent/agent1/#", ctl: "usp/controller/ctrl/#"} {
		if err := c.subscribe(b, f); err != nil {
			b.Fatal(err)
		}
	}
	// The Agent echoes every Record back to the Controller.
	echoDone := make(chan struct{})
	go func() {
		defer close(echoDone)
		for {
			select {
			case m := <-agent.msgs:
				_, _ = agent.Publish(context.Background(), &paho.Publish{Topic: "usp/controller/ctrl", QoS: qos, Payload: m.Payload,
					Properties: &paho.PublishProperties{ResponseTopic: "usp/agent/agent1"}})
			case <-agent.Done():
				return
			}
		}
	}()
	b.Cleanup(func() { agent.close(); <-echoDone })

	ctx := context.Background()
	req := &paho.Publish{Topic: "usp/agent/agent1", QoS: qos, Payload: make([]byte, size)}
	b.SetBytes(int64(2 * size))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := ctl.Publish(ctx, req); err != nil {
			b.Fatal(err)
		}
		if m := <-ctl.msgs; len(m.Payload) != size {
			b.Fatalf("reply of %d bytes", len(m.Payload))
		}
	}
}

// BenchmarkConnect measures CONNECT to CONNACK with password
// authentication and the USP policy, a new TCP connection each time.
func BenchmarkConnect(b *testing.B) {
	br, _ := start(b, broker.Options{Users: users, USPPolicy: true})
	addr := br.Addrs().TCP
	b.ReportAllocs()
	for b.Loop() {
		c, err := connect5(b, dial5{addr: addr, id: "a1", user: "agent1", pass: "pw1"})
		if err != nil {
			b.Fatal(err)
		}
		c.close()
	}
}
