package mqtt_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/mtp/mqtt"
)

// TestSharedSubscription: several Controller processes share one topic
// through a shared subscription ("$share/GROUP/topic" in
// Options.Subscriptions). Every Record published to the topic reaches
// exactly one of them, and what they send carries as its "reply to"
// Topic [R-MQTT.22] either the plain shared topic (Options.Topic is the
// topic, which the share filter covers, so it is not subscribed to
// besides) or a topic of each process's own (Options.Topic is that one).
func TestSharedSubscription(t *testing.T) {
	m := sharedMosquitto(t)
	tests := []struct {
		name     string
		v        mqtt.Version
		ownTopic bool // each member has its own reply topic
	}{
		{"MQTT5/plain-reply-to", mqtt.V5, false},
		{"MQTT5/own-reply-to", mqtt.V5, true},
		{"MQTT311/plain-reply-to", mqtt.V311, false},
		{"MQTT311/own-reply-to", mqtt.V311, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fleet := "usp/controller/fleet-" + randID()
			filter := fleet
			if tt.v == mqtt.V311 {
				filter += "/#" // the "/reply-to=" names below the topic [R-MQTT.24]
			}
			group := "g" + randID()
			var members []inbox
			var clients []*mqtt.Client
			for i := range 2 {
				topic := fleet
				if tt.ownTopic {
					topic = fmt.Sprintf("%s/member-%d", fleet, i)
				}
				o := m.options(t, tt.v, plain, topic)
				o.Subscriptions = []string{"$share/" + group + "/" + filter}
				st := newStates()
				o.OnState = st.onState
				c := mqtt.NewClient(o)
				ib := newInbox()
				serve(t, c, ib)
				st.wait(t, mtp.StateUp, 10*time.Second)
				members, clients = append(members, ib), append(clients, c)
			}
			agentTopic := "usp/agent/" + randID()
			ao := m.options(t, tt.v, plain, agentTopic)
			st := newStates()
			ao.OnState = st.onState
			agent := mqtt.NewClient(ao)
			fromMembers := newInbox()
			serve(t, agent, fromMembers)
			st.wait(t, mtp.StateUp, 10*time.Second)

			const n = 20
			for i := range n {
				if err := agent.Send(context.Background(), fleet, []byte(fmt.Sprintf("record-%02d", i))); err != nil {
					t.Fatal(err)
				}
			}
			got := map[string]int{}
			per := make([]int, len(members))
			for deadline := time.Now().Add(10 * time.Second); len(got) < n && time.Now().Before(deadline); {
				for i, ib := range members {
					select {
					case in := <-ib:
						got[string(in.Record)]++
						per[i]++
						if in.From.Address != agentTopic {
							t.Errorf("member %d: reply-to %q, want the agent's %q", i, in.From.Address, agentTopic)
						}
					case <-time.After(10 * time.Millisecond):
					}
				}
			}
			time.Sleep(200 * time.Millisecond) // a duplicate would arrive by now
			for i, ib := range members {
				for len(ib) > 0 {
					got[string((<-ib).Record)]++
					per[i]++
				}
			}
			for i := range n {
				if k := fmt.Sprintf("record-%02d", i); got[k] != 1 {
					t.Errorf("%s arrived %d times, want exactly once", k, got[k])
				}
			}
			if per[0] == 0 || per[1] == 0 {
				t.Errorf("records per member %v: the broker did not share the topic", per)
			}
			for i, c := range clients {
				if err := c.Send(context.Background(), agentTopic, []byte("reply")); err != nil {
					t.Fatal(err)
				}
				in := fromMembers.next(t, 10*time.Second)
				want := fleet
				if tt.ownTopic {
					want = fmt.Sprintf("%s/member-%d", fleet, i)
				}
				if in.From.Address != want || c.Topic() != want {
					t.Errorf("member %d: reply-to %q (Topic() %q), want %q", i, in.From.Address, c.Topic(), want)
				}
			}
		})
	}
}
