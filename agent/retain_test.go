package agent_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	mqtt311 "github.com/eclipse/paho.mqtt.golang"

	"github.com/uspkit/uspkit/agent"
	"github.com/uspkit/uspkit/datamodel"
	"github.com/uspkit/uspkit/internal/testenv"
	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/mtp/mqtt"
	"github.com/uspkit/uspkit/record"
	"github.com/uspkit/uspkit/schema"
	"github.com/uspkit/uspkit/wire"
)

// retainRig is an Agent on MQTT whose one Controller has an MQTT MTP row
// (Device.LocalAgent.Controller.1.MTP.1.MQTT.) with the Notify topic
// notify; ctrl is the Controller's client on its reply-to topic reply,
// and live a subscriber of notify that sees each Notify as it is sent.
type retainRig struct {
	broker        string
	notify, reply string
	agentTopic    string
	ctrl, live    *mqttEnd
	n             int
}

var retainSeq atomic.Int64

func newRetainRig(t *testing.T, broker string) *retainRig {
	t.Helper()
	id := retainSeq.Add(1)
	r := &retainRig{broker: broker, notify: fmt.Sprintf("usp/retain/%d/notify", id), reply: fmt.Sprintf("usp/retain/%d/reply", id)}
	agentTopic := fmt.Sprintf("usp/retain/%d/agent", id)
	m := schema.New()
	agent.Define(m)
	mux := datamodel.NewMux(m)
	var a *agent.Agent
	ready := make(chan struct{})
	onState := func(ctx context.Context, p mtp.Peer, s mtp.State, err error) {
		<-ready
		a.OnState("MQTT")(ctx, p, s, err)
	}
	tr := mqtt.NewClient(&mqtt.Options{URL: "tcp://" + broker, EndpointID: agentID, Topic: agentTopic, MinWait: 100 * time.Millisecond, OnState: onState})
	var err error
	a, err = agent.New(context.Background(), agent.Options{EndpointID: agentID, Mux: mux,
		MTPs:    []agent.MTP{{Protocol: "MQTT", Transport: tr}},
		Factory: &agent.Config{Controllers: []agent.ControllerConfig{{EndpointID: ctrlID, MTPs: []agent.ControllerMTPConf{{Protocol: "MQTT", Topic: r.notify}}}}}})
	if err != nil {
		t.Fatal(err)
	}
	close(ready)
	r.live = newMQTTEnd(t, broker, r.notify)
	r.ctrl = newMQTTEnd(t, broker, r.reply)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	// The MQTTConnect and Boot! Records may reach the Notify topic first.
	for r.live.next(500*time.Millisecond) != nil {
	}
	r.ctrl.send(t, agentTopic, "add-sub", addReq("Device.LocalAgent.Subscription.", "ID", "retain", "NotifType", "ValueChange",
		"ReferenceList", "Device.LocalAgent.Controller.1.ProvisioningCode", "Enable", "true"))
	if m := r.ctrl.next(10 * time.Second); m.GetBody().GetResponse().GetAddResp() == nil {
		t.Fatalf("AddResp: %v", m)
	}
	r.agentTopic = agentTopic
	return r
}

// request sends req and waits for its answer.
func (r *retainRig) request(t *testing.T, req *wire.Request) *wire.Msg {
	t.Helper()
	r.n++
	id := fmt.Sprintf("req-%d", r.n)
	r.ctrl.send(t, r.agentTopic, id, req)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		if m := r.ctrl.next(100 * time.Millisecond); m.GetHeader().GetMsgId() == id {
			return m
		}
	}
	t.Fatalf("no answer to %s", id)
	return nil
}

// setRow sets a parameter of the Controller's MQTT MTP row.
func (r *retainRig) setRow(t *testing.T, param, value string) {
	t.Helper()
	if m := r.request(t, setReq(false, "Device.LocalAgent.Controller.1.MTP.1.MQTT.", param, value)); m.GetBody().GetResponse().GetSetResp() == nil {
		t.Fatalf("Set %s: %v", param, m)
	}
}

// notifyValue changes ProvisioningCode and waits until the live
// subscriber has the Notify of the change.
func (r *retainRig) notifyValue(t *testing.T, v string) {
	t.Helper()
	if m := r.request(t, setReq(false, "Device.LocalAgent.Controller.1.", "ProvisioningCode", v)); m.GetBody().GetResponse().GetSetResp() == nil {
		t.Fatalf("Set ProvisioningCode: %v", m)
	}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		if m := r.live.next(100 * time.Millisecond); m.GetBody().GetRequest().GetNotify().GetValueChange().GetParamValue() == v {
			return
		}
	}
	t.Fatalf("no Notify of ProvisioningCode %q", v)
}

// lateMessage subscribes to topic after the fact and returns the Msg the
// broker hands over at once (a retained one) with its RETAIN flag, or nil
// when nothing comes within a second.
func lateMessage(t *testing.T, broker, topic string) (*wire.Msg, bool) {
	t.Helper()
	got := make(chan mqtt311.Message, 4)
	o := mqtt311.NewClientOptions().AddBroker("tcp://" + broker).SetClientID(fmt.Sprintf("late-%d", retainSeq.Add(1))).
		SetProtocolVersion(4).SetAutoReconnect(false).
		SetDefaultPublishHandler(func(_ mqtt311.Client, m mqtt311.Message) {
			select {
			case got <- m:
			default:
			}
		})
	c := mqtt311.NewClient(o)
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("late subscriber: connect: %v", tok.Error())
	}
	defer c.Disconnect(100)
	// MQTT 3.1.1 topics carry the "reply to" Topic after the destination.
	if tok := c.Subscribe(topic+"/#", 1, nil); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("late subscriber: subscribe: %v", tok.Error())
	}
	if tok := c.Subscribe(topic, 1, nil); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("late subscriber: subscribe: %v", tok.Error())
	}
	select {
	case m := <-got:
		var rec record.Record
		var msg wire.Msg
		if err := record.Decode(m.Payload(), &rec, nil); err != nil {
			t.Fatalf("late subscriber: record: %v", err)
		}
		if err := wire.UnmarshalMsg(rec.Payload, &msg); err != nil {
			t.Fatalf("late subscriber: msg: %v", err)
		}
		return &msg, m.Retained()
	case <-time.After(time.Second):
		return nil, false
	}
}

// TestPublishRetain: with Device.LocalAgent.Controller.{i}.MTP.{i}.MQTT.
// PublishRetainNotify (PublishRetainResponse) true, the Agent publishes
// its Notify (Response) Messages with RETAIN = 1, so that a Controller
// that subscribes later gets the last one marked retained; false, the
// default, it does not (TR-181 2.16; [R-MQTT.18] for the topics).
func TestPublishRetain(t *testing.T) {
	broker := testenv.Mosquitto(t)
	for _, tc := range []struct {
		name     string
		param    string // set to "true" first; "" keeps the defaults
		response bool   // a Response is checked, else a Notify
		retained bool
	}{
		{name: "notify/default", retained: false},
		{name: "notify/false", param: "PublishRetainResponse", retained: false},
		{name: "notify/true", param: "PublishRetainNotify", retained: true},
		{name: "response/default", response: true, retained: false},
		{name: "response/false", param: "PublishRetainNotify", response: true, retained: false},
		{name: "response/true", param: "PublishRetainResponse", response: true, retained: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRetainRig(t, broker)
			if tc.param != "" {
				r.setRow(t, tc.param, "true")
			}
			topic, want := r.notify, ""
			if tc.response {
				m := r.request(t, get("Device.LocalAgent.Controller.1.MTP.1.MQTT."))
				if m.GetBody().GetResponse().GetGetResp() == nil {
					t.Fatalf("GetResp: %v", m)
				}
				topic, want = r.reply, m.GetHeader().GetMsgId()
			} else {
				r.notifyValue(t, "retain-1")
			}
			m, flag := lateMessage(t, broker, topic)
			switch {
			case !tc.retained && m != nil:
				t.Fatalf("a later subscriber got %v (RETAIN %v); want nothing retained", m, flag)
			case !tc.retained:
				return
			case m == nil:
				t.Fatal("a later subscriber got nothing; want the retained Record")
			case !flag:
				t.Errorf("RETAIN flag 0 on the message a later subscriber got")
			}
			if tc.response {
				if m.GetBody().GetResponse().GetGetResp() == nil || m.GetHeader().GetMsgId() != want {
					t.Errorf("retained message %v; want the GetResp %s", m, want)
				}
			} else if m.GetBody().GetRequest().GetNotify().GetValueChange().GetParamValue() != "retain-1" {
				t.Errorf("retained message %v; want the Notify of retain-1", m)
			}
		})
	}
}

// TestPublishRetainNotifyChange: a change of PublishRetainNotify applies
// from the next Notify on: off, nothing is retained; on, the Notify is;
// off again, the next Notify is not (the broker still holds the earlier
// one).
func TestPublishRetainNotifyChange(t *testing.T) {
	broker := testenv.Mosquitto(t)
	r := newRetainRig(t, broker)
	r.notifyValue(t, "v0")
	if m, _ := lateMessage(t, broker, r.notify); m != nil {
		t.Fatalf("retained with PublishRetainNotify false: %v", m)
	}
	r.setRow(t, "PublishRetainNotify", "true")
	r.notifyValue(t, "v1")
	if m, flag := lateMessage(t, broker, r.notify); !flag || m.GetBody().GetRequest().GetNotify().GetValueChange().GetParamValue() != "v1" {
		t.Fatalf("after PublishRetainNotify true: retained %v (RETAIN %v); want the Notify of v1", m, flag)
	}
	r.setRow(t, "PublishRetainNotify", "false")
	r.notifyValue(t, "v2")
	if m, _ := lateMessage(t, broker, r.notify); m.GetBody().GetRequest().GetNotify().GetValueChange().GetParamValue() != "v1" {
		t.Fatalf("after PublishRetainNotify false: retained %v; want still the Notify of v1", m)
	}
	// The Responses follow their own parameter.
	if m, _ := lateMessage(t, broker, r.reply); m != nil {
		t.Fatalf("a Response retained with PublishRetainResponse false: %v", m)
	}
}

// TestPublishRetainUnavailable: a server whose CONNACK says Retain
// Available = 0 gets the Agent's Notify and Response with RETAIN = 0
// (TR-181 PublishRetainNotify, PublishRetainResponse): mosquitto with
// retain_available false would end the connection of a client that
// publishes a retained message, so every Record still arrives.
func TestPublishRetainUnavailable(t *testing.T) {
	srv := testenv.StartMosquittoWith(t, &testenv.MosquittoOptions{Global: "retain_available false"})
	r := newRetainRig(t, srv.Plain)
	r.setRow(t, "PublishRetainNotify", "true")
	r.setRow(t, "PublishRetainResponse", "true")
	for i := range 3 {
		r.notifyValue(t, fmt.Sprintf("u%d", i)) // fails when a Notify is lost with its connection
		if m := r.request(t, get("Device.LocalAgent.Controller.1.ProvisioningCode")); m.GetBody().GetResponse().GetGetResp() == nil {
			t.Fatalf("GetResp: %v", m)
		}
	}
}
