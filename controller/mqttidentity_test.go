package controller_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/uspkit/uspkit/broker"
	"github.com/uspkit/uspkit/controller"
	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/mtp/mqtt"
	"github.com/uspkit/uspkit/record"
	"github.com/uspkit/uspkit/store"
)

// On the embedded broker an Agent account cannot make the Controller
// take it for another Agent: a Connect Record naming another from_id with
// a reply-to in its own topic is refused by the Controller (the reply-to
// is not that Agent's topic), and one with a reply-to in the other
// Agent's topic is refused by the broker. Nothing is registered.
func TestMQTTFromIDBoundToLogin(t *testing.T) {
	for _, v := range []mqtt.Version{mqtt.V5, mqtt.V311} {
		t.Run(v.String(), func(t *testing.T) { testFromIDBound(t, v) })
	}
}

func testFromIDBound(t *testing.T, v mqtt.Version) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const mallory, victim = "proto::mallory", "proto::victim"
	b := startUSPBroker(t, map[string]string{"ctl": "c", mallory: "m"})
	const ctlTopic = "usp/controller/ctl"
	up := make(chan struct{}, 2)
	onUp := func(ctx context.Context, p mtp.Peer, s mtp.State, err error) {
		if s == mtp.StateUp {
			up <- struct{}{}
		}
	}
	ctl := mqtt.NewClient(&mqtt.Options{URL: "tcp://" + b.Addrs().TCP, Version: v, EndpointID: ctrlID, Username: "ctl", Password: "c", Topic: ctlTopic,
		MinWait: 100 * time.Millisecond, OnState: onUp})
	logs := &syncBuffer{}
	c, err := controller.New(ctx, controller.Options{EndpointID: ctrlID, Store: store.NewMemory(), Logger: newTextLogger(logs),
		MTPs: []controller.MTP{{Protocol: "MQTT", Transport: ctl, AgentTopic: "usp/agent/{eid}"}}})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	defer func() { cancel(); <-done }()
	<-up

	rv := record.MQTTVersion5
	if v == mqtt.V311 {
		rv = record.MQTTVersion311
	}
	for _, own := range []string{"usp/agent/" + mallory, "usp/agent/" + victim} {
		m := mqtt.NewClient(&mqtt.Options{URL: "tcp://" + b.Addrs().TCP, Version: v, EndpointID: mallory, Username: mallory, Password: "m",
			Topic: own, MinWait: time.Hour, OnState: onUp})
		mctx, mcancel := context.WithCancel(ctx)
		mdone := make(chan error, 1)
		go func() { mdone <- m.Serve(mctx, mtp.HandlerFunc(func(context.Context, mtp.Inbound) {})) }()
		select {
		case <-up:
			rec, _ := record.NewMQTTConnect(ctrlID, victim, rv, own).MarshalBinary()
			m.Send(ctx, ctlTopic, rec)
			// Mallory under its own name is heard, so the path works.
			rec, _ = record.NewMQTTConnect(ctrlID, mallory, rv, own).MarshalBinary()
			m.Send(ctx, ctlTopic, rec)
		case <-time.After(3 * time.Second):
			// Subscribing to the victim's topic is refused: no
			// connection, nothing sent.
		}
		time.Sleep(300 * time.Millisecond)
		mcancel()
		m.Close()
		<-mdone
	}
	if _, ok := c.Agent(victim); ok {
		t.Fatalf("the victim was registered from mallory's login; log:\n%s", logs.String())
	}
	if _, ok := c.Agent(mallory); !ok {
		t.Fatalf("mallory under its own name was not heard; log:\n%s", logs.String())
	}
}

func newTextLogger(w *syncBuffer) *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }

// startUSPBroker runs the embedded broker under the USP topic policy with
// these logins, "ctl" being the Controller's; it stops with the test.
func startUSPBroker(t *testing.T, users map[string]string) *broker.Broker {
	t.Helper()
	b, err := broker.New(&broker.Options{Addr: "127.0.0.1:0", Users: users, Controllers: []string{"ctl"}, USPPolicy: true,
		AgentTopicPattern: "usp/agent/{user}/#"})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}
