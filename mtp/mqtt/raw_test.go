package mqtt_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	mqtt311 "github.com/eclipse/paho.mqtt.golang"
)

// rawV5 is a plain paho.golang MQTT 5.0 client, to see and make PUBLISH
// packets as they are on the wire.
type rawV5 struct {
	cli *paho.Client
	got chan *paho.Publish
}

// newRawV5 connects a raw MQTT 5.0 client to addr (plaintext), subscribed
// to filters; it disconnects when the test ends.
func newRawV5(t *testing.T, addr string, filters ...string) *rawV5 {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	r := &rawV5{got: make(chan *paho.Publish, 100)}
	r.cli = paho.NewClient(paho.ClientConfig{
		Conn: nc,
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){func(pr paho.PublishReceived) (bool, error) {
			select {
			case r.got <- pr.Packet:
			default:
			}
			return true, nil
		}},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := r.cli.Connect(ctx, &paho.Connect{ClientID: "raw5-" + randID(), CleanStart: true, KeepAlive: 30}); err != nil {
		t.Fatalf("raw v5 connect: %v", err)
	}
	t.Cleanup(func() { _ = r.cli.Disconnect(&paho.Disconnect{}) })
	if len(filters) > 0 {
		s := &paho.Subscribe{}
		for _, f := range filters {
			s.Subscriptions = append(s.Subscriptions, paho.SubscribeOptions{Topic: f, QoS: 2})
		}
		if _, err := r.cli.Subscribe(ctx, s); err != nil {
			t.Fatalf("raw v5 subscribe: %v", err)
		}
	}
	return r
}

// publish sends payload to topic at QoS 1 with the given properties.
func (r *rawV5) publish(t *testing.T, topic string, props *paho.PublishProperties, payload []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := r.cli.Publish(ctx, &paho.Publish{Topic: topic, QoS: 1, Payload: payload, Properties: props}); err != nil {
		t.Fatalf("raw v5 publish: %v", err)
	}
}

func (r *rawV5) next(t *testing.T) *paho.Publish {
	t.Helper()
	select {
	case p := <-r.got:
		return p
	case <-time.After(10 * time.Second):
		t.Fatal("raw v5 client: no PUBLISH within 10s")
		return nil
	}
}

// rawV311 is a plain paho.mqtt.golang MQTT 3.1.1 client.
type rawV311 struct {
	cli mqtt311.Client
	got chan mqtt311.Message
}

// newRawV311 connects a raw MQTT 3.1.1 client to addr (plaintext),
// subscribed to filters; it disconnects when the test ends.
func newRawV311(t *testing.T, addr string, filters ...string) *rawV311 {
	t.Helper()
	r := &rawV311{got: make(chan mqtt311.Message, 100)}
	o := mqtt311.NewClientOptions().AddBroker("tcp://" + addr).SetClientID("raw311-" + randID()).
		SetProtocolVersion(4).SetAutoReconnect(false).
		SetDefaultPublishHandler(func(_ mqtt311.Client, m mqtt311.Message) {
			select {
			case r.got <- m:
			default:
			}
		})
	r.cli = mqtt311.NewClient(o)
	if tok := r.cli.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("raw v3.1.1 connect: %v", tok.Error())
	}
	t.Cleanup(func() { r.cli.Disconnect(100) })
	for _, f := range filters {
		if tok := r.cli.Subscribe(f, 1, nil); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("raw v3.1.1 subscribe: %v", tok.Error())
		}
	}
	return r
}

func (r *rawV311) publish(t *testing.T, topic string, payload []byte) {
	t.Helper()
	if tok := r.cli.Publish(topic, 1, false, payload); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("raw v3.1.1 publish: %v", tok.Error())
	}
}

func (r *rawV311) next(t *testing.T) mqtt311.Message {
	t.Helper()
	select {
	case m := <-r.got:
		return m
	case <-time.After(10 * time.Second):
		t.Fatal("raw v3.1.1 client: no PUBLISH within 10s")
		return nil
	}
}
