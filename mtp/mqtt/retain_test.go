package mqtt_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/uspkit/uspkit/internal/testenv"
	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/mtp/mqtt"
)

// TestSendRetain: a Record sent with mtp.WithRetain(ctx, true) reaches
// mosquitto with RETAIN = 1 (TR-181 Device.LocalAgent.Controller.{i}.MTP.
// {i}.MQTT.PublishRetainResponse and PublishRetainNotify), at every QoS,
// on MQTT 5.0 and 3.1.1, and when it was queued while disconnected: a
// subscriber that comes later gets it marked retained. Without it, or
// with WithRetain(ctx, false), nothing is retained.
func TestSendRetain(t *testing.T) {
	m := sharedMosquitto(t)
	for _, tc := range []struct {
		name   string
		v      mqtt.Version
		qos    mqtt.QoS
		retain int // 0: no WithRetain; 1: WithRetain true; 2: WithRetain false
		queued bool
	}{
		{"v5-qos1", mqtt.V5, mqtt.QoS1, 0, false},
		{"v5-qos1-retain", mqtt.V5, mqtt.QoS1, 1, false},
		{"v5-qos1-retain-false", mqtt.V5, mqtt.QoS1, 2, false},
		{"v5-qos0-retain", mqtt.V5, mqtt.QoS0, 1, false},
		{"v5-qos2-retain", mqtt.V5, mqtt.QoS2, 1, false},
		{"v5-queued-retain", mqtt.V5, mqtt.QoS1, 1, true},
		{"v5-queued", mqtt.V5, mqtt.QoS1, 0, true},
		{"v311-qos1", mqtt.V311, mqtt.QoS1, 0, false},
		{"v311-qos1-retain", mqtt.V311, mqtt.QoS1, 1, false},
		{"v311-qos0-retain", mqtt.V311, mqtt.QoS0, 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := randID()
			dest := "usp/controller/retain/" + id
			o := m.options(t, tc.v, plain, "usp/agent/"+id)
			o.PublishQoS = tc.qos
			st := newStates()
			o.OnState = st.onState
			c := mqtt.NewClient(o)
			ctx := context.Background()
			switch tc.retain {
			case 1:
				ctx = mtp.WithRetain(ctx, true)
			case 2:
				ctx = mtp.WithRetain(ctx, false)
			}
			rec := []byte{0x0a, 0x03, '1', '.', '3', byte(len(id))}
			if tc.queued {
				if err := c.Send(ctx, dest, rec); err != nil {
					t.Fatal(err)
				}
			}
			serve(t, c, newInbox())
			st.wait(t, mtp.StateUp, 10*time.Second)
			if !tc.queued {
				live := newRawV5(t, m.Plain, dest+"/#")
				if err := c.Send(ctx, dest, rec); err != nil {
					t.Fatal(err)
				}
				if p := live.next(t); !bytes.Equal(p.Payload, rec) {
					t.Fatalf("live subscriber got %x, want %x", p.Payload, rec)
				}
			}
			want := tc.retain == 1
			late := newRawV5(t, m.Plain, dest+"/#")
			select {
			case p := <-late.got:
				switch {
				case !want:
					t.Errorf("late subscriber got %x (retain %v): retained without WithRetain(ctx, true)", p.Payload, p.Retain)
				case !p.Retain || !bytes.Equal(p.Payload, rec):
					t.Errorf("late subscriber got %x with retain %v, want %x retained", p.Payload, p.Retain, rec)
				}
				// Clear the retained message.
				if err := c.Publish(context.Background(), mqtt.Message{Topic: p.Topic, QoS: mqtt.QoS1, Retain: true}); err != nil {
					t.Fatal(err)
				}
			case <-time.After(time.Second):
				if want {
					t.Error("late subscriber got no retained Record within 1 s")
				}
			}
		})
	}
}

// TestSendRetainUnavailable: a server whose CONNACK says Retain Available
// = 0 gets Records asked to be retained with RETAIN = 0: sent as asked,
// it would end the connection [MQTT-3.2.2-14]. Every Record arrives and
// the connection stays up.
func TestSendRetainUnavailable(t *testing.T) {
	m := testenv.StartMosquittoWith(t, &testenv.MosquittoOptions{Global: "retain_available false"})
	id := randID()
	dest := "usp/controller/" + id
	live := newRawV5(t, m.Plain, dest)
	for _, qos := range []mqtt.QoS{mqtt.QoS0, mqtt.QoS1, mqtt.QoS2} {
		o := &mqtt.Options{URL: "tcp://" + m.Plain, Version: mqtt.V5, EndpointID: "proto::" + id, Topic: "usp/agent/" + id, PublishQoS: qos, MinWait: time.Second}
		st := newStates()
		o.OnState = st.onState
		c := mqtt.NewClient(o)
		serve(t, c, newInbox())
		st.wait(t, mtp.StateUp, 10*time.Second)
		ctx := mtp.WithRetain(context.Background(), true)
		for i := range 3 {
			if err := c.Send(ctx, dest, []byte{0x0a, byte(qos), byte(i)}); err != nil {
				t.Fatal(err)
			}
			if p := live.next(t); p.Retain || p.Payload[2] != byte(i) {
				t.Errorf("QoS %d Record %d: %x retain %v, want it not retained", qos, i, p.Payload, p.Retain)
			}
		}
		select {
		case e := <-st:
			if e.State == mtp.StateDown {
				t.Fatalf("QoS %d: the connection went down: %v", qos, e.Err)
			}
		default:
		}
		c.Close()
	}
}
