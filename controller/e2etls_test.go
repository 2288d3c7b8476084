package controller_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/uspkit/uspkit/agent"
	"github.com/uspkit/uspkit/controller"
	"github.com/uspkit/uspkit/datamodel"
	"github.com/uspkit/uspkit/e2e"
	"github.com/uspkit/uspkit/internal/testenv"
	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/mtp/ws"
	"github.com/uspkit/uspkit/record"
	"github.com/uspkit/uspkit/schema"
	"github.com/uspkit/uspkit/store"
	"github.com/uspkit/uspkit/tr181/deviceinfo"
)

// startAgentTLS runs an Agent over WebSocket whose Controller row allows
// sessions, with E2E certificates e2eTLS (nil: none).
func startAgentTLS(t *testing.T, url string, e2eTLS *tls.Config, trusted ...*x509.Certificate) {
	t.Helper()
	m := schema.New()
	agent.Define(m)
	deviceinfo.Define(m)
	mux := datamodel.NewMux(m)
	deviceinfo.Register(mux, deviceinfo.Info{Manufacturer: "uspkit", ManufacturerOUI: "00D09E", ModelName: "m", SerialNumber: "S1", SoftwareVersion: "1"})
	var a *agent.Agent
	var mu sync.Mutex
	cli := ws.NewClient(&ws.Options{URL: url, EndpointID: agentID, MinWait: 100 * time.Millisecond, OnState: func(ctx context.Context, p mtp.Peer, s mtp.State, err error) {
		mu.Lock()
		x := a
		mu.Unlock()
		if x != nil {
			x.OnState("WebSocket")(ctx, p, s, err)
		}
	}})
	var err error
	mu.Lock()
	a, err = agent.New(context.Background(), agent.Options{EndpointID: agentID, Mux: mux, Store: store.NewMemory(), E2ETLS: e2eTLS, Certificates: trusted,
		MTPs: []agent.MTP{{Protocol: "WebSocket", Transport: cli, Connect: func(to string) *record.Record { return record.NewWebSocketConnect(to, agentID) }}},
		Factory: &agent.Config{Controllers: []agent.ControllerConfig{{EndpointID: ctrlID, SessionMode: "Allow",
			MTPs: []agent.ControllerMTPConf{{Protocol: "WebSocket"}}}}}})
	mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

// TestSessionsTLS12: a Controller that requires TLS12 sessions reads the
// Agent's parameters over WebSocket; the session's payloads are TLS, the
// Controller being the TLS client, and both check the other's
// certificate against their CA and Endpoint ID [R-E2E.41], [R-E2E.43].
// An Agent without E2E certificates does not answer in such a session.
func TestSessionsTLS12(t *testing.T) {
	pki := testenv.NewPKI(t, ctrlID)
	u, _ := url.Parse("urn:bbf:usp:id:" + agentID)
	agentCert := pki.Issue(t, agentID, []*url.URL{u}, nil, nil)
	opts := controller.Options{E2ETLS: &tls.Config{Certificates: []tls.Certificate{pki.Client}, RootCAs: pki.CAPool},
		Sessions: controller.SessionSettings{Policy: controller.SessionsRequire, Config: e2e.Config{Security: record.PayloadSecurityTLS12, MaxRecordSize: 1024}}}
	t.Run("read", func(t *testing.T) {
		r := startControllerWith(t, nil, opts)
		startAgentTLS(t, r.url, &tls.Config{Certificates: []tls.Certificate{agentCert}, RootCAs: pki.CAPool})
		waitOnline(t, r.c, true)
		ctx := context.Background()
		resp, err := r.c.Do(ctx, agentID, get("Device.DeviceInfo.ModelName", "Device.LocalAgent.Controller.1.E2ESession."))
		if err != nil {
			t.Fatal(err)
		}
		p := paramsOf(resp)
		if p["Device.DeviceInfo.ModelName"] != "m" || p["Device.LocalAgent.Controller.1.E2ESession.Status"] != "Up" ||
			p["Device.LocalAgent.Controller.1.E2ESession.PayloadSecurity"] != "TLS" {
			t.Fatalf("GetResp %v", p)
		}
		if sec, up := r.c.SessionState(agentID); sec != record.PayloadSecurityTLS12 || !up {
			t.Fatalf("session security %d, established %v", sec, up)
		}
		// Large answers: TLS records segmented across Records of 1024
		// bytes at most.
		resp, err = r.c.Do(ctx, agentID, get("Device.LocalAgent.", "Device.DeviceInfo."))
		if err != nil || len(paramsOf(resp)) < 40 {
			t.Fatalf("segmented GetResp: %d parameters, %v", len(paramsOf(resp)), err)
		}
	})
	t.Run("trust in Device.LocalAgent.Certificate", func(t *testing.T) {
		r := startControllerWith(t, nil, opts)
		block, _ := pem.Decode(pki.CAPEM)
		ca, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		startAgentTLS(t, r.url, &tls.Config{Certificates: []tls.Certificate{agentCert}}, ca)
		waitOnline(t, r.c, true)
		resp, err := r.c.Do(context.Background(), agentID, get("Device.DeviceInfo.ModelName"))
		if err != nil || paramsOf(resp)["Device.DeviceInfo.ModelName"] != "m" {
			t.Fatalf("GetResp %v, %v", resp, err)
		}
	})
	t.Run("agent without certificates", func(t *testing.T) {
		r := startControllerWith(t, nil, opts)
		startAgentTLS(t, r.url, nil)
		// The Agent connects; first contact cannot complete.
		for i := 0; i < 50; i++ {
			if _, ok := r.c.Agent(agentID); ok {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if _, ok := r.c.Agent(agentID); !ok {
			t.Fatal("the Agent never connected")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		if resp, err := r.c.Do(ctx, agentID, get("Device.DeviceInfo.ModelName")); err == nil {
			t.Fatalf("answered without TLS: %v", resp)
		}
		if _, up := r.c.SessionState(agentID); up {
			t.Fatal("a TLS12 session established with an Agent that has no certificate")
		}
	})
}

// TestSaveSessionsPersists: an Agent's own settings survive a restart
// of the Controller on the same Store.
func TestSaveSessionsPersists(t *testing.T) {
	st := store.NewMemory()
	pki := testenv.NewPKI(t, ctrlID)
	opts := controller.Options{EndpointID: ctrlID, Store: st, E2ETLS: &tls.Config{Certificates: []tls.Certificate{pki.Client}, RootCAs: pki.CAPool}}
	c, err := controller.New(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	want, err := controller.NewSessionSettings("prefer", "TLS12", 2048, time.Minute, 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SaveSessions(context.Background(), agentID, want); err != nil {
		t.Fatal(err)
	}
	c2, err := controller.New(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := c2.Sessions(agentID)
	if got.Policy != want.Policy || got.Config.Security != record.PayloadSecurityTLS12 || got.Config.MaxRecordSize != 2048 ||
		got.Config.Expiration != time.Minute || got.Config.MaxRetransmit != 2 {
		t.Fatalf("after a restart: %+v", got)
	}
	if other, _ := c2.Sessions("os::012345-OTHER"); other.Policy != controller.SessionsOff {
		t.Fatalf("another Agent got %+v", other)
	}
}
