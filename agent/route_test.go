package agent_test

import (
	"context"
	"testing"
	"time"

	"github.com/uspkit/uspkit/agent"
	"github.com/uspkit/uspkit/datamodel"
	"github.com/uspkit/uspkit/internal/testenv"
	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/mtp/mqtt"
	"github.com/uspkit/uspkit/record"
	"github.com/uspkit/uspkit/schema"
	"github.com/uspkit/uspkit/wire"
)

// mqttEnd is one MQTT client of the Controller, on its own topic, that
// keeps what arrives.
type mqttEnd struct {
	c   *mqtt.Client
	got chan *wire.Msg
}

func newMQTTEnd(t *testing.T, broker, topic string) *mqttEnd {
	t.Helper()
	up := make(chan struct{}, 1)
	e := &mqttEnd{got: make(chan *wire.Msg, 16)}
	e.c = mqtt.NewClient(&mqtt.Options{URL: "tcp://" + broker, EndpointID: ctrlID, Topic: topic, MinWait: 100 * time.Millisecond,
		OnState: func(ctx context.Context, p mtp.Peer, s mtp.State, err error) {
			if s == mtp.StateUp {
				select {
				case up <- struct{}{}:
				default:
				}
			}
		}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		e.c.Serve(ctx, mtp.HandlerFunc(func(ctx context.Context, in mtp.Inbound) {
			var rec record.Record
			var m wire.Msg
			if record.Decode(in.Record, &rec, nil) == nil && wire.UnmarshalMsg(rec.Payload, &m) == nil {
				e.got <- &m
			}
		}))
	}()
	t.Cleanup(func() { cancel(); e.c.Close(); <-done })
	select {
	case <-up:
	case <-time.After(10 * time.Second):
		t.Fatalf("MQTT client on %s not connected", topic)
	}
	return e
}

func (e *mqttEnd) send(t *testing.T, to string, id string, req *wire.Request) {
	t.Helper()
	m := &wire.Msg{Header: &wire.Header{MsgId: id, MsgType: wire.RequestMsgType(req)}, Body: &wire.Body{MsgBody: &wire.Body_Request{Request: req}}}
	payload, _ := wire.MarshalMsg(m)
	b, _ := record.NewNoSession(agentID, ctrlID, payload).MarshalBinary()
	if err := e.c.Send(context.Background(), to, b); err != nil {
		t.Fatal(err)
	}
}

// next returns the next Msg that arrived within d, or nil.
func (e *mqttEnd) next(d time.Duration) *wire.Msg {
	select {
	case m := <-e.got:
		return m
	case <-time.After(d):
		return nil
	}
}

// TestNotifyToConfiguredMQTTTopic: responses go to the request's reply-to
// topic [R-MQTT.26], but a Notify goes to the Controller's
// Device.LocalAgent.Controller.{i}.MTP.{i}.MQTT.Topic (TR-181: the topic
// "to be used for Notify messages sent by the USP Agent"), not to a
// temporary reply-to topic the Controller once used.
func TestNotifyToConfiguredMQTTTopic(t *testing.T) {
	broker := testenv.Mosquitto(t)
	const agentTopic, notifyTopic, tmpTopic = "usp/agent/route", "usp/controller/notify", "usp/controller/tmp-1"
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
		Factory: &agent.Config{Controllers: []agent.ControllerConfig{{EndpointID: ctrlID, MTPs: []agent.ControllerMTPConf{{Protocol: "MQTT", Topic: notifyTopic}}}}}})
	if err != nil {
		t.Fatal(err)
	}
	close(ready)
	notifyEnd := newMQTTEnd(t, broker, notifyTopic)
	tmp := newMQTTEnd(t, broker, tmpTopic)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	// The agent's MQTTConnect and Boot! (no subscription: nothing) may
	// reach the configured topic first; drain it.
	for notifyEnd.next(500*time.Millisecond) != nil {
	}
	tmp.send(t, agentTopic, "add-1", addReq("Device.LocalAgent.Subscription.", "ID", "route", "NotifType", "ValueChange",
		"ReferenceList", "Device.LocalAgent.Controller.1.ProvisioningCode", "Enable", "true"))
	if r := tmp.next(10 * time.Second); r.GetBody().GetResponse().GetAddResp() == nil {
		t.Fatalf("AddResp at the reply-to topic: %v", r)
	}
	tmp.send(t, agentTopic, "set-1", setReq(false, "Device.LocalAgent.Controller.1.", "ProvisioningCode", "route-test"))
	var resp, notify *wire.Msg
	for deadline := time.Now().Add(10 * time.Second); (resp == nil || notify == nil) && time.Now().Before(deadline); {
		if r := tmp.next(100 * time.Millisecond); r != nil {
			if r.GetBody().GetRequest().GetNotify() != nil {
				t.Errorf("Notify sent to the reply-to topic %s: %v", tmpTopic, r)
			} else {
				resp = r
			}
		}
		if n := notifyEnd.next(100 * time.Millisecond); n != nil && n.GetBody().GetRequest().GetNotify() != nil {
			notify = n
		}
	}
	if resp.GetBody().GetResponse().GetSetResp() == nil {
		t.Errorf("SetResp at the reply-to topic: %v", resp)
	}
	if vc := notify.GetBody().GetRequest().GetNotify().GetValueChange(); vc.GetParamValue() != "route-test" {
		t.Errorf("Notify at the configured topic %s: %v", notifyTopic, notify)
	}
}

// TestNotifyMTPOrderAndReference: a Notify goes over the Controller's
// enabled MTPs in their Order, and an MQTT MTP publishes through the MQTT
// client its MQTT.Reference names; when that MTP is disabled the next in
// Order takes over.
func TestNotifyMTPOrderAndReference(t *testing.T) {
	d := &pipeDialer{dials: make(chan dialled, 16), fail: map[string]bool{}}
	mqttMTP := func(alias, broker string) agent.MTPConfig {
		return agent.MTPConfig{Alias: alias, Protocol: "MQTT", Connection: map[string]string{"BrokerAddress": broker, "BrokerPort": "1883",
			"ProtocolVersion": "5.0"}, Params: map[string]string{"MQTT.ResponseTopicConfigured": "usp/agent/" + alias}}
	}
	e := start(t, nil, func(o *agent.Options) {
		o.Dialer = d
		o.Factory.MTPs = []agent.MTPConfig{mqttMTP("one", "broker-1.example"), mqttMTP("two", "broker-2.example")}
	})
	byClient := map[string]*ctl{}
	for range 2 {
		x := d.next(t)
		c := newCtl(t, x.ctl, ctrlID)
		t.Cleanup(c.close)
		byClient[x.conn.MQTT.Client] = c
	}
	one, two := byClient["Device.MQTT.Client.1."], byClient["Device.MQTT.Client.2."]
	if one == nil || two == nil {
		t.Fatalf("dialled %v", byClient)
	}
	// The factory UDS MTP comes second; an MQTT MTP through client 2,
	// whose topic the pipe answers to, first.
	setOK(t, e, "Device.LocalAgent.Controller.1.MTP.1.", "Order", "2")
	r := e.ctl.do(addReq("Device.LocalAgent.Controller.1.MTP.", "Enable", "true", "Protocol", "MQTT", "Order", "1",
		"MQTT.Reference", "Device.MQTT.Client.2", "MQTT.Topic", ctrlID))
	added := r.GetBody().GetResponse().GetAddResp().GetCreatedObjResults()
	if len(added) != 1 || added[0].GetOperStatus().GetOperSuccess() == nil {
		t.Fatalf("add: %v", r)
	}
	mqttRow := added[0].GetOperStatus().GetOperSuccess().GetInstantiatedPath()
	// Client 2 now carries this Controller's Will [R-MTP.7]: it is dialled
	// again with it.
	if x := d.next(t); x.conn.MQTT == nil || x.conn.MQTT.Client != "Device.MQTT.Client.2." || x.conn.MQTT.WillController != ctrlID {
		t.Fatalf("dialled %+v", x.conn)
	} else {
		two = newCtl(t, x.ctl, ctrlID)
		t.Cleanup(two.close)
	}
	eventually(t, e, "Device.MQTT.Client.2.Status", "Connected")
	e.ctl.subscribe(t, "order", "ValueChange", "Device.LocalAgent.Controller.1.ProvisioningCode")

	setOK(t, e, "Device.LocalAgent.Controller.1.", "ProvisioningCode", "first")
	if n := two.notification(3 * time.Second); n.GetBody().GetRequest().GetNotify().GetValueChange().GetParamValue() != "first" {
		t.Errorf("over client 2: %v", n)
	}
	for name, c := range map[string]*ctl{"client 1": one, "UDS": e.ctl} {
		if n := c.notification(200 * time.Millisecond); n != nil {
			t.Errorf("Notify over %s: %v", name, n)
		}
	}

	setOK(t, e, mqttRow, "Enable", "false")
	setOK(t, e, "Device.LocalAgent.Controller.1.", "ProvisioningCode", "second")
	if n := e.ctl.notification(3 * time.Second); n.GetBody().GetRequest().GetNotify().GetValueChange().GetParamValue() != "second" {
		t.Errorf("over UDS once MQTT is disabled: %v", n)
	}
	if n := two.notification(200 * time.Millisecond); n != nil {
		t.Errorf("Notify over the disabled MTP: %v", n)
	}
}
