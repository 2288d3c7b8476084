package broker_test

import (
	"context"
	"crypto/x509"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	mqtt3 "github.com/eclipse/paho.mqtt.golang"

	"github.com/uspkit/uspkit/broker"
)

func uspOptions() broker.Options {
	return broker.Options{Users: users, Controllers: []string{"ctrl"}, USPPolicy: true}
}

// TestUSPPolicySubscribe: an Agent may subscribe within its own topic
// only [R-MQTT.42].
func TestUSPPolicySubscribe(t *testing.T) {
	b, lb := start(t, uspOptions())
	a1, err := connect5(t, dial5{addr: b.Addrs().TCP, id: "a1", user: "agent1", pass: "pw1"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		filter string
		ok     bool
	}{
		{"usp/agent/agent1/#", true},
		{"usp/agent/agent1", true},
		{"usp/agent/agent1/x/+", true},
		{"$share/g/usp/agent/agent1/#", true},
		{"usp/agent/agent2/#", false},
		{"usp/agent/agent2", false},
		{"usp/agent/+/#", false},
		{"usp/agent/#", false},
		{"usp/+/agent1/#", false},
		{"#", false},
		{"+/#", false},
		{"$SYS/#", false},
		{"$share/g/usp/agent/agent2/#", false},
		{"$share/g/#", false},
		{"usp/controller/#", false},
	}
	for _, tt := range tests {
		err := a1.subscribe(t, tt.filter)
		if (err == nil) != tt.ok {
			t.Errorf("subscribe %q: err %v, want ok=%v", tt.filter, err, tt.ok)
		}
	}
	// The first denial is logged in full, the others counted.
	waitLog(t, lb, `msg="ACL denied" action=subscribe topic=usp/agent/agent2/#`)
	if got := b.Stats().Denied; got != 11 {
		t.Errorf("Stats().Denied = %d, want 11", got)
	}
}

// TestUSPPolicyPublish: Agents publish to Controller topics only; a
// Controller also to Agent topics.
func TestUSPPolicyPublish(t *testing.T) {
	b, lb := start(t, uspOptions())
	addr := b.Addrs().TCP
	a1, err := connect5(t, dial5{addr: addr, id: "a1", user: "agent1", pass: "pw1"})
	if err != nil {
		t.Fatal(err)
	}
	a2, err := connect5(t, dial5{addr: addr, id: "a2", user: "agent2", pass: "pw2"})
	if err != nil {
		t.Fatal(err)
	}
	ctl, err := connect5(t, dial5{addr: addr, id: "c", user: "ctrl", pass: "pwc"})
	if err != nil {
		t.Fatal(err)
	}
	for c, f := range map[*client5]string{a1: "usp/agent/agent1/#", a2: "usp/agent/agent2/#", ctl: "usp/controller/ctrl/#"} {
		if err := c.subscribe(t, f); err != nil {
			t.Fatal(err)
		}
	}

	// Agent to Controller, replies to its own topic: allowed.
	if err := a1.publishReply(t, "usp/controller/ctrl", "usp/agent/agent1", []byte("notify"), 1); err != nil {
		t.Fatal(err)
	}
	ctl.expect(t, "usp/controller/ctrl", []byte("notify"))

	// Controller to Agent: allowed.
	if err := ctl.publish(t, "usp/agent/agent1", []byte("get"), 1); err != nil {
		t.Fatal(err)
	}
	a1.expect(t, "usp/agent/agent1", []byte("get"))

	// Agent to Agent: refused with PUBACK 0x87 at QoS 1, dropped at QoS 0.
	if err := a1.publish(t, "usp/agent/agent2", []byte("evil"), 1); err == nil {
		t.Fatal("agent published to another agent's topic")
	}
	if err := a1.publish(t, "usp/agent/agent2", []byte("evil0"), 0); err != nil {
		t.Fatal(err)
	}
	// Elsewhere: refused.
	if err := a1.publish(t, "other/topic", []byte("x"), 1); err == nil {
		t.Fatal("agent published outside the USP topics")
	}
	a2.expectNone(t)
	waitLog(t, lb, `msg="ACL denied" action=publish topic=usp/agent/agent2 client=a1 account=agent1`)
}

// TestUSPPolicyPublish311: a 3.1.1 client that publishes at QoS 1 where
// it may not is disconnected (3.1.1 has no negative PUBACK).
func TestUSPPolicyPublish311(t *testing.T) {
	b, _ := start(t, uspOptions())
	c, _, err := connect3(t, b.Addrs().TCP, "a1", "agent1", "pw1", nil)
	if err != nil {
		t.Fatal(err)
	}
	tok := c.Subscribe("usp/agent/agent2/#", 1, nil)
	if err := wait3(tok); err != nil {
		t.Fatal(err)
	}
	if got := tok.(*mqtt3.SubscribeToken).Result()["usp/agent/agent2/#"]; got != 0x80 {
		t.Fatalf("SUBACK return code %#x, want 0x80 (failure)", got)
	}
	c.Publish("usp/agent/agent2", 1, false, "evil").WaitTimeout(time.Second)
	deadline := time.Now().Add(wait)
	for c.IsConnectionOpen() {
		if time.Now().After(deadline) {
			t.Fatal("still connected after a forbidden QoS 1 publish")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestUSPPolicyTopicAlias: a topic alias is checked once resolved, and an
// alias to an allowed topic keeps working.
func TestUSPPolicyTopicAlias(t *testing.T) {
	b, _ := start(t, uspOptions())
	addr := b.Addrs().TCP
	a1, err := connect5(t, dial5{addr: addr, id: "a1", user: "agent1", pass: "pw1"})
	if err != nil {
		t.Fatal(err)
	}
	ctl, err := connect5(t, dial5{addr: addr, id: "c", user: "ctrl", pass: "pwc"})
	if err != nil {
		t.Fatal(err)
	}
	if err := ctl.subscribe(t, "usp/controller/ctrl/#"); err != nil {
		t.Fatal(err)
	}
	alias := uint16(1)
	pub := func(topic, payload string) error {
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		_, err := a1.Publish(ctx, &paho.Publish{Topic: topic, QoS: 1, Payload: []byte(payload),
			Properties: &paho.PublishProperties{TopicAlias: &alias, ResponseTopic: "usp/agent/agent1"}})
		return err
	}
	if err := pub("usp/controller/ctrl", "set"); err != nil {
		t.Fatal(err)
	}
	ctl.expect(t, "usp/controller/ctrl", []byte("set"))
	if err := pub("", "reuse"); err != nil {
		t.Fatal(err)
	}
	ctl.expect(t, "usp/controller/ctrl", []byte("reuse"))
	alias = 2
	if err := pub("", "unset alias"); err == nil {
		t.Fatal("publish to an unset alias accepted")
	}
}

// TestUSPPolicyWill: a Will topic the client may not publish to refuses
// the CONNECT, since mochi would otherwise publish it unchecked.
func TestUSPPolicyWill(t *testing.T) {
	b, _ := start(t, uspOptions())
	addr := b.Addrs().TCP
	c, err := connect5(t, dial5{addr: addr, id: "a1", user: "agent1", pass: "pw1", will: "usp/agent/agent2"})
	if err == nil || c.Connack == nil || c.Connack.ReasonCode != 0x87 {
		t.Fatalf("forbidden will: %v", err)
	}
	if _, err := connect5(t, dial5{addr: addr, id: "a1", user: "agent1", pass: "pw1", will: "usp/controller/ctrl/reply-to=usp%2Fagent%2Fagent1"}); err != nil {
		t.Fatal(err)
	}
}

// TestTakeover: a ClientId in use by one account cannot be taken by
// another (mochi would hand over its subscriptions), only by the same.
func TestTakeover(t *testing.T) {
	b, _ := start(t, uspOptions())
	addr := b.Addrs().TCP
	a1, err := connect5(t, dial5{addr: addr, id: "shared", user: "agent1", pass: "pw1"})
	if err != nil {
		t.Fatal(err)
	}
	if err := a1.subscribe(t, "usp/agent/agent1/#"); err != nil {
		t.Fatal(err)
	}
	c, err := connect5(t, dial5{addr: addr, id: "shared", user: "agent2", pass: "pw2"})
	if err == nil || c.Connack.ReasonCode != 0x87 {
		t.Fatalf("takeover by another account: %v", err)
	}
	again, err := connect5(t, dial5{addr: addr, id: "shared", user: "agent1", pass: "pw1"})
	if err != nil {
		t.Fatalf("takeover by the same account: %v", err)
	}
	select {
	case <-a1.Done():
	case <-time.After(wait):
		t.Fatal("old connection not closed on takeover")
	}
	_ = again
}

// TestAccountLists: Account.Subscribe and Account.Publish, with
// placeholders, from a custom AuthFunc.
func TestAccountLists(t *testing.T) {
	auth := func(_ context.Context, id, user string, _ []byte, _ []*x509.Certificate) (broker.Account, error) {
		return broker.Account{Name: user, Subscribe: []string{"status/{user}/#"}, Publish: []string{"status/+/{client}"}}, nil
	}
	b, _ := start(t, broker.Options{Authenticate: auth})
	c, err := connect5(t, dial5{addr: b.Addrs().TCP, id: "cid", user: "u"})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Connack.Properties.User.GetAll("subscribe-topic"); len(got) != 1 || got[0] != "status/u/#" {
		t.Errorf("subscribe-topic %q", got)
	}
	if err := c.subscribe(t, "status/u/#"); err != nil {
		t.Fatal(err)
	}
	if err := c.subscribe(t, "status/v/#"); err == nil {
		t.Fatal("subscribed outside the list")
	}
	if err := c.publish(t, "status/u/cid", []byte("x"), 1); err != nil {
		t.Fatal(err)
	}
	c.expect(t, "status/u/cid", []byte("x"))
	if err := c.publish(t, "status/u/other", []byte("x"), 1); err == nil {
		t.Fatal("published outside the list")
	}
}
