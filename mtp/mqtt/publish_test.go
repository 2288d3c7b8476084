package mqtt_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/uspkit/uspkit/internal/testenv"
	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/mtp/mqtt"
)

// TestPublishMessage: Client.Publish sends a message other than a Record
// (a Bulk Data report, TR-181 Device.BulkData.Profile.{i}.MQTT.PublishQoS
// and PublishRetain) to mosquitto at the QoS asked for, with the RETAIN
// flag when asked: a subscriber connected before receives it at that
// QoS, one that subscribes after receives it marked retained only when
// Retain was set. It has its Content Type and no Response Topic.
func TestPublishMessage(t *testing.T) {
	m := sharedMosquitto(t)
	for _, tc := range []struct {
		name   string
		qos    mqtt.QoS
		want   byte
		retain bool
	}{
		{"qos0", mqtt.QoS0, 0, false},
		{"qos0-retain", mqtt.QoS0, 0, true},
		{"qos1", mqtt.QoS1, 1, false},
		{"qos1-retain", mqtt.QoS1, 1, true},
		{"qos2", mqtt.QoS2, 2, false},
		{"qos2-retain", mqtt.QoS2, 2, true},
		{"default-retain", mqtt.QoSDefault, 1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := randID()
			topic := "bulkdata/" + tc.name + "/" + id
			live := newRawV5(t, m.Plain, topic)
			o := m.options(t, mqtt.V5, plain, "usp/agent/"+id)
			st := newStates()
			o.OnState = st.onState
			c := mqtt.NewClient(o)
			serve(t, c, newInbox())
			st.wait(t, mtp.StateUp, 10*time.Second)
			body := []byte(`{"Report":[]}`)
			msg := mqtt.Message{Topic: topic, Payload: body, QoS: tc.qos, Retain: tc.retain, ContentType: "application/json; charset=UTF-8"}
			if err := c.Publish(context.Background(), msg); err != nil {
				t.Fatal(err)
			}
			p := live.next(t)
			if p.Topic != topic || !bytes.Equal(p.Payload, body) || p.QoS != tc.want {
				t.Errorf("live subscriber got %q %q at QoS %d, want %q %q at QoS %d", p.Topic, p.Payload, p.QoS, topic, body, tc.want)
			}
			if p.Properties == nil || p.Properties.ContentType != msg.ContentType || p.Properties.ResponseTopic != "" {
				t.Errorf("properties %+v, want Content Type %q and no Response Topic", p.Properties, msg.ContentType)
			}
			late := newRawV5(t, m.Plain, topic)
			select {
			case p := <-late.got:
				if !tc.retain {
					t.Errorf("late subscriber got %q (retain %v) of a message published without Retain", p.Payload, p.Retain)
				} else if !p.Retain || !bytes.Equal(p.Payload, body) {
					t.Errorf("late subscriber got %q with retain %v, want %q retained", p.Payload, p.Retain, body)
				}
			case <-time.After(time.Second):
				if tc.retain {
					t.Error("late subscriber got no retained message within 1 s")
				}
			}
			if tc.retain { // clear the retained message
				if err := c.Publish(context.Background(), mqtt.Message{Topic: topic, QoS: mqtt.QoS1, Retain: true}); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// TestPublishMessageChecks: Publish refuses a Topic Filter, and, while
// disconnected, says so rather than queueing.
func TestPublishMessageChecks(t *testing.T) {
	c := mqtt.NewClient(&mqtt.Options{URL: "tcp://127.0.0.1:1", EndpointID: "proto::x", Topic: "usp/x"})
	defer c.Close()
	for _, topic := range []string{"", "a/+", "a/#"} {
		if err := c.Publish(context.Background(), mqtt.Message{Topic: topic}); !errors.Is(err, mtp.ErrNoPeer) {
			t.Errorf("topic %q: %v, want ErrNoPeer", topic, err)
		}
	}
	if err := c.Publish(context.Background(), mqtt.Message{Topic: "a/b", QoS: mqtt.QoS2}); !errors.Is(err, mtp.ErrNoPeer) {
		t.Errorf("disconnected: %v, want ErrNoPeer", err)
	}
}

// TestPublishMessageServerLimits: against a mosquitto whose CONNACK says
// Maximum QoS 1 and Retain Available 0, a message asked for at QoS 2 and
// retained goes at QoS 1 without RETAIN (TR-181
// Device.BulkData.Profile.{i}.MQTT.PublishQoS and PublishRetain); sent as
// asked, the server would end the connection [MQTT-3.3.1-7],
// [MQTT-3.2.2-14].
func TestPublishMessageServerLimits(t *testing.T) {
	m := testenv.StartMosquittoWith(t, &testenv.MosquittoOptions{Global: "retain_available false", PlainSettings: "max_qos 1"})
	id := randID()
	topic := "bulkdata/limits/" + id
	live := newRawV5(t, m.Plain, topic)
	o := &mqtt.Options{URL: "tcp://" + m.Plain, Version: mqtt.V5, EndpointID: "proto::" + id, Topic: "usp/agent/" + id, MinWait: time.Second}
	st := newStates()
	o.OnState = st.onState
	c := mqtt.NewClient(o)
	serve(t, c, newInbox())
	st.wait(t, mtp.StateUp, 10*time.Second)
	for i := range 2 {
		if err := c.Publish(context.Background(), mqtt.Message{Topic: topic, Payload: []byte{byte(i)}, QoS: mqtt.QoS2, Retain: true}); err != nil {
			t.Fatal(err)
		}
		p := live.next(t)
		if p.QoS != 1 || p.Retain || !bytes.Equal(p.Payload, []byte{byte(i)}) {
			t.Errorf("got %x at QoS %d retain %v, want %x at QoS 1 not retained", p.Payload, p.QoS, p.Retain, []byte{byte(i)})
		}
	}
	late := newRawV5(t, m.Plain, topic)
	select {
	case p := <-late.got:
		t.Errorf("late subscriber got %x: retained", p.Payload)
	case <-time.After(500 * time.Millisecond):
	}
	for {
		select {
		case e := <-st:
			if e.State == mtp.StateDown {
				t.Fatalf("the connection went down: %v", e.Err)
			}
			continue
		default:
		}
		break
	}
}

// TestSendServerMaximumQoS: Records asked for at QoS 2
// (Device.LocalAgent.MTP.{i}.MQTT.PublishQoS) go at QoS 1 to a server
// whose CONNACK says Maximum QoS 1, which would end the connection of a
// client that published above it.
func TestSendServerMaximumQoS(t *testing.T) {
	m := testenv.StartMosquittoWith(t, &testenv.MosquittoOptions{PlainSettings: "max_qos 1"})
	id := randID()
	dest := "usp/controller/" + id
	live := newRawV5(t, m.Plain, dest)
	o := &mqtt.Options{URL: "tcp://" + m.Plain, Version: mqtt.V5, EndpointID: "proto::" + id, Topic: "usp/agent/" + id, PublishQoS: mqtt.QoS2, MinWait: time.Second}
	st := newStates()
	o.OnState = st.onState
	c := mqtt.NewClient(o)
	serve(t, c, newInbox())
	st.wait(t, mtp.StateUp, 10*time.Second)
	for i := range 3 {
		if err := c.Send(context.Background(), dest, []byte{0x0a, byte(i)}); err != nil {
			t.Fatal(err)
		}
		if p := live.next(t); p.QoS != 1 || p.Payload[1] != byte(i) {
			t.Errorf("Record %d: %x at QoS %d, want QoS 1", i, p.Payload, p.QoS)
		}
	}
	select {
	case e := <-st:
		if e.State == mtp.StateDown {
			t.Fatalf("the connection went down: %v", e.Err)
		}
	default:
	}
}
