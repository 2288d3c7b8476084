package agent_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/uspkit/uspkit/agent"
	"github.com/uspkit/uspkit/datamodel"
	"github.com/uspkit/uspkit/e2e"
	"github.com/uspkit/uspkit/mtp"
	"github.com/uspkit/uspkit/mtp/mtptest"
	"github.com/uspkit/uspkit/record"
	"github.com/uspkit/uspkit/schema"
	"github.com/uspkit/uspkit/store"
	"github.com/uspkit/uspkit/wire"
)

// rawCtl is a Controller that sees every Record the Agent sends.
type rawCtl struct {
	t    *testing.T
	pipe *mtptest.Pipe
	recs chan *record.Record
}

// startRaw runs an Agent whose Controller (ctrlID) has the given
// E2ESession.SessionMode and sees raw Records.
func startRaw(t *testing.T, mode string) (*rawCtl, *agent.Agent) {
	t.Helper()
	m := schema.New()
	agent.Define(m)
	mux := datamodel.NewMux(m)
	agentEnd, ctlEnd := mtptest.NewPipe(agentID, ctrlID, nil)
	a, err := agent.New(context.Background(), agent.Options{
		EndpointID: agentID, Mux: mux, Store: store.NewMemory(), SoftwareVersion: "test",
		MTPs: []agent.MTP{{Protocol: "UDS", Transport: agentEnd}},
		Factory: &agent.Config{Controllers: []agent.ControllerConfig{{EndpointID: ctrlID, SessionMode: mode,
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
	return c, a
}

func (c *rawCtl) send(r *record.Record) {
	c.t.Helper()
	b, err := r.MarshalBinary()
	if err != nil {
		c.t.Fatal(err)
	}
	if err := c.pipe.Send(context.Background(), agentID, b); err != nil {
		c.t.Fatal(err)
	}
}

// next returns the next session_context or disconnect Record (skipping
// the Agent's unsolicited no_session_context ones, such as Boot!), or nil
// after timeout.
func (c *rawCtl) next(timeout time.Duration) *record.Record {
	deadline := time.After(timeout)
	for {
		select {
		case r := <-c.recs:
			if r.Type == record.TypeSessionContext || r.Type == record.TypeDisconnect {
				return r
			}
		case <-deadline:
			return nil
		}
	}
}

func getMsg(id string, paths ...string) []byte {
	b, _ := wire.MarshalMsg(&wire.Msg{Header: &wire.Header{MsgId: id, MsgType: wire.Header_GET},
		Body: &wire.Body{MsgBody: &wire.Body_Request{Request: get(paths...)}}})
	return b
}

// sessionRecord is a Record of session id from the Controller.
func sessionRecord(id, seq, expected uint64, payload []byte) *record.Record {
	r := &record.Record{Version: record.Version, ToID: agentID, FromID: ctrlID, Type: record.TypeSessionContext,
		Session: record.SessionContext{SessionID: id, SequenceID: seq, ExpectedID: expected}}
	if payload != nil {
		r.Session.Payload = [][]byte{payload}
	}
	return r
}

// response decodes the GetResp in a session Record and returns its msg_id
// and the parameter names it carries.
func response(t *testing.T, r *record.Record) (string, []string) {
	t.Helper()
	if r == nil {
		t.Fatal("no record")
	}
	if r.Type != record.TypeSessionContext || len(r.Session.Payload) != 1 {
		t.Fatalf("record %v with %d payloads", r.Type, len(r.Session.Payload))
	}
	var m wire.Msg
	if err := wire.UnmarshalMsg(r.Session.Payload[0], &m); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, rp := range m.GetBody().GetResponse().GetGetResp().GetReqPathResults() {
		for _, res := range rp.GetResolvedPathResults() {
			for k := range res.GetResultParams() {
				names = append(names, k)
			}
		}
	}
	return m.GetHeader().GetMsgId(), names
}

// TestE2ESessionEstablished follows TP-469 3.8 and 3.9: the answer to a
// Get in a new session comes in that session with sequence_id 1, and a
// Record with another session_id restarts the session with its id
// [R-E2E.4, R-E2E.6, R-E2E.14].
func TestE2ESessionEstablished(t *testing.T) {
	c, _ := startRaw(t, "Allow")
	for _, sid := range []uint64{1000, 2000} {
		c.send(sessionRecord(sid, 1, 1, getMsg(fmt.Sprint("g", sid), "Device.LocalAgent.EndpointID")))
		r := c.next(5 * time.Second)
		id, _ := response(t, r)
		if r.Session.SessionID != sid || r.Session.SequenceID != 1 || r.Session.ExpectedID != 2 || id != fmt.Sprint("g", sid) {
			t.Fatalf("session %d: answer in session %d seq %d expected %d msg %s", sid, r.Session.SessionID, r.Session.SequenceID, r.Session.ExpectedID, id)
		}
	}
}

// TestE2EOutOfOrder follows TP-469 3.11: a Record ahead of the expected
// one is buffered and answered after the missing ones, in order.
func TestE2EOutOfOrder(t *testing.T) {
	c, _ := startRaw(t, "Allow")
	c.send(sessionRecord(77, 1, 1, getMsg("m1", "Device.LocalAgent.EndpointID")))
	if id, _ := response(t, c.next(5*time.Second)); id != "m1" {
		t.Fatalf("first answer %s", id)
	}
	c.send(sessionRecord(77, 4, 2, getMsg("m4", "Device.LocalAgent.SoftwareVersion")))
	if r := c.next(300 * time.Millisecond); r != nil {
		t.Fatalf("record 4 answered before 2 and 3 arrived: %+v", r.Session)
	}
	c.send(sessionRecord(77, 2, 2, getMsg("m2", "Device.LocalAgent.UpTime")))
	r := c.next(5 * time.Second)
	if id, _ := response(t, r); id != "m2" || r.Session.SequenceID != 2 {
		t.Fatalf("answer %s seq %d, want m2 seq 2", id, r.Session.SequenceID)
	}
	c.send(sessionRecord(77, 3, 3, getMsg("m3", "Device.LocalAgent.UpTime")))
	for _, want := range []string{"m3", "m4"} {
		r := c.next(5 * time.Second)
		if id, _ := response(t, r); id != want {
			t.Fatalf("answer %s, want %s", id, want)
		}
	}
}

// TestE2ERetransmit follows TP-469 3.12: a Record asked for by
// retransmit_id is sent again, the same.
func TestE2ERetransmit(t *testing.T) {
	c, a := startRaw(t, "Allow")
	a.Engine().Update(context.Background(), "Device.LocalAgent.Controller.1.E2ESession.", map[string]string{"MaxRetransmitTries": "2"})
	c.send(sessionRecord(5, 1, 1, getMsg("g", "Device.LocalAgent.EndpointID")))
	first := c.next(5 * time.Second)
	response(t, first)
	ask := sessionRecord(5, 2, 1, nil)
	ask.Session.RetransmitID = first.Session.SequenceID
	c.send(ask)
	again := c.next(5 * time.Second)
	if again == nil || again.Session.SequenceID != first.Session.SequenceID || string(again.Session.Payload[0]) != string(first.Session.Payload[0]) {
		t.Fatalf("retransmitted %+v", again)
	}
}

// TestE2ESegmented: with MaxUSPRecordSize 512 a GetResp larger than that
// arrives in segments, each Record within the limit, and reassembles.
func TestE2ESegmented(t *testing.T) {
	c, a := startRaw(t, "Allow")
	if err := a.Engine().Update(context.Background(), "Device.LocalAgent.Controller.1.E2ESession.", map[string]string{"MaxUSPRecordSize": "512"}); err != nil {
		t.Fatal(err)
	}
	c.send(sessionRecord(9, 1, 1, getMsg("big", "Device.LocalAgent.")))
	ctl := e2e.NewSession(ctrlID, agentID, 9, e2e.Config{})
	ctl.Send(nil, time.Now()) // our Record 1
	var msgs [][]byte
	n := 0
	for len(msgs) == 0 {
		r := c.next(5 * time.Second)
		if r == nil {
			t.Fatalf("reassembly incomplete after %d records", n)
		}
		n++
		if b, _ := r.MarshalBinary(); len(b) > 512 {
			t.Fatalf("record %d is %d bytes, over MaxUSPRecordSize 512", n, len(b))
		}
		got, err := ctl.Receive(r, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		msgs = got.Msgs
	}
	var m wire.Msg
	if err := wire.UnmarshalMsg(msgs[0], &m); err != nil || m.GetHeader().GetMsgId() != "big" {
		t.Fatalf("reassembled %v %v", &m, err)
	}
	if n < 2 {
		t.Fatalf("the GetResp came in %d record; it should not fit in 512 bytes", n)
	}
	t.Logf("GetResp of %d bytes in %d records", len(msgs[0]), n)
}

// TestE2EForbid: with SessionMode Forbid a session_context Record gets a
// Disconnect Record with 7106 [R-E2E.6a].
func TestE2EForbid(t *testing.T) {
	c, _ := startRaw(t, "Forbid")
	c.send(sessionRecord(3, 1, 1, getMsg("g", "Device.LocalAgent.EndpointID")))
	r := c.next(5 * time.Second)
	if r == nil || r.Type != record.TypeDisconnect || r.Disconnect.Code != 7106 {
		t.Fatalf("got %+v, want a Disconnect with 7106", r)
	}
}

// TestE2ERequire: with SessionMode Require a Msg outside a session is not
// processed; the Agent starts a session instead, and Status shows it.
func TestE2ERequire(t *testing.T) {
	c, a := startRaw(t, "Require")
	plain := record.NewNoSession(agentID, ctrlID, getMsg("plain", "Device.LocalAgent.EndpointID"))
	c.send(plain)
	r := c.next(5 * time.Second)
	if r == nil || r.Type != record.TypeSessionContext || r.Session.SequenceID != 1 || len(r.Session.Payload) != 0 || r.Session.SessionID <= 1 {
		t.Fatalf("got %+v, want an empty Record starting a session", r)
	}
	// The Controller answers in that session; its Get is processed.
	c.send(sessionRecord(r.Session.SessionID, 1, 2, getMsg("in", "Device.LocalAgent.Controller.1.E2ESession.Status")))
	resp := c.next(5 * time.Second)
	if id, _ := response(t, resp); id != "in" || resp.Session.SessionID != r.Session.SessionID || resp.Session.SequenceID != 2 {
		t.Fatalf("answer %s in session %d seq %d", id, resp.Session.SessionID, resp.Session.SequenceID)
	}
	res := a.Engine().Get(context.Background(), datamodel.Caller{}, []string{"Device.LocalAgent.Controller.1.E2ESession.Status"}, 0)
	if !strings.Contains(fmt.Sprintf("%+v", res), "Up") {
		t.Fatalf("Status: %+v", res)
	}
}
