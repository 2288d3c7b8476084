package conformance

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/uspkit/uspkit/record"
	"github.com/uspkit/uspkit/wire"
)

// section3 implements the E2E Session Context cases of TP-469 section 3:
// here those in PLAINTEXT sessions, 3.8, 3.9, 3.11 and 3.12, and with them
// those of section3tls.go (TLS12, signatures, 3.10, 3.13 to 3.15, 2.7,
// 2.8). The runner plays the Controller's side of the session by hand,
// so that it can send Records out of order and ask for retransmissions.
func section3() map[string]caseFunc {
	m := map[string]caseFunc{
		"3.8":  {wait: 10 * time.Second, run: e2eEstablish},
		"3.9":  {wait: 10 * time.Second, run: e2eNewSession},
		"3.11": {wait: 15 * time.Second, run: e2eSequence},
		"3.12": {wait: 70 * time.Second, run: e2ePreserve},
	}
	for id, f := range section3TLS() {
		m[id] = f
	}
	return m
}

// session is the runner's side of one E2E Session Context.
type session struct {
	t     *T
	id    uint64
	seq   uint64 // next sequence_id to send
	n     int    // msg_id counter
	ahead map[uint64]*record.Record
}

// startSession taps the Agent's session Records for this case and returns
// a session with a fresh session_id.
func (t *T) startSession() *session {
	tap := make(chan *record.Record, 64)
	t.c.mu.Lock()
	t.c.tap = tap
	t.c.mu.Unlock()
	t.Cleanup(func() {
		t.c.mu.Lock()
		t.c.tap = nil
		t.c.mu.Unlock()
		// End the session, so that the Agent's Notifications to this
		// Controller go outside one again in the next cases.
		t.c.do(t.ctx, operateReq(t.controller()+"E2ESession.Reset()", "e2e-reset", true, nil), t.r.o.ReplyTimeout)
	})
	return &session{t: t, id: newSessionID(), seq: 1, ahead: map[uint64]*record.Record{}}
}

func newSessionID() uint64 {
	var b [8]byte
	rand.Read(b[:])
	return binary.BigEndian.Uint64(b[:])>>1 | 2 // greater than 1 [R-E2E.3]
}

// record builds the next Record of the session carrying a Get of path
// (no payload when path is ""), with sequence_id seq and expected_id exp,
// and returns it with the Get's msg_id.
func (s *session) record(seq, exp uint64, path string) (*record.Record, string) {
	r := &record.Record{Version: record.Version, ToID: s.t.c.agentID, FromID: s.t.c.id, Type: record.TypeSessionContext,
		Session: record.SessionContext{SessionID: s.id, SequenceID: seq, ExpectedID: exp}}
	if path == "" {
		return r, ""
	}
	s.n++
	id := fmt.Sprintf("e2e-%d-%d", s.id%100000, s.n)
	m := &wire.Msg{Header: &wire.Header{MsgId: id, MsgType: wire.Header_GET}, Body: &wire.Body{MsgBody: &wire.Body_Request{Request: getReq(path)}}}
	payload, _ := proto.Marshal(m)
	r.Session.Payload = [][]byte{payload}
	return r, id
}

func (s *session) send(r *record.Record) {
	if err := s.t.c.sendRecord(s.t.ctx, r); err != nil {
		s.t.Fatalf("sending a session record: %v", err)
	}
}

// next waits for the Agent's next session Record; a Disconnect Record with
// 7106 means the Agent does not take sessions, and the case is skipped.
func (s *session) next(d time.Duration) *record.Record {
	s.t.c.mu.Lock()
	tap := s.t.c.tap
	s.t.c.mu.Unlock()
	select {
	case r := <-tap:
		if r.Type == record.TypeDisconnect {
			if r.Disconnect.Code == 7106 {
				s.t.Skipf("the agent does not allow a session context with this controller (Disconnect 7106)")
			}
			s.t.Fatalf("the agent sent a Disconnect Record: %d %s", r.Disconnect.Code, r.Disconnect.Reason)
		}
		return r
	case <-time.After(d):
		return nil
	case <-s.t.ctx.Done():
		return nil
	}
}

// nth waits for the Agent's Record with sequence_id seq: the runner's
// transport may hand Records over in another order than they travelled.
func (s *session) nth(seq uint64, d time.Duration) *record.Record {
	deadline := time.Now().Add(d)
	for {
		if r := s.ahead[seq]; r != nil {
			delete(s.ahead, seq)
			return r
		}
		r := s.next(time.Until(deadline))
		if r == nil {
			return nil
		}
		s.ahead[r.Session.SequenceID] = r
	}
}

// answer decodes the one Msg a Record of the Agent carries, unsegmented.
func (s *session) answer(r *record.Record) *wire.Msg {
	if r == nil {
		s.t.Fatalf("no session record from the agent")
	}
	if len(r.Session.Payload) != 1 || r.Session.PayloadSAR != record.SARStateNone {
		s.t.Fatalf("session record %d: %d payloads, SAR state %d (the runner expects an unsegmented answer)",
			r.Session.SequenceID, len(r.Session.Payload), r.Session.PayloadSAR)
	}
	var m wire.Msg
	if err := proto.Unmarshal(r.Session.Payload[0], &m); err != nil {
		s.t.Fatalf("session record %d: payload is not a Msg: %v", r.Session.SequenceID, err)
	}
	return &m
}

// e2eEstablish is 3.8: the answer to a Get that starts a session comes in
// that session with sequence_id 1.
func e2eEstablish(t *T) {
	t.plaintextSessions()
	s := t.startSession()
	r, id := s.record(1, 1, "Device.DeviceInfo.")
	s.send(r)
	got := s.next(t.r.o.ReplyTimeout)
	m := s.answer(got)
	t.Check(got.Session.SessionID == s.id, "answer in session %d, want %d", got.Session.SessionID, s.id)
	t.Check(got.Session.SequenceID == 1, "answer with sequence_id %d, want 1", got.Session.SequenceID)
	t.Check(m.GetHeader().GetMsgId() == id && m.GetBody().GetResponse().GetGetResp() != nil, "answer %s is not the GetResp to %s", brief(m), id)
}

// e2eNewSession is 3.9: a Record with a new session_id restarts the
// session; the answer uses the new id and sequence_id 1.
func e2eNewSession(t *T) {
	t.plaintextSessions()
	s := t.startSession()
	r, _ := s.record(1, 1, "Device.DeviceInfo.")
	s.send(r)
	s.answer(s.next(t.r.o.ReplyTimeout))
	s.id = newSessionID()
	r, id := s.record(1, 1, "Device.DeviceInfo.")
	s.send(r)
	got := s.next(t.r.o.ReplyTimeout)
	m := s.answer(got)
	t.Check(got.Session.SessionID == s.id && got.Session.SequenceID == 1, "answer in session %d with sequence_id %d, want %d and 1",
		got.Session.SessionID, got.Session.SequenceID, s.id)
	t.Check(m.GetHeader().GetMsgId() == id, "answer %s, want the GetResp to %s", brief(m), id)
}

// e2eSequence is 3.11: Records 1, 4, 2, 3; the Agent answers 1, holds 4,
// answers 2, then 3 and 4, with sequence_ids 1 to 4.
func e2eSequence(t *T) {
	t.plaintextSessions()
	s := t.startSession()
	step := func(seq uint64, path string) string {
		r, id := s.record(seq, seq, path)
		s.send(r)
		return id
	}
	expect := func(seq uint64, id, param string) {
		got := s.nth(seq, t.r.o.ReplyTimeout)
		m := s.answer(got)
		t.Check(got.Session.SequenceID == seq, "answer with sequence_id %d, want %d", got.Session.SequenceID, seq)
		t.Check(m.GetHeader().GetMsgId() == id, "answer %s, want the GetResp to %s", brief(m), id)
		if gr := m.GetBody().GetResponse().GetGetResp(); gr != nil {
			_, ok := flat(gr)[param]
			t.Check(ok, "the answer to %s does not carry %s", id, param)
		}
	}
	expect(1, step(1, "Device.DeviceInfo.ModelName"), "Device.DeviceInfo.ModelName")
	id4 := step(4, "Device.DeviceInfo.SoftwareVersion")
	if r := s.next(2 * time.Second); r != nil {
		t.Fatalf("the agent answered Record 4 (sequence_id %d) before Records 2 and 3 arrived", r.Session.SequenceID)
	}
	expect(2, step(2, "Device.DeviceInfo.HardwareVersion"), "Device.DeviceInfo.HardwareVersion")
	expect(3, step(3, "Device.DeviceInfo.HardwareVersion"), "Device.DeviceInfo.HardwareVersion")
	expect(4, id4, "Device.DeviceInfo.SoftwareVersion")
}

// e2ePreserve is 3.12: after a wait (60 seconds with long waits, 2
// otherwise), a Record with retransmit_id gets the same GetResp again.
//
// TR-181's default MaxRetransmitTries, 0, forbids retransmission, so the
// case sets it to 3 for its run.
func e2ePreserve(t *T) {
	t.plaintextSessions()
	param := t.controller() + "E2ESession.MaxRetransmitTries"
	m, err := t.c.do(t.ctx, getReq(param), t.r.o.ReplyTimeout)
	if old, ok := flat(m.GetBody().GetResponse().GetGetResp())[param]; err == nil && ok {
		t.setResp(t.Do(setReq(false, obj(t.controller()+"E2ESession.", preq("MaxRetransmitTries", "3")))))
		t.Cleanup(func() {
			t.c.do(t.ctx, setReq(true, obj(t.controller()+"E2ESession.", p("MaxRetransmitTries", old))), t.r.o.ReplyTimeout)
		})
	}
	s := t.startSession()
	r, id := s.record(1, 1, "Device.DeviceInfo.")
	s.send(r)
	first := s.next(t.r.o.ReplyTimeout)
	s.answer(first)
	wait := 2 * time.Second
	if t.r.o.Long {
		wait = 60 * time.Second
	}
	select {
	case <-time.After(wait):
	case <-t.ctx.Done():
		return
	}
	// expected_id 1 keeps the Agent's Record 1 in its outgoing buffer.
	ask, _ := s.record(2, 1, "")
	ask.Session.RetransmitID = first.Session.SequenceID
	s.send(ask)
	again := s.next(t.r.o.ReplyTimeout)
	m = s.answer(again)
	t.Check(again.Session.SequenceID == first.Session.SequenceID, "retransmitted Record has sequence_id %d, want %d",
		again.Session.SequenceID, first.Session.SequenceID)
	t.Check(string(again.Session.Payload[0]) == string(first.Session.Payload[0]), "retransmitted payload differs from the first")
	t.Check(m.GetHeader().GetMsgId() == id, "retransmitted %s, want the GetResp to %s", brief(m), id)
}
