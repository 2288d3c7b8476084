package controller_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/uspkit/uspkit/controller"
	"github.com/uspkit/uspkit/internal/testenv"
	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/mtp/mqtt"
	"github.com/uspkit/uspkit/record"
	"github.com/uspkit/uspkit/store"
)

// An MQTT Agent whose connection dies is shown offline at once: over MQTT
// 3.1.1 the broker publishes the Disconnect Record the Agent left as its
// Will [R-MTP.7]; over MQTT 5 the first request it leaves unanswered
// tells.
func TestMQTTAgentGoesOfflineByWill(t *testing.T) {
	for _, v := range []mqtt.Version{mqtt.V5, mqtt.V311} {
		t.Run(v.String(), func(t *testing.T) { testOfflineByWill(t, v) })
	}
}

func testOfflineByWill(t *testing.T, v mqtt.Version) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b := startUSPBroker(t, map[string]string{"ctl": "c", agentID: "a"})
	const ctlTopic = "usp/controller/ctl"
	agentTopic := "usp/agent/" + agentID
	var c *controller.Controller
	ctlUp := make(chan struct{}, 1)
	ctlMQTT := mqtt.NewClient(&mqtt.Options{URL: "tcp://" + b.Addrs().TCP, Version: v, EndpointID: ctrlID, Username: "ctl", Password: "c", Topic: ctlTopic,
		MinWait: 100 * time.Millisecond, OnState: func(ctx context.Context, p mtp.Peer, s mtp.State, err error) {
			if s == mtp.StateUp {
				select {
				case ctlUp <- struct{}{}:
				default:
				}
			}
		}})
	c, err := controller.New(ctx, controller.Options{EndpointID: ctrlID, Store: store.NewMemory(), RequestTimeout: 2 * time.Second,
		MTPs: []controller.MTP{{Protocol: "MQTT", Transport: ctlMQTT, AgentTopic: "usp/agent/{eid}"}}})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	defer func() { cancel(); <-done }()
	<-ctlUp

	proxy := testenv.NewProxy(t, b.Addrs().TCP)
	will, _ := record.NewDisconnect(ctrlID, agentID, 0, "MQTT connection lost").MarshalBinary()
	agentUp := make(chan struct{}, 1)
	ag := mqtt.NewClient(&mqtt.Options{URL: "tcp://" + proxy.Addr(), Version: v, EndpointID: agentID, Username: agentID, Password: "a",
		Topic: agentTopic, Will: &mqtt.Will{Topic: ctlTopic, Record: will}, MinWait: time.Hour, OnState: func(ctx context.Context, p mtp.Peer, s mtp.State, err error) {
			if s == mtp.StateUp {
				select {
				case agentUp <- struct{}{}:
				default:
				}
			}
		}})
	actx, acancel := context.WithCancel(ctx)
	adone := make(chan error, 1)
	go func() { adone <- ag.Serve(actx, mtp.HandlerFunc(func(context.Context, mtp.Inbound) {})) }()
	defer func() { acancel(); ag.Close(); <-adone }()
	select {
	case <-agentUp:
	case <-time.After(10 * time.Second):
		t.Fatal("the agent did not connect")
	}
	rv := record.MQTTVersion5
	if v == mqtt.V311 {
		rv = record.MQTTVersion311
	}
	conn, _ := record.NewMQTTConnect(ctrlID, agentID, rv, agentTopic).MarshalBinary()
	if err := ag.Send(ctx, ctlTopic, conn); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { a, ok := c.Agent(agentID); return ok && a.Online && a.Verified })

	proxy.Cut()
	start := time.Now()
	if v == mqtt.V5 {
		// No Will over MQTT 5 (see mqtt.Will): the first unanswered
		// request shows the Agent dead.
		if _, err := c.Do(ctx, agentID, get("Device.LocalAgent.EndpointID")); !errors.Is(err, controller.ErrTimeout) {
			t.Fatalf("request to a dead agent: %v", err)
		}
	}
	waitFor(t, func() bool { a, _ := c.Agent(agentID); return !a.Online })
	t.Logf("offline %v after the connection died", time.Since(start).Round(time.Millisecond))
	if limit := 3 * time.Second; time.Since(start) > limit {
		t.Errorf("offline only after %v", time.Since(start))
	}
	// Now a request is queued at once instead of waiting for a timeout.
	qctx, qcancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer qcancel()
	if _, err := c.Do(qctx, agentID, get("Device.LocalAgent.EndpointID")); !errors.Is(err, controller.ErrQueued) {
		t.Fatalf("request to an offline agent: %v", err)
	}
}

func waitFor(t *testing.T, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 10 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
