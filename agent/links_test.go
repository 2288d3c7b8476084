package agent_test

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uspkit/uspkit/agent"
	"github.com/uspkit/uspkit/datamodel"
	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/mtp/mtptest"
	"github.com/uspkit/uspkit/schema"
	"github.com/uspkit/uspkit/usperr"
	"github.com/uspkit/uspkit/wire"
)

// pipeDialer opens in-memory transports for the Agent's data-model
// connections and hands the far end of each to the test.
type pipeDialer struct {
	mu    sync.Mutex
	fail  map[string]bool // aliases whose dial fails
	dials chan dialled
}

type dialled struct {
	conn agent.Connection
	ctl  *mtptest.Pipe
	end  *mtptest.Pipe
}

func (d *pipeDialer) Dial(ctx context.Context, c *agent.Connection) (agent.MTP, error) {
	d.mu.Lock()
	fail := d.fail[c.Alias]
	d.mu.Unlock()
	if fail {
		return agent.MTP{}, errors.New("refused")
	}
	end, ctl := mtptest.NewPipe(agentID, ctrlID, nil)
	// The agent's end reports its state through the Connection's OnState.
	wrapped := &statePipe{Pipe: end, onState: c.OnState}
	d.dials <- dialled{conn: *c, ctl: ctl, end: end}
	return agent.MTP{Protocol: c.Protocol, Transport: wrapped}, nil
}

// statePipe is a pipe end that reports up when served and down when
// closed, as a client transport does.
type statePipe struct {
	*mtptest.Pipe
	onState mtp.StateFunc
}

// ClientID is the MQTT ClientID the "server" assigned.
func (p *statePipe) ClientID() string { return "assigned-1" }

// Destination is the STOMP destination the "server" gave.
func (p *statePipe) Destination() string { return "/queue/from-server" }

// Topic is the MQTT "reply to" topic the "server" gave.
func (p *statePipe) Topic() string { return "usp/agent/assigned" }

func (p *statePipe) Serve(ctx context.Context, h mtp.Handler) error {
	peer := mtp.Peer{Address: ctrlID, EndpointID: ctrlID}
	p.onState(ctx, peer, mtp.StateUp, nil)
	defer p.onState(ctx, peer, mtp.StateDown, nil)
	return p.Pipe.Serve(ctx, h)
}

func (d *pipeDialer) next(t *testing.T) dialled {
	t.Helper()
	select {
	case x := <-d.dials:
		return x
	case <-time.After(5 * time.Second):
		t.Fatal("no dial")
		return dialled{}
	}
}

func (d *pipeDialer) none(t *testing.T) {
	t.Helper()
	select {
	case x := <-d.dials:
		t.Fatalf("unexpected dial of %s", x.conn.Path)
	case <-time.After(300 * time.Millisecond):
	}
}

// closed waits until the Agent closed its end of a dialled transport.
func closed(t *testing.T, x dialled) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if err := x.ctl.Send(context.Background(), agentID, []byte{0}); errors.Is(err, mtp.ErrClosed) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	buf := make([]byte, 1<<20)
	n := runtime.Stack(buf, true)
	t.Fatalf("%s still open\n%s", x.conn.Path, buf[:n])
}

// eventually polls a parameter until it has the wanted value.
func eventually(t *testing.T, e *env, path, want string) {
	t.Helper()
	var got string
	for range 100 {
		got = value(t, e.ctl.do(get(path)), path)
		if got == want {
			return
		}
		time.Sleep(30 * time.Millisecond)
	}
	t.Fatalf("%s = %q, want %q", path, got, want)
}

func setOK(t *testing.T, e *env, path string, kv ...string) {
	t.Helper()
	r := e.ctl.do(setReq(false, path, kv...))
	if r.GetBody().GetResponse().GetSetResp() == nil {
		t.Fatalf("set %s %v: %v", path, kv, r)
	}
}

// TestDataModelConnections checks that the Agent opens, reopens and
// closes its transports as Device.LocalAgent.MTP, Device.MQTT.Client,
// Device.STOMP.Connection and Device.LocalAgent.Controller.{i}.MTP say.
func TestDataModelConnections(t *testing.T) {
	d := &pipeDialer{dials: make(chan dialled, 16), fail: map[string]bool{}}
	e := start(t, nil, func(o *agent.Options) {
		o.Dialer = d
		o.Factory.MTPs = []agent.MTPConfig{{Alias: "cpe-mqtt", Protocol: "MQTT",
			Connection: map[string]string{"BrokerAddress": "broker-a.example", "BrokerPort": "1883", "ProtocolVersion": "5.0",
				"EnableEncryption": "false", "Password": "s3cret", "ConnectRetryTime": "2", "ConnectRetryMaxInterval": "60"},
			Params: map[string]string{"MQTT.ResponseTopicConfigured": "usp/agent", "MQTT.PublishQoS": "1"}}}
	})
	first := d.next(t)
	c := first.conn
	if c.Path != "Device.LocalAgent.MTP.1." || c.Protocol != "MQTT" || c.MQTT == nil {
		t.Fatalf("dialled %+v", c)
	}
	m := c.MQTT
	if m.Client != "Device.MQTT.Client.1." || m.BrokerAddress != "broker-a.example" || m.BrokerPort != 1883 || m.ProtocolVersion != "5.0" ||
		m.ResponseTopic != "usp/agent" || m.Password != "s3cret" || m.KeepAlive != 60*time.Second || !m.CleanSession || m.PublishQoS != 1 {
		t.Errorf("MQTT connection %+v", m)
	}
	if m.Retry.MinWait != 2*time.Second || m.Retry.Multiplier != 2000 || m.Retry.MaxWait != 60*time.Second {
		t.Errorf("retry %+v, want ConnectRetryTime 2 s, multiplier 2000, max 60 s", m.Retry)
	}
	eventually(t, e, "Device.LocalAgent.MTP.1.Status", "Up")
	eventually(t, e, "Device.MQTT.Client.1.Status", "Connected")
	// The assigned ClientID is kept, without a reconnection for it.
	eventually(t, e, "Device.MQTT.Client.1.ClientID", "assigned-1")
	// So is the topic the server gave in its Response Information.
	eventually(t, e, "Device.LocalAgent.MTP.1.MQTT.ResponseTopicDiscovered", "usp/agent/assigned")
	eventually(t, e, "Device.MQTT.Client.1.ResponseInformation", "usp/agent/assigned")
	// A secured parameter reads as empty to a Controller [TR-106].
	if v := value(t, e.ctl.do(get("Device.MQTT.Client.1.Password")), "Device.MQTT.Client.1.Password"); v != "" {
		t.Errorf("Password reads %q", v)
	}
	// MQTT 3.1 is not offered.
	r := e.ctl.do(setReq(false, "Device.MQTT.Client.1.", "ProtocolVersion", "3.1"))
	if r.GetBody().GetError().GetErrCode() != usperr.CodeInvalidValue {
		t.Errorf("ProtocolVersion 3.1: %v", r)
	}
	d.none(t)

	// A Set over the connection it reconfigures is answered over it before
	// it closes; then the new connection is dialled.
	over := newCtl(t, first.ctl, ctrlID)
	defer over.close()
	r = over.do(setReq(false, "Device.MQTT.Client.1.", "BrokerPort", "1884"))
	if r.GetBody().GetResponse().GetSetResp() == nil {
		t.Fatalf("set over the connection: %v", r)
	}
	closed(t, first)
	second := d.next(t)
	if second.conn.MQTT.BrokerPort != 1884 || second.conn.Path != "Device.LocalAgent.MTP.1." {
		t.Errorf("after the change: %+v", second.conn.MQTT)
	}

	// Disabling the MTP closes it and reports it down.
	setOK(t, e, "Device.LocalAgent.MTP.1.", "Enable", "false")
	closed(t, second)
	eventually(t, e, "Device.LocalAgent.MTP.1.Status", "Down")
	eventually(t, e, "Device.MQTT.Client.1.Status", "Disabled")
	d.none(t)
	setOK(t, e, "Device.LocalAgent.MTP.1.", "Enable", "true")
	third := d.next(t)
	// Disabling the referenced client closes it too.
	setOK(t, e, "Device.MQTT.Client.1.", "Enable", "false")
	closed(t, third)
	d.none(t)

	// A STOMP connection added by a Controller.
	r = e.ctl.do(addReq("Device.STOMP.Connection.", "Enable", "true", "Host", "stomp.example", "Port", "61614", "Username", "u",
		"EnableHeartbeats", "true", "OutgoingHeartbeat", "30000", "IncomingHeartbeat", "15000", "ServerRetryInitialInterval", "3"))
	if r.GetBody().GetResponse().GetAddResp() == nil {
		t.Fatalf("add connection: %v", r)
	}
	d.none(t) // not referenced by an MTP yet
	r = e.ctl.do(addReq("Device.LocalAgent.MTP.", "Enable", "true", "Alias", "cpe-stomp", "Protocol", "STOMP",
		"STOMP.Reference", "Device.STOMP.Connection.1", "STOMP.Destination", "usp.agent"))
	if r.GetBody().GetResponse().GetAddResp() == nil {
		t.Fatalf("add MTP: %v", r)
	}
	st := d.next(t)
	s := st.conn.STOMP
	if st.conn.Alias != "cpe-stomp" || s == nil || s.Host != "stomp.example" || s.Port != 61614 || s.Destination != "usp.agent" ||
		s.OutgoingHeartbeat != 30*time.Second || s.IncomingHeartbeat != 15*time.Second || s.Retry.MinWait != 3*time.Second ||
		s.Retry.MaxWait != 30720*time.Second || !s.EnableEncryption {
		t.Errorf("STOMP connection %+v", st.conn)
	}
	eventually(t, e, "Device.STOMP.Connection.1.Status", "Enabled")
	eventually(t, e, st.conn.Path+"STOMP.DestinationFromServer", "/queue/from-server")
	// Deleting the MTP row closes the connection.
	r = e.ctl.do(&wire.Request{ReqType: &wire.Request_Delete{Delete: &wire.Delete{ObjPaths: []string{"Device.LocalAgent.MTP.[Alias==\"cpe-stomp\"]."}}}})
	if r.GetBody().GetResponse().GetDeleteResp() == nil {
		t.Fatalf("delete: %v", r)
	}
	closed(t, st)

	// The Agent as WebSocket client of a Controller.
	r = e.ctl.do(addReq("Device.LocalAgent.Controller.1.MTP.", "Enable", "true", "Protocol", "WebSocket",
		"WebSocket.Host", "ctrl.example", "WebSocket.Port", "4443", "WebSocket.Path", "/usp", "WebSocket.SessionRetryMinimumWaitInterval", "7"))
	if r.GetBody().GetResponse().GetAddResp() == nil {
		t.Fatalf("add controller MTP: %v", r)
	}
	wsd := d.next(t)
	w := wsd.conn.WebSocket
	if w == nil || w.Controller != ctrlID || w.Host != "ctrl.example" || w.Port != 4443 || w.Path != "/usp" || !w.EnableEncryption ||
		w.Retry.MinWait != 7*time.Second || !strings.HasPrefix(wsd.conn.Path, "Device.LocalAgent.Controller.1.MTP.") {
		t.Errorf("WebSocket connection %+v %+v", wsd.conn, w)
	}

	// Topics of Device.MQTT.Client.{i}.Subscription.{i} are subscribed to
	// (TP-469 11.9): a new row reconnects with it.
	setOK(t, e, "Device.MQTT.Client.1.", "Enable", "true")
	fourth := d.next(t)
	if len(fourth.conn.MQTT.Subscriptions) != 0 {
		t.Errorf("subscriptions %v", fourth.conn.MQTT.Subscriptions)
	}
	r = e.ctl.do(addReq("Device.MQTT.Client.1.Subscription.", "Enable", "true", "Topic", "newTopic-11-9", "QoS", "0"))
	if r.GetBody().GetResponse().GetAddResp() == nil {
		t.Fatalf("add subscription: %v", r)
	}
	closed(t, fourth)
	fifth := d.next(t)
	if s := fifth.conn.MQTT.Subscriptions; len(s) != 1 || s[0] != "newTopic-11-9" {
		t.Errorf("subscriptions %v, want [newTopic-11-9]", s)
	}
	if q, ok := fifth.conn.MQTT.SubscriptionQoS["newTopic-11-9"]; !ok || q != 0 {
		t.Errorf("subscription QoS %v, want newTopic-11-9 at 0 (Subscription.{i}.QoS)", fifth.conn.MQTT.SubscriptionQoS)
	}
	eventually(t, e, "Device.MQTT.Client.1.Subscription.1.Status", "Subscribed")

	// A dial that fails leaves the row in Error.
	d.mu.Lock()
	d.fail["cpe-bad"] = true
	d.mu.Unlock()
	r = e.ctl.do(addReq("Device.LocalAgent.MTP.", "Enable", "true", "Alias", "cpe-bad", "Protocol", "WebSocket", "WebSocket.Port", "1"))
	if r.GetBody().GetResponse().GetAddResp() == nil {
		t.Fatalf("add bad MTP: %v", r)
	}
	path := r.GetBody().GetResponse().GetAddResp().GetCreatedObjResults()[0].GetOperStatus().GetOperSuccess().GetInstantiatedPath()
	eventually(t, e, path+"Status", "Error")
}

// TestDialErrorAtStart checks that a transport that cannot be opened at
// start ends Run with the error, as a misconfigured process should.
func TestDialErrorAtStart(t *testing.T) {
	d := &pipeDialer{dials: make(chan dialled, 4), fail: map[string]bool{"cpe-ws": true}}
	m := schema.New()
	agent.Define(m)
	a, err := agent.New(context.Background(), agent.Options{EndpointID: agentID, Mux: datamodel.NewMux(m), Dialer: d,
		Factory: &agent.Config{MTPs: []agent.MTPConfig{{Alias: "cpe-ws", Protocol: "WebSocket", Params: map[string]string{"WebSocket.Port": "8080"}}}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = a.Run(ctx)
	if err == nil || !strings.Contains(err.Error(), "Device.LocalAgent.MTP.1.") || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("Run = %v, want the dial error", err)
	}
}
