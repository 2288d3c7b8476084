package agent_test

import (
	"context"
	"crypto/tls"
	"net/url"
	"testing"
	"time"

	"github.com/uspkit/uspkit/agent"
	"github.com/uspkit/uspkit/datamodel"
	"github.com/uspkit/uspkit/internal/testenv"
	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/mtp/mtptest"
	"github.com/uspkit/uspkit/record"
	"github.com/uspkit/uspkit/schema"
	"github.com/uspkit/uspkit/store"
	"github.com/uspkit/uspkit/wire"
)

// startRawTLS is startRaw for an Agent with E2E certificates (TLS12
// sessions) whose Controller row allows sessions.
func startRawTLS(t *testing.T) *rawCtl {
	t.Helper()
	pki := testenv.NewPKI(t, ctrlID)
	u, _ := url.Parse("urn:bbf:usp:id:" + agentID)
	cert := pki.Issue(t, agentID, []*url.URL{u}, nil, nil)
	m := schema.New()
	agent.Define(m)
	agentEnd, ctlEnd := mtptest.NewPipe(agentID, ctrlID, nil)
	a, err := agent.New(context.Background(), agent.Options{
		EndpointID: agentID, Mux: datamodel.NewMux(m), Store: store.NewMemory(), SoftwareVersion: "test",
		E2ETLS: &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: pki.CAPool},
		MTPs:   []agent.MTP{{Protocol: "UDS", Transport: agentEnd}},
		Factory: &agent.Config{Controllers: []agent.ControllerConfig{{EndpointID: ctrlID, SessionMode: "Allow",
			MTPs: []agent.ControllerMTPConf{{Protocol: "UDS"}}}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	c := &rawCtl{t: t, pipe: ctlEnd, recs: make(chan *record.Record, 1000)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		ctlEnd.Serve(ctx, mtp.HandlerFunc(func(ctx context.Context, in mtp.Inbound) {
			var r record.Record
			if err := record.Decode(in.Record, &r, nil); err == nil {
				c.recs <- &r
			}
		}))
	}()
	ran := make(chan error, 1)
	go func() { ran <- a.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-ran; ctlEnd.Close(); <-done })
	return c
}

// TestE2ERetryUnanswered: an Agent that uses TLS12 refuses a PLAINTEXT
// session and starts its own after SessionRetryMinimumWaitInterval; a
// Controller that never answers gets a new session start after each
// retry wait, each with a new session_id and a ClientHello [R-E2E.10],
// [R-E2E.11], [R-E2E.19].
func TestE2ERetryUnanswered(t *testing.T) {
	c := startRawTLS(t)
	// m = 1 s, k = 1000: every wait is 1 s.
	set := &wire.Msg{Header: &wire.Header{MsgId: "set-1", MsgType: wire.Header_SET}, Body: &wire.Body{MsgBody: &wire.Body_Request{Request: setReq(false,
		"Device.LocalAgent.Controller.1.E2ESession.", "SessionRetryMinimumWaitInterval", "1", "SessionRetryIntervalMultiplier", "1000")}}}
	b, _ := wire.MarshalMsg(set)
	c.send(record.NewNoSession(agentID, ctrlID, b))
	time.Sleep(300 * time.Millisecond)
	plain, _ := wire.MarshalMsg(&wire.Msg{Header: &wire.Header{MsgId: "get-1", MsgType: wire.Header_GET}, Body: &wire.Body{MsgBody: &wire.Body_Request{Request: get("Device.LocalAgent.EndpointID")}}})
	c.send(&record.Record{Version: record.Version, ToID: agentID, FromID: ctrlID, Type: record.TypeSessionContext,
		Session: record.SessionContext{SessionID: 77, SequenceID: 1, ExpectedID: 1, Payload: [][]byte{plain}}})
	refused := time.Now()
	seen := map[uint64]bool{77: true}
	last := refused
	for i := range 3 {
		r := c.next(5 * time.Second)
		if r == nil {
			t.Fatalf("attempt %d: no session start", i+1)
		}
		if r.Type != record.TypeSessionContext || r.PayloadSecurity != record.PayloadSecurityTLS12 || r.Session.SequenceID != 1 ||
			len(r.Session.Payload) != 1 || r.Session.Payload[0][0] != 22 || seen[r.Session.SessionID] {
			t.Fatalf("attempt %d: %v is not a new TLS12 session with a ClientHello", i+1, r)
		}
		if d := time.Since(last); d < 800*time.Millisecond || d > 3*time.Second {
			t.Fatalf("attempt %d came %v after the previous one, want about 1 s", i+1, d)
		}
		seen[r.Session.SessionID], last = true, time.Now()
	}
}
