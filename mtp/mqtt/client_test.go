package mqtt_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/mtp/mqtt"
)

// TestV5PublishProperties checks, with a plain MQTT 5.0 client subscribed
// to the destination, that a Record goes in the payload of a PUBLISH to
// the destination Topic [R-MQTT.18] with our "reply to" Topic in the
// Response Topic property [R-MQTT.22], [R-MQTT.23], "usp.msg" as Content
// Type [R-MQTT.27], at the configured QoS [R-MQTT.20].
func TestV5PublishProperties(t *testing.T) {
	m := sharedMosquitto(t)
	for _, tc := range []struct {
		name string
		qos  mqtt.QoS
		want byte
	}{
		{"default", mqtt.QoSDefault, 1},
		{"qos0", mqtt.QoS0, 0},
		{"qos1", mqtt.QoS1, 1},
		{"qos2", mqtt.QoS2, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := randID()
			dest, own := "usp/agent/"+id, "usp/controller/"+id
			raw := newRawV5(t, m.Plain, dest)
			o := m.options(t, mqtt.V5, plain, own)
			o.PublishQoS = tc.qos
			st := newStates()
			o.OnState = st.onState
			c := mqtt.NewClient(o)
			serve(t, c, newInbox())
			st.wait(t, mtp.StateUp, 10*time.Second)
			rec := []byte{0x0a, 0x03, 'u', 's', 'p', 0x00, 0xff}
			if err := c.Send(context.Background(), dest, rec); err != nil {
				t.Fatal(err)
			}
			p := raw.next(t)
			if p.Topic != dest || !bytes.Equal(p.Payload, rec) {
				t.Errorf("PUBLISH to %q with %x, want %q with %x", p.Topic, p.Payload, dest, rec)
			}
			// [R-MQTT.27]: "usp.msg", not the media type (which only
			// receivers must also accept, [R-MQTT.27a]).
			if p.Properties == nil || p.Properties.ResponseTopic != own || p.Properties.ContentType != "usp.msg" {
				t.Errorf("PUBLISH properties %+v, want Response Topic %q and Content Type %q", p.Properties, own, "usp.msg")
			}
			if p.QoS != tc.want {
				t.Errorf("PUBLISH at QoS %d, want %d", p.QoS, tc.want)
			}
		})
	}
}

// TestV5InboundReplyAddress checks where answers go: to the Response
// Topic of the PUBLISH [R-MQTT.26], else to Options.DefaultPeerTopic. A
// PUBLISH whose Content Type is not a USP Record's is dropped
// [R-MQTT.27a].
func TestV5InboundReplyAddress(t *testing.T) {
	m := sharedMosquitto(t)
	id := randID()
	own := "usp/agent/" + id
	raw := newRawV5(t, m.Plain)
	o := m.options(t, mqtt.V5, plain, own)
	o.DefaultPeerTopic = "usp/controller/configured"
	st := newStates()
	o.OnState = st.onState
	c := mqtt.NewClient(o)
	ib := newInbox()
	serve(t, c, ib)
	st.wait(t, mtp.StateUp, 10*time.Second)
	for i, tc := range []struct {
		props *paho.PublishProperties
		want  string // "" means dropped
	}{
		{&paho.PublishProperties{ResponseTopic: "usp/controller/1", ContentType: "application/vnd.bbf.usp.msg"}, "usp/controller/1"},
		{&paho.PublishProperties{ResponseTopic: "usp/controller/2", ContentType: "usp.msg"}, "usp/controller/2"},
		{&paho.PublishProperties{ResponseTopic: "usp/controller/3"}, "usp/controller/3"},
		{&paho.PublishProperties{ResponseTopic: "usp/controller/4", ContentType: "text/plain"}, ""},
		{&paho.PublishProperties{ResponseTopic: "usp/controller/5", ContentType: "usp.error"}, ""},
		{&paho.PublishProperties{ContentType: mqtt.ContentType}, "usp/controller/configured"},
		{nil, "usp/controller/configured"},
	} {
		rec := []byte{byte(i)}
		raw.publish(t, own, tc.props, rec)
		// A marker after each: what is dropped never arrives before it.
		raw.publish(t, own, &paho.PublishProperties{ResponseTopic: "marker"}, []byte("marker"))
		in := ib.next(t, 10*time.Second)
		if tc.want == "" {
			if string(in.Record) != "marker" {
				t.Errorf("case %d: %x from %q arrived, want it dropped", i, in.Record, in.From.Address)
			}
			continue
		}
		if !bytes.Equal(in.Record, rec) || in.From.Address != tc.want {
			t.Errorf("case %d: %x from %q, want %x from %q", i, in.Record, in.From.Address, rec, tc.want)
		}
		if in = ib.next(t, 10*time.Second); string(in.Record) != "marker" {
			t.Fatalf("case %d: %q, want the marker", i, in.Record)
		}
	}
}

// TestNoReplyTopic checks that with no DefaultPeerTopic a Record without
// a "reply to" Topic arrives with an empty Peer.Address (an MQTT version
// mismatch [R-MQTT.26a]), which Send refuses.
func TestNoReplyTopic(t *testing.T) {
	m := sharedMosquitto(t)
	own := "usp/agent/" + randID()
	raw := newRawV5(t, m.Plain)
	o := m.options(t, mqtt.V5, plain, own)
	st := newStates()
	o.OnState = st.onState
	c := mqtt.NewClient(o)
	ib := newInbox()
	serve(t, c, ib)
	st.wait(t, mtp.StateUp, 10*time.Second)
	raw.publish(t, own, nil, []byte("x"))
	in := ib.next(t, 10*time.Second)
	if in.From.Address != "" {
		t.Fatalf("Peer.Address %q, want empty", in.From.Address)
	}
	if err := c.Send(context.Background(), in.From.Address, []byte("answer")); !errors.Is(err, mtp.ErrNoPeer) {
		t.Fatalf("Send to empty address = %v, want ErrNoPeer", err)
	}
}

// TestV311ReplyToConvention checks the MQTT 3.1.1 "reply to" convention on
// the wire: our Topic goes after "/reply-to=" at the end of the Topic
// Name with "/" written "%2F" [R-MQTT.24]; in received Topic Names what
// follows the last "/reply-to=" is the Topic to answer [R-MQTT.25]; a
// name without one is answered on DefaultPeerTopic. The client subscribes
// to its Topic with "/#" so that such names reach it [R-MQTT.15].
func TestV311ReplyToConvention(t *testing.T) {
	m := sharedMosquitto(t)
	id := randID()
	dest, own := "usp/agents/cid:3AA3F8:"+id, "usp/controllers/oui:00256D:"+id
	raw := newRawV311(t, m.Plain, dest+"/#")
	o := m.options(t, mqtt.V311, plain, own)
	o.DefaultPeerTopic = "usp/controllers/configured"
	st := newStates()
	o.OnState = st.onState
	c := mqtt.NewClient(o)
	ib := newInbox()
	serve(t, c, ib)
	st.wait(t, mtp.StateUp, 10*time.Second)

	if err := c.Send(context.Background(), dest, []byte("rec")); err != nil {
		t.Fatal(err)
	}
	msg := raw.next(t)
	want := dest + "/reply-to=usp%2Fcontrollers%2Foui:00256D:" + id
	if msg.Topic() != want || string(msg.Payload()) != "rec" {
		t.Errorf("PUBLISH to %q with %q, want %q with %q", msg.Topic(), msg.Payload(), want, "rec")
	}

	for _, tc := range []struct{ name, want string }{
		{own + "/reply-to=usp%2Fagents%2Fcid:3AA3F8:" + id, dest},
		// The example of TR-369 has a space after "=".
		{own + "/reply-to= usp%2Fagents%2Fexample", "usp/agents/example"},
		// The last "/reply-to=" counts.
		{own + "/reply-to=a/reply-to=b%2Fc", "b/c"},
		{own, "usp/controllers/configured"},
		{own + "/other", "usp/controllers/configured"},
	} {
		raw.publish(t, tc.name, []byte(tc.name))
		in := ib.next(t, 10*time.Second)
		if string(in.Record) != tc.name || in.From.Address != tc.want {
			t.Errorf("PUBLISH to %q arrived as %q from %q, want from %q", tc.name, in.Record, in.From.Address, tc.want)
		}
	}
}

// TestInboundOversize checks that a received Record over MaxRecord is
// dropped while the connection stays up.
func TestInboundOversize(t *testing.T) {
	m := sharedMosquitto(t)
	for _, v := range []mqtt.Version{mqtt.V5, mqtt.V311} {
		t.Run(v.String(), func(t *testing.T) {
			own := "usp/agent/" + randID()
			raw := newRawV5(t, m.Plain)
			o := m.options(t, v, plain, own)
			o.MaxRecord = 100
			st := newStates()
			o.OnState = st.onState
			c := mqtt.NewClient(o)
			ib := newInbox()
			serve(t, c, ib)
			st.wait(t, mtp.StateUp, 10*time.Second)
			raw.publish(t, own, nil, make([]byte, 101))
			raw.publish(t, own, nil, make([]byte, 100))
			if in := ib.next(t, 10*time.Second); len(in.Record) != 100 {
				t.Fatalf("a record of %d bytes arrived, want only the one of 100", len(in.Record))
			}
			if err := c.Send(context.Background(), "usp/x", make([]byte, 101)); !errors.Is(err, mtp.ErrTooLarge) {
				t.Fatalf("Send of 101 bytes = %v, want ErrTooLarge", err)
			}
		})
	}
}

// TestAssignedClientID checks that an MQTT 5.0 client without a ClientId
// sends an empty one [R-MQTT.8] and keeps the one the server assigns
// [R-MQTT.9]; an MQTT 3.1.1 client uses its Endpoint ID [R-MQTT.8].
func TestAssignedClientID(t *testing.T) {
	m := sharedMosquitto(t)
	for _, v := range []mqtt.Version{mqtt.V5, mqtt.V311} {
		t.Run(v.String(), func(t *testing.T) {
			o := m.options(t, v, plain, "usp/agent/"+randID())
			st := newStates()
			o.OnState = st.onState
			c := mqtt.NewClient(o)
			before := c.ClientID()
			serve(t, c, newInbox())
			st.wait(t, mtp.StateUp, 10*time.Second)
			after := c.ClientID()
			switch v {
			case mqtt.V5:
				if before != "" || after == "" {
					t.Errorf("ClientID %q before and %q after the CONNACK, want empty then assigned", before, after)
				}
			case mqtt.V311:
				if before != o.EndpointID || after != o.EndpointID {
					t.Errorf("ClientID %q, %q, want the Endpoint ID %q", before, after, o.EndpointID)
				}
			}
			t.Logf("ClientID after CONNACK: %q", after)
		})
	}
}

// TestPasswordRefused checks that wrong credentials [R-MQTT.7] are a
// failed connection: the client retries [R-MQTT.10] and never comes up.
func TestPasswordRefused(t *testing.T) {
	m := sharedMosquitto(t)
	for _, v := range []mqtt.Version{mqtt.V5, mqtt.V311} {
		t.Run(v.String(), func(t *testing.T) {
			o := m.options(t, v, password, "usp/agent/"+randID())
			o.Password = "wrong"
			lg, st := &logs{}, newStates()
			o.Logger, o.OnState = slogOf(lg), st.onState
			c := mqtt.NewClient(o)
			serve(t, c, newInbox())
			deadline := time.Now().Add(10 * time.Second)
			for len(lg.find("mqtt: not connected; retrying")) < 2 {
				if time.Now().After(deadline) {
					t.Fatalf("no two retries logged:\n%s", lg)
				}
				time.Sleep(20 * time.Millisecond)
			}
			t.Logf("refused: %v", lg.find("mqtt: not connected; retrying")[0]["err"])
			select {
			case e := <-st:
				t.Fatalf("state %v with a wrong password", e.State)
			default:
			}
		})
	}
}

// TestQueue checks that Records sent while disconnected are queued up to
// QueueLen (then mtp.ErrQueueFull) and published in order once connected,
// after the Records sent from within the StateUp call.
func TestQueue(t *testing.T) {
	m := sharedMosquitto(t)
	for _, v := range []mqtt.Version{mqtt.V5, mqtt.V311} {
		t.Run(v.String(), func(t *testing.T) {
			dest := "usp/controller/" + randID()
			raw := newRawV5(t, m.Plain, dest+"/#")
			o := m.options(t, v, plain, "usp/agent/"+randID())
			o.QueueLen = 3
			var c *mqtt.Client
			o.OnState = func(ctx context.Context, _ mtp.Peer, s mtp.State, _ error) {
				if s == mtp.StateUp {
					if err := c.Send(ctx, dest, []byte("connect record for "+c.Topic())); err != nil {
						t.Errorf("Send from StateUp: %v", err)
					}
				}
			}
			c = mqtt.NewClient(o)
			ctx := context.Background()
			for i := range 3 {
				if err := c.Send(ctx, dest, []byte{byte('0' + i)}); err != nil {
					t.Fatalf("Send %d while disconnected: %v", i, err)
				}
			}
			if err := c.Send(ctx, dest, []byte("4")); !errors.Is(err, mtp.ErrQueueFull) {
				t.Fatalf("Send beyond QueueLen = %v, want ErrQueueFull", err)
			}
			serve(t, c, newInbox())
			for _, want := range []string{"connect record for " + o.Topic, "0", "1", "2"} {
				if p := raw.next(t); string(p.Payload) != want {
					t.Fatalf("received %q, want %q", p.Payload, want)
				}
			}
		})
	}
}

// TestNoTopic checks that an MQTT 5.0 client with no Topic, to which the
// CONNACK gives neither Response Information nor a "subscribe-topic",
// disconnects and considers the MTP disabled [R-MQTT.16]: Serve returns
// ErrNoTopic and the Client is closed.
func TestNoTopic(t *testing.T) {
	m := sharedMosquitto(t)
	o := m.options(t, mqtt.V5, plain, "")
	c := mqtt.NewClient(o)
	done := make(chan error, 1)
	go func() { done <- c.Serve(context.Background(), newInbox()) }()
	select {
	case err := <-done:
		if !errors.Is(err, mqtt.ErrNoTopic) {
			t.Fatalf("Serve = %v, want ErrNoTopic", err)
		}
	case <-time.After(10 * time.Second):
		c.Close()
		t.Fatal("Serve did not return")
	}
	if err := c.Send(context.Background(), "usp/x", []byte("x")); !errors.Is(err, mtp.ErrClosed) {
		t.Fatalf("Send after ErrNoTopic = %v, want ErrClosed", err)
	}
}

// TestCloseFromHandler checks that a Handler may close its Client: Close
// says DISCONNECT and Serve returns, with Records still arriving.
func TestCloseFromHandler(t *testing.T) {
	m := sharedMosquitto(t)
	for _, v := range []mqtt.Version{mqtt.V5, mqtt.V311} {
		t.Run(v.String(), func(t *testing.T) {
			own := "usp/agent/" + randID()
			raw := newRawV5(t, m.Plain)
			o := m.options(t, v, plain, own)
			st := newStates()
			o.OnState = st.onState
			c := mqtt.NewClient(o)
			done := make(chan error, 1)
			go func() {
				done <- c.Serve(context.Background(), mtp.HandlerFunc(func(context.Context, mtp.Inbound) {
					c.Close()
				}))
			}()
			st.wait(t, mtp.StateUp, 10*time.Second)
			for range 50 {
				raw.publish(t, own, nil, []byte("x"))
			}
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("Serve = %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("Serve did not return after Close from the handler")
			}
		})
	}
}
