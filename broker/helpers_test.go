package broker_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/packets"
	"github.com/eclipse/paho.golang/paho"
	mqtt3 "github.com/eclipse/paho.mqtt.golang"

	"github.com/uspkit/uspkit/broker"
)

const wait = 10 * time.Second

// logBuf collects the broker's log, for tests that check what was logged;
// USP_TEST_VERBOSE=1 also copies it to stderr.
type logBuf struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if os.Getenv("USP_TEST_VERBOSE") == "1" {
		os.Stderr.Write(p)
	}
	return l.buf.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// start runs a broker on a free loopback port, closed at cleanup. It
// returns the broker and its log.
func start(t testing.TB, o broker.Options) (*broker.Broker, *logBuf) {
	t.Helper()
	if o.Addr == "" {
		o.Addr = "127.0.0.1:0"
	}
	lb := &logBuf{}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(lb, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	b, err := broker.New(&o)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b, lb
}

// client5 is an MQTT 5 test client that records what it receives.
type client5 struct {
	*paho.Client
	Connack *paho.Connack
	msgs    chan *paho.Publish
}

type dial5 struct {
	addr     string
	tls      *tls.Config
	conn     net.Conn // used instead of dialling addr
	id       string
	user     string
	pass     string
	will     string // Will topic
	respInfo bool   // Request Response Information
	expiry   uint32 // Session Expiry Interval, seconds
	resume   bool   // Clean Start 0: resume the session
}

// connect5 connects an MQTT 5 client; the client is disconnected at
// cleanup. A refused CONNECT returns the CONNACK and an error.
func connect5(t testing.TB, d dial5) (*client5, error) {
	t.Helper()
	nc := d.conn
	if nc == nil {
		var err error
		if d.tls != nil {
			nc, err = tls.Dial("tcp", d.addr, d.tls)
		} else {
			nc, err = net.Dial("tcp", d.addr)
		}
		if err != nil {
			return nil, err
		}
	}
	// paho writes a packet in several Writes, from more than one
	// goroutine (its pinger starts with a PINGREQ): serialize them.
	nc = packets.NewThreadSafeConn(nc)
	c := &client5{msgs: make(chan *paho.Publish, 1024)}
	c.Client = paho.NewClient(paho.ClientConfig{
		Conn: nc,
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){func(pr paho.PublishReceived) (bool, error) {
			select {
			case c.msgs <- pr.Packet:
			default:
			}
			return true, nil
		}},
	})
	cp := &paho.Connect{ClientID: d.id, KeepAlive: 30, CleanStart: !d.resume,
		Properties: &paho.ConnectProperties{RequestResponseInfo: d.respInfo}}
	if d.expiry > 0 {
		cp.Properties.SessionExpiryInterval = paho.Uint32(d.expiry)
	}
	if d.user != "" {
		cp.Username, cp.UsernameFlag = d.user, true
	}
	if d.pass != "" {
		cp.Password, cp.PasswordFlag = []byte(d.pass), true
	}
	if d.will != "" {
		cp.WillMessage = &paho.WillMessage{Topic: d.will, Payload: []byte("gone")}
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	ca, err := c.Connect(ctx, cp)
	c.Connack = ca
	if err != nil {
		nc.Close()
		return c, err
	}
	t.Cleanup(func() { c.close() })
	return c, nil
}

func (c *client5) close() {
	_ = c.Disconnect(&paho.Disconnect{ReasonCode: 0})
	<-c.Done()
}

func (c *client5) subscribe(t testing.TB, filter string) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	_, err := c.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: filter, QoS: 1}}})
	return err
}

func (c *client5) publish(t testing.TB, topic string, payload []byte, qos byte) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	_, err := c.Publish(ctx, &paho.Publish{Topic: topic, QoS: qos, Payload: payload})
	return err
}

// publishReply publishes with an MQTT 5 Response Topic.
func (c *client5) publishReply(t testing.TB, topic, reply string, payload []byte, qos byte) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	_, err := c.Publish(ctx, &paho.Publish{Topic: topic, QoS: qos, Payload: payload,
		Properties: &paho.PublishProperties{ResponseTopic: reply}})
	return err
}

// expect waits for one message and checks its topic and payload.
func (c *client5) expect(t testing.TB, topic string, payload []byte) {
	t.Helper()
	select {
	case m := <-c.msgs:
		if m.Topic != topic || !bytes.Equal(m.Payload, payload) {
			t.Fatalf("got %q %q, want %q %q", m.Topic, m.Payload, topic, payload)
		}
	case <-time.After(wait):
		t.Fatalf("no message on %q", topic)
	}
}

// expectNone checks that nothing arrives for a moment.
func (c *client5) expectNone(t testing.TB) {
	t.Helper()
	select {
	case m := <-c.msgs:
		t.Fatalf("unexpected message %q %q", m.Topic, m.Payload)
	case <-time.After(300 * time.Millisecond):
	}
}

// connect3 connects an MQTT 3.1.1 client, disconnected at cleanup.
func connect3(t testing.TB, addr, id, user, pass string, tc *tls.Config) (mqtt3.Client, chan mqtt3.Message, error) {
	t.Helper()
	msgs := make(chan mqtt3.Message, 1024)
	o := mqtt3.NewClientOptions().SetClientID(id).SetProtocolVersion(4).SetCleanSession(true).
		SetAutoReconnect(false).SetConnectRetry(false).SetConnectTimeout(wait).SetKeepAlive(30 * time.Second).
		SetDefaultPublishHandler(func(_ mqtt3.Client, m mqtt3.Message) {
			select {
			case msgs <- m:
			default:
			}
		})
	scheme := "tcp://"
	if tc != nil {
		scheme = "tls://"
		o.SetTLSConfig(tc)
	}
	o.AddBroker(scheme + addr)
	if user != "" {
		o.SetUsername(user)
	}
	if pass != "" {
		o.SetPassword(pass)
	}
	c := mqtt3.NewClient(o)
	tok := c.Connect()
	if !tok.WaitTimeout(wait) {
		return nil, nil, fmt.Errorf("connect timed out")
	}
	if err := tok.Error(); err != nil {
		return nil, nil, err
	}
	t.Cleanup(func() { c.Disconnect(100) })
	return c, msgs, nil
}

func wait3(tok mqtt3.Token) error {
	if !tok.WaitTimeout(wait) {
		return fmt.Errorf("timed out")
	}
	return tok.Error()
}

// waitLog waits until the broker's log contains s.
func waitLog(t testing.TB, lb *logBuf, s string) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for !strings.Contains(lb.String(), s) {
		if time.Now().After(deadline) {
			t.Fatalf("log lacks %q:\n%s", s, lb.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func expect3(t testing.TB, msgs chan mqtt3.Message, topic, payload string) {
	t.Helper()
	select {
	case m := <-msgs:
		if m.Topic() != topic || string(m.Payload()) != payload {
			t.Fatalf("got %q %q, want %q %q", m.Topic(), m.Payload(), topic, payload)
		}
	case <-time.After(wait):
		t.Fatalf("no message on %q", topic)
	}
}
