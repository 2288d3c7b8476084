package broker_test

import (
	"context"
	"crypto/x509"
	"errors"
	"net"
	"testing"

	packets3 "github.com/eclipse/paho.mqtt.golang/packets"

	"github.com/uspkit/uspkit/broker"
)

var users = map[string]string{"agent1": "pw1", "agent2": "pw2", "ctrl": "pwc"}

// TestRoundTrip5 publishes and receives over MQTT 5 [R-MQTT.39], QoS 0
// to 2 [R-MQTT.46].
func TestRoundTrip5(t *testing.T) {
	b, _ := start(t, broker.Options{Users: users})
	sub, err := connect5(t, dial5{addr: b.Addrs().TCP, id: "sub", user: "agent1", pass: "pw1"})
	if err != nil {
		t.Fatal(err)
	}
	pub, err := connect5(t, dial5{addr: b.Addrs().TCP, id: "pub", user: "agent2", pass: "pw2"})
	if err != nil {
		t.Fatal(err)
	}
	if err := sub.subscribe(t, "t/#"); err != nil {
		t.Fatal(err)
	}
	for qos := range byte(3) {
		payload := []byte{0, 1, 2, qos}
		if err := pub.publish(t, "t/x", payload, qos); err != nil {
			t.Fatal(err)
		}
		sub.expect(t, "t/x", payload)
	}
}

// TestRoundTrip311 does the same with MQTT 3.1.1 clients [R-MQTT.40],
// and across protocol versions.
func TestRoundTrip311(t *testing.T) {
	b, _ := start(t, broker.Options{Users: users})
	addr := b.Addrs().TCP
	c3, msgs, err := connect3(t, addr, "v3", "agent1", "pw1", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := wait3(c3.Subscribe("t/#", 1, nil)); err != nil {
		t.Fatal(err)
	}
	if err := wait3(c3.Publish("t/a", 1, false, "from v3")); err != nil {
		t.Fatal(err)
	}
	expect3(t, msgs, "t/a", "from v3")
	c5, err := connect5(t, dial5{addr: addr, id: "v5", user: "agent2", pass: "pw2"})
	if err != nil {
		t.Fatal(err)
	}
	if err := c5.publish(t, "t/b", []byte("from v5"), 1); err != nil {
		t.Fatal(err)
	}
	expect3(t, msgs, "t/b", "from v5")
}

// TestAuthentication covers who may connect: anonymous clients are
// refused by default, wrong or unknown passwords always [R-MQTT.42].
func TestAuthentication(t *testing.T) {
	tests := []struct {
		name       string
		opts       broker.Options
		user, pass string
		ok         bool
		code       byte // MQTT 5 CONNACK reason when refused
	}{
		{name: "anonymous refused by default", opts: broker.Options{Users: users}, code: 0x86},
		{name: "anonymous allowed", opts: broker.Options{AllowAnonymous: true}, ok: true},
		{name: "good password", opts: broker.Options{Users: users}, user: "agent1", pass: "pw1", ok: true},
		{name: "wrong password", opts: broker.Options{Users: users}, user: "agent1", pass: "pw2", code: 0x86},
		{name: "empty password", opts: broker.Options{Users: users}, user: "agent1", code: 0x86},
		{name: "unknown user", opts: broker.Options{Users: users}, user: "nobody", pass: "pw1", code: 0x86},
		{name: "wrong password with anonymous allowed", opts: broker.Options{Users: users, AllowAnonymous: true},
			user: "agent1", pass: "nope", code: 0x86},
		{name: "anonymous under USPPolicy is named by its ClientId", opts: broker.Options{AllowAnonymous: true, USPPolicy: true},
			ok: true},
		{name: "anonymous under USPPolicy may not take an account's name", opts: broker.Options{Users: map[string]string{"c1": "x", "c3": "y"},
			AllowAnonymous: true, USPPolicy: true}, code: 0x87},
		{name: "anonymous under USPPolicy with a {client} pattern",
			opts: broker.Options{AllowAnonymous: true, USPPolicy: true, AgentTopicPattern: "usp/agent/{client}/#"}, ok: true},
		{name: "custom Authenticate", opts: broker.Options{Authenticate: func(_ context.Context, id, u string, p []byte, _ []*x509.Certificate) (broker.Account, error) {
			if u == "x" && string(p) == "y" {
				return broker.Account{Name: u}, nil
			}
			return broker.Account{}, errors.New("no")
		}}, user: "x", pass: "y", ok: true},
		{name: "custom Authenticate refuses", opts: broker.Options{Users: users, Authenticate: func(context.Context, string, string, []byte, []*x509.Certificate) (broker.Account, error) {
			return broker.Account{}, errors.New("no")
		}}, user: "agent1", pass: "pw1", code: 0x86},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, lb := start(t, tt.opts)
			c, err := connect5(t, dial5{addr: b.Addrs().TCP, id: "c1", user: tt.user, pass: tt.pass})
			if tt.ok {
				if err != nil {
					t.Fatalf("refused: %v\n%s", err, lb)
				}
				return
			}
			if err == nil {
				t.Fatal("connected, want refusal")
			}
			if c == nil || c.Connack == nil || c.Connack.ReasonCode != tt.code {
				t.Fatalf("err %v, connack %+v; want reason %#x", err, c, tt.code)
			}
			waitLog(t, lb, "connect refused")
			// The same over MQTT 3.1.1: return code 5, not authorized.
			if _, _, err := connect3(t, b.Addrs().TCP, "c3", tt.user, tt.pass, nil); err == nil ||
				!errors.Is(err, packets3.ErrorRefusedNotAuthorised) {
				t.Fatalf("3.1.1: %v, want not authorized", err)
			}
		})
	}
}

// TestOptionErrors checks that New rejects bad options.
func TestOptionErrors(t *testing.T) {
	tests := []broker.Options{
		{AgentTopicPattern: "{user}/#"},
		{AgentTopicPattern: "usp/a#/{user}"},
		{AgentTopicPattern: "usp/{nobody}/#"},
		{ControllerTopicPattern: "usp/agent/{client}/#"},
	}
	for _, o := range tests {
		if _, err := broker.New(&o); err == nil {
			t.Errorf("New(%+v) succeeded", o)
		}
	}
}

// TestCloseFreesPort listens again on the port of a closed broker.
func TestCloseFreesPort(t *testing.T) {
	b, _ := start(t, broker.Options{Users: users, WebSocketAddr: "127.0.0.1:0"})
	a := b.Addrs()
	if _, err := connect5(t, dial5{addr: a.TCP, id: "c", user: "agent1", pass: "pw1"}); err != nil {
		t.Fatal(err)
	}
	// A connection that never sends CONNECT must not hold Close up.
	idle, err := net.Dial("tcp", a.TCP)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal("second Close:", err)
	}
	if err := b.Start(context.Background()); !errors.Is(err, broker.ErrClosed) {
		t.Fatalf("Start after Close: %v", err)
	}
	b2, _ := start(t, broker.Options{Addr: a.TCP, WebSocketAddr: a.WebSocket, Users: users})
	if got := b2.Addrs(); got != a {
		t.Fatalf("addrs %+v, want %+v", got, a)
	}
	if _, err := connect5(t, dial5{addr: a.TCP, id: "c", user: "agent1", pass: "pw1"}); err != nil {
		t.Fatal(err)
	}
}

// TestServe runs the broker until its context ends.
func TestServe(t *testing.T) {
	b, err := broker.New(&broker.Options{Addr: "127.0.0.1:0", AllowAnonymous: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Serve(ctx) }()
	for b.Addrs().TCP == "" {
		select {
		case err := <-done:
			t.Fatal(err)
		default:
		}
	}
	if _, err := connect5(t, dial5{addr: b.Addrs().TCP, id: "c"}); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := net.Dial("tcp", b.Addrs().TCP); err == nil {
		t.Fatal("still listening after Serve returned")
	}
}
