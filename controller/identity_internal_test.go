package controller

import (
	"context"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/mtp/mtptest"
	"github.com/uspkit/uspkit/record"
	"github.com/uspkit/uspkit/store"
)

func certFor(ids ...string) []*x509.Certificate {
	c := &x509.Certificate{}
	for _, id := range ids {
		u, _ := url.Parse("urn:bbf:usp:id:" + id)
		c.URIs = append(c.URIs, u)
	}
	return []*x509.Certificate{c}
}

func TestTrustOf(t *testing.T) {
	const a, b = "proto::agent-a", "proto::agent-b"
	ws := &MTP{Protocol: "WebSocket"}
	wsLab := &MTP{Protocol: "WebSocket", Identity: IdentityClaimed}
	mq := &MTP{Protocol: "MQTT"}
	mqTopic := &MTP{Protocol: "MQTT", AgentTopic: "usp/agent/{eid}"}
	tests := []struct {
		name string
		m    *MTP
		p    mtp.Peer
		from string
		want trust // 0: refused
	}{
		{"certificate names the agent [R-SEC.0a]", ws, mtp.Peer{EndpointID: a, Certs: certFor(a)}, a, trustVerified},
		{"certificate of another agent [R-SEC.0a]", ws, mtp.Peer{EndpointID: a, Certs: certFor(b)}, a, 0},
		{"certificate of another agent, lab policy", wsLab, mtp.Peer{EndpointID: a, Certs: certFor(b)}, a, 0},
		{"connection of another agent", ws, mtp.Peer{EndpointID: b, Authenticated: true}, a, 0},
		{"connection of another agent, lab policy", wsLab, mtp.Peer{EndpointID: b}, a, 0},
		{"credential checked by the MTP", ws, mtp.Peer{EndpointID: a, Authenticated: true}, a, trustVerified},
		{"no credential", ws, mtp.Peer{EndpointID: a}, a, 0},
		{"no credential, lab policy", wsLab, mtp.Peer{EndpointID: a}, a, trustClaimed},
		{"certificate without an Endpoint ID, no credential", ws, mtp.Peer{EndpointID: a, Certs: certFor()}, a, 0},
		{"MQTT reply-to in the agent's topic", mqTopic, mtp.Peer{Address: "usp/agent/" + a}, a, trustVerified},
		{"MQTT reply-to below the agent's topic", mqTopic, mtp.Peer{Address: "usp/agent/" + a + "/reply"}, a, trustVerified},
		{"MQTT reply-to in another agent's topic", mqTopic, mtp.Peer{Address: "usp/agent/" + b}, a, 0},
		{"MQTT reply-to sharing a prefix", mqTopic, mtp.Peer{Address: "usp/agent/" + a + "x"}, a, 0},
		{"MQTT broker certificate is not the agent's", mqTopic, mtp.Peer{Address: "usp/agent/" + a, Certs: certFor(b)}, a, trustVerified},
		{"MQTT without topic binding", mq, mtp.Peer{Address: "anything"}, a, trustLogin},
		{"UDS handshake", &MTP{Protocol: "UDS"}, mtp.Peer{EndpointID: a, Address: a}, a, trustVerified},
		{"UDS handshake of another agent", &MTP{Protocol: "UDS"}, mtp.Peer{EndpointID: b, Address: b}, a, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := trustOf(tt.m, tt.p, tt.from)
			if tt.want == 0 {
				if err == nil {
					t.Fatalf("accepted with trust %v, want refused", got)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("trust %v, err %v; want %v", got, err, tt.want)
			}
		})
	}
}

// newBare is a Controller without running MTPs, for driving handle
// directly.
func newBare(t *testing.T, o Options) *Controller {
	t.Helper()
	o.EndpointID = "proto::ctl"
	o.Store = store.NewMemory()
	o.RequestTimeout = 50 * time.Millisecond
	c, err := New(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.stopBG(); c.wg.Wait() })
	return c
}

func connectRecord(t *testing.T, from string) []byte {
	b, err := record.NewMQTTConnect("proto::ctl", from, record.MQTTVersion5, "usp/agent/x").MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Thousands of Connect records with different from_ids over one route do
// not register thousands of Agents.
func TestNewAgentsPerRouteLimited(t *testing.T) {
	c := newBare(t, Options{Admission: AdmitAll, NewAgentBurst: 20, NewAgentInterval: time.Hour})
	m := &MTP{Protocol: "MQTT"}
	for i := range 5000 {
		c.handle(context.Background(), m, mtp.Inbound{Record: connectRecord(t, fmt.Sprintf("proto::flood-%d", i)), From: mtp.Peer{Address: "usp/agent/x"}})
	}
	if n := len(c.Agents()); n != 20 {
		t.Fatalf("%d agents registered from one route, want 20", n)
	}
	// Another route still gets in.
	c.handle(context.Background(), m, mtp.Inbound{Record: connectRecord(t, "proto::other"), From: mtp.Peer{Address: "usp/agent/other"}})
	if _, ok := c.Agent("proto::other"); !ok {
		t.Fatal("an agent on another route was refused")
	}
}

func TestPendingCapped(t *testing.T) {
	c := newBare(t, Options{Admission: AdmitPending, MaxPending: 5})
	m := &MTP{Protocol: "MQTT"}
	for i := range 10 {
		c.handle(context.Background(), m, mtp.Inbound{Record: connectRecord(t, fmt.Sprintf("proto::p-%d", i)), From: mtp.Peer{Address: fmt.Sprintf("usp/agent/%d", i)}})
	}
	if n := len(c.Pending()); n != 5 {
		t.Fatalf("%d pending, want 5", n)
	}
	if n := len(c.Agents()); n != 5 {
		t.Fatalf("%d agents known, want 5", n)
	}
	if _, err := c.Do(context.Background(), "proto::p-0", nil); err == nil {
		t.Fatal("a request to a pending agent was accepted")
	}
}

// A flood of bad Records makes one log line per interval, not one each.
func TestBadRecordsLogRateLimited(t *testing.T) {
	var buf strings.Builder
	c := newBare(t, Options{Logger: slog.New(slog.NewTextHandler(&buf, nil))})
	m := &MTP{Protocol: "MQTT"}
	for range 1000 {
		c.handle(context.Background(), m, mtp.Inbound{Record: []byte("not a record"), From: mtp.Peer{Address: "x"}})
	}
	if n := strings.Count(buf.String(), "record dropped"); n != 1 {
		t.Fatalf("%d log lines for 1000 bad records:\n%s", n, buf.String())
	}
}

// A Session Context Record gets a Disconnect Record with 7106, since the
// Controller does not do E2E sessions [R-E2E.6a]; a Disconnect Record takes
// the Agent's route down [R-MTP.7].
func TestSessionContextAndDisconnect(t *testing.T) {
	ctlEnd, agentEnd := mtptest.NewPipe("proto::ctl", "proto::agent-a", nil)
	c := newBare(t, Options{Admission: AdmitAll, MTPs: []MTP{{Name: "UDS", Protocol: "UDS", Transport: ctlEnd}}})
	m := &c.opt.MTPs[0]
	peer := mtp.Peer{Address: "proto::agent-a", EndpointID: "proto::agent-a"}
	got := make(chan []byte, 4)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go agentEnd.Serve(ctx, mtp.HandlerFunc(func(_ context.Context, in mtp.Inbound) { got <- in.Record }))

	sess := &record.Record{Version: record.Version, ToID: "proto::ctl", FromID: "proto::agent-a", Type: record.TypeSessionContext,
		Session: record.SessionContext{SessionID: 1, SequenceID: 1, ExpectedID: 1, Payload: [][]byte{{1}}}}
	b, err := sess.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	c.handle(ctx, m, mtp.Inbound{Record: b, From: peer})
	select {
	case raw := <-got:
		var rec record.Record
		if err := record.Decode(raw, &rec, nil); err != nil {
			t.Fatal(err)
		}
		if rec.Type != record.TypeDisconnect || rec.Disconnect.Code != 7106 || rec.ToID != "proto::agent-a" {
			t.Fatalf("answer to a session context record: %+v", rec)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("no Disconnect Record answered the session context record")
	}

	conn, _ := record.NewUDSConnect("proto::ctl", "proto::agent-a").MarshalBinary()
	c.handle(ctx, m, mtp.Inbound{Record: conn, From: peer})
	if a, _ := c.Agent("proto::agent-a"); !a.Online {
		t.Fatal("agent not online after its connect record")
	}
	disc, _ := record.NewDisconnect("proto::ctl", "proto::agent-a", 0, "bye").MarshalBinary()
	c.handle(ctx, m, mtp.Inbound{Record: disc, From: peer})
	if a, _ := c.Agent("proto::agent-a"); a.Online {
		t.Fatal("agent still online after its Disconnect Record")
	}
}
