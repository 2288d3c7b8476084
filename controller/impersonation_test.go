package controller_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/uspkit/uspkit/agent"
	"github.com/uspkit/uspkit/controller"
	"github.com/uspkit/uspkit/datamodel"
	"github.com/uspkit/uspkit/internal/testenv"
	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/mtp/ws"
	"github.com/uspkit/uspkit/record"
	"github.com/uspkit/uspkit/schema"
	"github.com/uspkit/uspkit/store"
	"github.com/uspkit/uspkit/tr181/deviceinfo"
	"github.com/uspkit/uspkit/wire"
)

// syncBuffer is a log sink safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// tlsRig is a Controller whose WebSocket server takes client certificates
// when offered, with the default identity and admission policies.
type tlsRig struct {
	c   *controller.Controller
	url string
	pki *testenv.PKI
	log *syncBuffer
}

func startTLSController(t *testing.T) *tlsRig {
	t.Helper()
	pki := testenv.NewPKI(t, agentID)
	ctx, cancel := context.WithCancel(context.Background())
	var c *controller.Controller
	tc := pki.ServerConfig()
	tc.ClientAuth = tls.VerifyClientCertIfGiven
	srv, err := ws.Listen(ctx, "127.0.0.1:0", &ws.Options{EndpointID: ctrlID, TLS: tc, Path: "/usp", OnState: func(ctx context.Context, p mtp.Peer, s mtp.State, err error) {
		if c != nil {
			c.OnState("WebSocket")(ctx, p, s, err)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	c, err = controller.New(ctx, controller.Options{EndpointID: ctrlID, Store: store.NewMemory(), RequestTimeout: 5 * time.Second,
		MTPs: []controller.MTP{{Protocol: "WebSocket", Transport: srv}}, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return &tlsRig{c: c, url: "wss://" + srv.Addr().String() + "/usp", pki: pki, log: logs}
}

// startTLSAgent runs the real Agent with the client certificate for
// agentID.
func startTLSAgent(t *testing.T, r *tlsRig) {
	t.Helper()
	m := schema.New()
	agent.Define(m)
	deviceinfo.Define(m)
	mux := datamodel.NewMux(m)
	deviceinfo.Register(mux, deviceinfo.Info{Manufacturer: "uspkit", ManufacturerOUI: "00D09E", ModelName: "m", SerialNumber: "S1", SoftwareVersion: "1"})
	var a *agent.Agent
	var mu sync.Mutex
	cli := ws.NewClient(&ws.Options{URL: r.url, EndpointID: agentID, TLS: r.pki.ClientConfig(), MinWait: 100 * time.Millisecond,
		OnState: func(ctx context.Context, p mtp.Peer, s mtp.State, err error) {
			mu.Lock()
			x := a
			mu.Unlock()
			if x != nil {
				x.OnState("WebSocket")(ctx, p, s, err)
			}
		}})
	var err error
	mu.Lock()
	a, err = agent.New(context.Background(), agent.Options{EndpointID: agentID, Mux: mux, Store: store.NewMemory(),
		MTPs:    []agent.MTP{{Protocol: "WebSocket", Transport: cli, Connect: func(to string) *record.Record { return record.NewWebSocketConnect(to, agentID) }}},
		Factory: &agent.Config{Controllers: []agent.ControllerConfig{{EndpointID: ctrlID, MTPs: []agent.ControllerMTPConf{{Protocol: "WebSocket"}}}}}})
	mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

// forger is a WebSocket client that sends hand-made Records.
type forger struct {
	cli *ws.Client
	got chan []byte
}

func startForger(t *testing.T, url, eid string, tc *tls.Config) *forger {
	t.Helper()
	f := &forger{got: make(chan []byte, 16)}
	up := make(chan struct{}, 1)
	f.cli = ws.NewClient(&ws.Options{URL: url, EndpointID: eid, TLS: tc, MinWait: time.Hour, OnState: func(ctx context.Context, p mtp.Peer, s mtp.State, err error) {
		if s == mtp.StateUp {
			select {
			case up <- struct{}{}:
			default:
			}
		}
	}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- f.cli.Serve(ctx, mtp.HandlerFunc(func(ctx context.Context, in mtp.Inbound) { f.got <- bytes.Clone(in.Record) }))
	}()
	t.Cleanup(func() { cancel(); f.cli.Close(); <-done })
	select {
	case <-up:
	case <-time.After(3 * time.Second):
		// Refused at the handshake: the MTP itself stopped the forger.
		return nil
	}
	return f
}

// notify sends an Event Notify from from with send_resp.
func (f *forger) notify(t *testing.T, from, msgID string) {
	t.Helper()
	m := &wire.Msg{Header: &wire.Header{MsgId: msgID, MsgType: wire.Header_NOTIFY}, Body: &wire.Body{MsgBody: &wire.Body_Request{Request: &wire.Request{
		ReqType: &wire.Request_Notify{Notify: &wire.Notify{SubscriptionId: "forged", SendResp: true,
			Notification: &wire.Notify_Event_{Event: &wire.Notify_Event{ObjPath: "Device.", EventName: "Boot!"}}}}}}}}
	payload, _ := proto.Marshal(m)
	for _, rec := range []*record.Record{record.NewWebSocketConnect(ctrlID, from), record.NewNoSession(ctrlID, from, payload)} {
		b, _ := rec.MarshalBinary()
		if err := f.cli.Send(context.Background(), "", b); err != nil {
			t.Fatal(err)
		}
	}
}

// acknowledged reports whether a NotifyResp reaches the forger within d;
// other Records (the Controller's requests to the forger's own identity)
// are skipped.
func (f *forger) acknowledged(t *testing.T, d time.Duration) bool {
	t.Helper()
	deadline := time.After(d)
	for {
		select {
		case b := <-f.got:
			var rec record.Record
			var m wire.Msg
			if record.Decode(b, &rec, nil) == nil && proto.Unmarshal(rec.Payload, &m) == nil && m.GetHeader().GetMsgType() == wire.Header_NOTIFY_RESP {
				return true
			}
		case <-deadline:
			return false
		}
	}
}

// Nobody who can reach the Controller's WebSocket port can become an Agent
// whose identity a certificate verified [R-SEC.0a].
func TestImpersonationRefused(t *testing.T) {
	r := startTLSController(t)
	startTLSAgent(t, r)
	a := waitOnline(t, r.c, true)
	if !a.Verified || a.Trust != "verified" {
		t.Fatalf("agent with a certificate: %+v", a)
	}
	before := len(r.c.Events(agentID, 0))
	noCert := &tls.Config{RootCAs: r.pki.CAPool}
	mallory := "proto::mallory"
	u, _ := url.Parse("urn:bbf:usp:id:" + mallory)
	mc := r.pki.Issue(t, mallory, []*url.URL{u}, nil, nil)
	malloryTLS := &tls.Config{RootCAs: r.pki.CAPool, Certificates: []tls.Certificate{mc}}

	attacks := []struct {
		name string
		eid  string
		tc   *tls.Config
	}{
		{"no credential, the agent's eid", agentID, noCert},
		{"another agent's certificate, the agent's eid", agentID, malloryTLS},
		{"another agent's certificate and eid", mallory, malloryTLS},
	}
	for i, at := range attacks {
		t.Run(at.name, func(t *testing.T) {
			f := startForger(t, r.url, at.eid, at.tc)
			if f == nil {
				return // refused at the handshake
			}
			f.notify(t, agentID, "forged-"+string(rune('a'+i)))
			if f.acknowledged(t, 500*time.Millisecond) {
				t.Fatal("the forged Notify was acknowledged")
			}
		})
	}
	if n := strings.Count(r.log.String(), "refused"); n == 0 {
		t.Errorf("no refusal logged:\n%s", r.log.String())
	}
	for _, e := range r.c.Events(agentID, 0)[before:] {
		if e.Kind == "notify" {
			t.Errorf("a forged Notify was stored: %s", e.Msg)
		}
	}
	// The real agent still answers through its own route.
	waitOnline(t, r.c, true)
	m, err := r.c.Do(context.Background(), agentID, get("Device.DeviceInfo.SerialNumber"))
	if err != nil {
		t.Fatal(err)
	}
	if v := m.GetBody().GetResponse().GetGetResp().GetReqPathResults()[0].GetResolvedPathResults()[0].GetResultParams()["SerialNumber"]; v != "S1" {
		t.Fatalf("SerialNumber %q: the answer did not come from the real agent", v)
	}
	// Mallory, under its own verified identity, is heard: the path the
	// forged Records took works.
	f := startForger(t, r.url, mallory, malloryTLS)
	if f == nil {
		t.Fatal("mallory's own connection refused")
	}
	f.notify(t, mallory, "own")
	if !f.acknowledged(t, 5*time.Second) {
		t.Fatal("mallory's own Notify was not acknowledged")
	}
}

// An agent without credentials waits for approval under the default
// admission policy, and is served once approved.
func TestPendingUntilApproved(t *testing.T) {
	// Without a certificate the agent's identity is only claimed; the
	// default policy refuses that on a verified MTP, so use a lab MTP.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var c *controller.Controller
	srv, err := ws.Listen(ctx, "127.0.0.1:0", &ws.Options{EndpointID: ctrlID, OnState: func(ctx context.Context, p mtp.Peer, s mtp.State, err error) {
		if c != nil {
			c.OnState("WebSocket")(ctx, p, s, err)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	c, err = controller.New(ctx, controller.Options{EndpointID: ctrlID, Store: store.NewMemory(), RequestTimeout: 5 * time.Second,
		MTPs: []controller.MTP{{Protocol: "WebSocket", Transport: srv, Identity: controller.IdentityClaimed}}})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	defer func() { cancel(); <-done }()
	startAgent(t, "ws://"+srv.Addr().String()+"/usp", store.NewMemory())
	deadline := time.Now().Add(5 * time.Second)
	for len(c.Pending()) == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if p := c.Pending(); len(p) != 1 || p[0].ID != agentID {
		t.Fatalf("pending %+v", p)
	}
	if _, err := c.Do(ctx, agentID, get("Device.DeviceInfo.SerialNumber")); err == nil {
		t.Fatal("a request went to a pending agent")
	}
	if err := c.Approve(ctx, agentID); err != nil {
		t.Fatal(err)
	}
	waitOnline(t, c, true)
	if _, err := c.Do(ctx, agentID, get("Device.DeviceInfo.SerialNumber")); err != nil {
		t.Fatal(err)
	}
}
