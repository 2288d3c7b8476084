package broker_test

import (
	"context"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
)

// TestReplyToBinding: under USPPolicy an Agent may publish to a
// Controller topic only with a "reply to" Topic [R-MQTT.22] inside its
// own topic, in the Response Topic [R-MQTT.23] or after "/reply-to=" in
// the Topic Name [R-MQTT.24]; otherwise the PUBLISH is refused (PUBACK
// 0x87 at QoS 1 over MQTT 5) and logged, rate-limited.
func TestReplyToBinding(t *testing.T) {
	b, lb := start(t, uspOptions())
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
	tests := []struct {
		name, topic, resp string
		ok                bool
	}{
		{"response topic, own", "usp/controller/ctrl", "usp/agent/agent1", true},
		{"response topic, below own", "usp/controller/ctrl", "usp/agent/agent1/x", true},
		{"topic name, own", "usp/controller/ctrl/reply-to=usp%2Fagent%2Fagent1", "", true},
		{"both, own", "usp/controller/ctrl/reply-to=usp%2Fagent%2Fagent1", "usp/agent/agent1", true},
		{"none", "usp/controller/ctrl", "", false},
		{"response topic, other agent", "usp/controller/ctrl", "usp/agent/agent2", false},
		{"response topic, controller", "usp/controller/ctrl", "usp/controller/ctrl", false},
		{"topic name, other agent", "usp/controller/ctrl/reply-to=usp%2Fagent%2Fagent2", "", false},
		{"topic name, empty", "usp/controller/ctrl/reply-to=", "", false},
		{"own response topic, other in topic name", "usp/controller/ctrl/reply-to=usp%2Fagent%2Fagent2", "usp/agent/agent1", false},
	}
	for i, tt := range tests {
		payload := []byte(tt.name)
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		_, err := a1.Publish(ctx, &paho.Publish{Topic: tt.topic, QoS: 1, Payload: payload,
			Properties: &paho.PublishProperties{ResponseTopic: tt.resp}})
		cancel()
		if (err == nil) != tt.ok {
			t.Errorf("%d %s: err %v, want ok=%v", i, tt.name, err, tt.ok)
		}
		if tt.ok {
			ctl.expect(t, tt.topic, payload)
		}
	}
	ctl.expectNone(t)
	waitLog(t, lb, "PUBLISH refused: an Agent's reply-to must lie in its own topic")
	// A Controller is not bound: it may name any reply-to.
	a1sub, err := connect5(t, dial5{addr: addr, id: "a1s", user: "agent1", pass: "pw1"})
	if err != nil {
		t.Fatal(err)
	}
	if err := a1sub.subscribe(t, "usp/agent/agent1/#"); err != nil {
		t.Fatal(err)
	}
	if err := ctl.publishReply(t, "usp/agent/agent1", "usp/controller/ctrl", []byte("get"), 1); err != nil {
		t.Fatal(err)
	}
	a1sub.expect(t, "usp/agent/agent1", []byte("get"))
}

// TestReplyToBinding311: MQTT 3.1.1 carries the reply-to in the Topic
// Name [R-MQTT.24]; a QoS 0 PUBLISH without one is dropped, a QoS 1 one
// ends the connection, as the ACL does (3.1.1 has no negative PUBACK).
func TestReplyToBinding311(t *testing.T) {
	b, _ := start(t, uspOptions())
	addr := b.Addrs().TCP
	ctl, err := connect5(t, dial5{addr: addr, id: "c", user: "ctrl", pass: "pwc"})
	if err != nil {
		t.Fatal(err)
	}
	if err := ctl.subscribe(t, "usp/controller/ctrl/#"); err != nil {
		t.Fatal(err)
	}
	a, _, err := connect3(t, addr, "a3", "agent1", "pw1", nil)
	if err != nil {
		t.Fatal(err)
	}
	good := "usp/controller/ctrl/reply-to=usp%2Fagent%2Fagent1"
	if err := wait3(a.Publish(good, 1, false, "ok")); err != nil {
		t.Fatal(err)
	}
	ctl.expect(t, good, []byte("ok"))
	if err := wait3(a.Publish("usp/controller/ctrl", 0, false, "no reply-to")); err != nil {
		t.Fatal(err)
	}
	if err := wait3(a.Publish("usp/controller/ctrl/reply-to=usp%2Fagent%2Fagent2", 0, false, "other")); err != nil {
		t.Fatal(err)
	}
	ctl.expectNone(t)
	a.Publish("usp/controller/ctrl", 1, false, "no reply-to").WaitTimeout(time.Second)
	deadline := time.Now().Add(wait)
	for a.IsConnectionOpen() {
		if time.Now().After(deadline) {
			t.Fatal("still connected after a QoS 1 PUBLISH without reply-to")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := b.Stats().Denied; got != 3 {
		t.Errorf("Stats().Denied = %d, want 3", got)
	}
}
