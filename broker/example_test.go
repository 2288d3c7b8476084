package broker_test

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/eclipse/paho.golang/packets"
	"github.com/eclipse/paho.golang/paho"

	"github.com/uspkit/uspkit/broker"
)

// An embedded broker with the USP topic policy: the Agent learns its
// topic from the CONNACK, and only the Controller may publish to it.
func Example() {
	b, err := broker.New(&broker.Options{
		Addr:        "127.0.0.1:0",
		Users:       map[string]string{"os::agent-1": "agent secret", "controller": "controller secret"},
		Controllers: []string{"controller"},
		USPPolicy:   true,
	})
	if err != nil {
		panic(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.Start(ctx); err != nil {
		panic(err)
	}
	defer b.Close()

	got := make(chan *paho.Publish, 1)
	agent := dial(ctx, b.Addrs().TCP, "os::agent-1", "agent secret", got)
	defer agent.Disconnect(&paho.Disconnect{})
	topic := agent.connack.Properties.User.Get("subscribe-topic") // [R-MQTT.15]
	fmt.Println("agent subscribes to", topic)
	if _, err := agent.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: topic, QoS: 1}}}); err != nil {
		panic(err)
	}

	ctl := dial(ctx, b.Addrs().TCP, "controller", "controller secret", nil)
	defer ctl.Disconnect(&paho.Disconnect{})
	if _, err := ctl.Publish(ctx, &paho.Publish{Topic: "usp/agent/os::agent-1", QoS: 1, Payload: []byte("a USP Record")}); err != nil {
		panic(err)
	}
	m := <-got
	fmt.Printf("agent got %q on %s\n", m.Payload, m.Topic)

	pr, _ := agent.Publish(ctx, &paho.Publish{Topic: "usp/agent/os::agent-2", QoS: 1, Payload: []byte("x")})
	fmt.Printf("agent to another agent: PUBACK reason %#x (not authorized)\n", pr.ReasonCode)
	// Output:
	// agent subscribes to usp/agent/os::agent-1/#
	// agent got "a USP Record" on usp/agent/os::agent-1
	// agent to another agent: PUBACK reason 0x87 (not authorized)
}

type exampleClient struct {
	*paho.Client
	connack *paho.Connack
}

func dial(ctx context.Context, addr, user, pass string, got chan *paho.Publish) exampleClient {
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		panic(err)
	}
	// paho writes from more than one goroutine; NewThreadSafeConn orders them.
	c := paho.NewClient(paho.ClientConfig{Conn: packets.NewThreadSafeConn(nc), OnPublishReceived: []func(paho.PublishReceived) (bool, error){
		func(pr paho.PublishReceived) (bool, error) { got <- pr.Packet; return true, nil },
	}})
	ca, err := c.Connect(ctx, &paho.Connect{ClientID: user, Username: user, UsernameFlag: true,
		Password: []byte(pass), PasswordFlag: true, CleanStart: true, KeepAlive: 30})
	if err != nil {
		panic(err)
	}
	return exampleClient{c, ca}
}
