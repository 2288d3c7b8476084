package conformance

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/uspkit/uspkit/e2e"
	"github.com/uspkit/uspkit/record"
	"github.com/uspkit/uspkit/wire"
)

// section3TLS holds the cases of section 3 that need TLS12 payload
// security, Record signatures or hand-made session Records (3.2 to 3.7,
// 3.10, 3.13 to 3.15), and 2.7 and 2.8. The runner plays the Controller's
// side of a TLS12 session with package e2e, and builds by hand the
// Records a well-behaved Controller would not send.
func section3TLS() map[string]caseFunc {
	return map[string]caseFunc{
		"3.2":  {run: e2eNoIntegrity},
		"3.3":  {wait: 20 * time.Second, run: e2eBadSignature},
		"3.4":  {wait: 15 * time.Second, run: e2eTLSMAC},
		"3.5":  {wait: 40 * time.Second, run: e2eTLSFailure},
		"3.6":  {wait: 20 * time.Second, run: e2eRenegotiation},
		"3.7":  {wait: 15 * time.Second, run: e2eCertificates},
		"3.10": {wait: 120 * time.Second, long: true, run: e2eExpiration},
		"3.13": {wait: 20 * time.Second, run: e2eSecurityChange},
		"3.14": {wait: 20 * time.Second, run: e2eRetransmitLimit},
		"3.15": {wait: 15 * time.Second, run: e2eDuplicates},
		"2.7":  {wait: 15 * time.Second, run: e2eBadRecordSignature},
		"2.8":  {wait: 15 * time.Second, run: e2eExpiredCert},
	}
}

// e2eSetup returns the runner's E2E certificates, or skips the case.
func (t *T) e2eSetup() *E2ESetup {
	if t.r.o.E2E == nil {
		t.Skipf("needs the runner's E2E TLS certificate, trusted by the agent (usp conformance --e2e-cert, --e2e-key, --e2e-ca)")
	}
	return t.r.o.E2E
}

// tlsConfig is the runner's TLS side of a session, with cert.
func (t *T) tlsConfig(cert tls.Certificate) *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: t.e2eSetup().Roots}
}

// setParam sets a parameter of the Agent for the case and restores it
// after; skip says what to do when the Agent lacks it (skip the case, or
// go on).
func (t *T) setParam(object, name, value string, skip bool) {
	path := object + name
	m, err := t.c.do(t.ctx, getReq(path), t.r.o.ReplyTimeout)
	old, ok := flat(m.GetBody().GetResponse().GetGetResp())[path]
	if err != nil || !ok {
		if skip {
			t.Skipf("the agent has no %s", path)
		}
		return
	}
	if old == value {
		return
	}
	t.setResp(t.Do(setReq(false, obj(object, preq(name, value)))))
	t.Cleanup(func() { t.c.do(t.ctx, setReq(true, obj(object, p(name, old))), t.r.o.ReplyTimeout) })
}

// plaintextSessions makes the runner's sessions PLAINTEXT for the case
// (E2ESession.PayloadSecurity), for an Agent that would use TLS.
func (t *T) plaintextSessions() {
	t.setParam(t.controller()+"E2ESession.", "PayloadSecurity", "Plaintext", false)
}

// tlsSess is the runner's side of a TLS12 session.
type tlsSess struct {
	t      *T
	s      *e2e.Session
	tap    chan *record.Record
	from   []*record.Record // the Agent's Records in this session
	others []*record.Record // the Agent's Records of other sessions
	msgs   []*wire.Msg
	n      int
}

// startTLS taps the Agent's session Records and returns a TLS12 session
// the runner starts (as TLS client) with cfg.
func (t *T) startTLS(cfg *tls.Config) *tlsSess {
	t.e2eSetup()
	t.setParam(t.controller()+"E2ESession.", "PayloadSecurity", "TLS", true)
	base := t.startSession()
	t.c.mu.Lock()
	tap := t.c.tap
	t.c.mu.Unlock()
	x := &tlsSess{t: t, tap: tap, s: e2e.NewSession(t.c.id, t.c.agentID, base.id, e2e.Config{Security: record.PayloadSecurityTLS12, TLS: cfg})}
	t.Cleanup(func() { x.s.Close() })
	return x
}

func (x *tlsSess) send(recs ...*record.Record) {
	for _, r := range recs {
		if err := x.t.c.sendRecord(x.t.ctx, r); err != nil {
			x.t.Fatalf("sending a session record: %v", err)
		}
	}
}

// next waits at most d for the Agent's next Record.
func (x *tlsSess) next(d time.Duration) *record.Record {
	select {
	case r := <-x.tap:
		return r
	case <-time.After(d):
		return nil
	case <-x.t.ctx.Done():
		return nil
	}
}

// feed processes a Record of the Agent: in the runner's session, it goes
// through it (what the session answers is sent); of another session, it
// is kept in others.
func (x *tlsSess) feed(r *record.Record) error {
	if r.Type == record.TypeDisconnect {
		return fmt.Errorf("the agent sent a Disconnect Record: %d %s", r.Disconnect.Code, r.Disconnect.Reason)
	}
	if r.Session.SessionID != x.s.ID() {
		x.others = append(x.others, r)
		return nil
	}
	x.from = append(x.from, r)
	got, err := x.s.Receive(r, time.Now())
	x.send(got.Resend...)
	x.send(got.Send...)
	for _, b := range got.Msgs {
		var m wire.Msg
		if proto.Unmarshal(b, &m) == nil {
			x.msgs = append(x.msgs, &m)
		}
	}
	return err
}

var errNoRecord = errors.New("no record from the agent")

// until feeds the Agent's Records until done holds, at most d.
func (x *tlsSess) until(d time.Duration, done func() bool) error {
	deadline := time.Now().Add(d)
	for !done() {
		r := x.next(time.Until(deadline))
		if r == nil {
			return errNoRecord
		}
		if err := x.feed(r); err != nil {
			return err
		}
	}
	return nil
}

// msg builds a request Msg with a fresh msg_id.
func (x *tlsSess) msg(req *wire.Request) (string, []byte) {
	x.n++
	id := fmt.Sprintf("e2etls-%d-%d", x.s.ID()%100000, x.n)
	b, _ := proto.Marshal(&wire.Msg{Header: &wire.Header{MsgId: id, MsgType: wire.RequestMsgType(req)}, Body: &wire.Body{MsgBody: &wire.Body_Request{Request: req}}})
	return id, b
}

// do sends req in the session (the first one starts the TLS handshake)
// and waits for the answer.
func (x *tlsSess) do(req *wire.Request) (*wire.Msg, error) {
	id, b := x.msg(req)
	recs, err := x.s.Send(b, time.Now())
	if err != nil {
		return nil, err
	}
	x.send(recs...)
	var got *wire.Msg
	err = x.until(x.t.r.o.ReplyTimeout, func() bool {
		for _, m := range x.msgs {
			if m.GetHeader().GetMsgId() == id {
				got = m
				return true
			}
		}
		return false
	})
	return got, err
}

// watch registers msg_id id for an answer outside a session.
func (c *client) watch(id string) (chan *wire.Msg, func()) {
	ch := make(chan *wire.Msg, 1)
	c.mu.Lock()
	c.waiting[id] = ch
	c.mu.Unlock()
	return ch, func() {
		c.mu.Lock()
		delete(c.waiting, id)
		c.mu.Unlock()
	}
}

// selfSignedE2E makes a certificate for Endpoint id that no one trusts.
func selfSignedE2E(id string, notAfter time.Time) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	u, _ := url.Parse("urn:bbf:usp:id:" + id)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: id},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: notAfter, URIs: []*url.URL{u}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

// names reports whether c carries Endpoint id as URI subjectAltName.
func names(c *x509.Certificate, id string) bool {
	for _, u := range c.URIs {
		if u.String() == "urn:bbf:usp:id:"+id {
			return true
		}
	}
	return false
}

// tlsContentType is the content type of the first TLS record in r's
// payload, or 0.
func tlsContentType(r *record.Record) byte {
	if len(r.Session.Payload) == 0 || len(r.Session.Payload[0]) == 0 {
		return 0
	}
	return r.Session.Payload[0][0]
}

// e2eNoIntegrity is 3.2: over an MTP that does not protect the Records,
// an Agent that requires integrity does not answer a PLAINTEXT Get without
// mac_signature [R-E2E.29], [R-E2E.30], and answers signed ones.
func e2eNoIntegrity(t *T) {
	if s := t.r.o.E2E; s == nil || !s.Unprotected {
		t.Skipf("needs an MTP without integrity protection and an agent that requires it (usp agent's e2e_tls.require_integrity; usp conformance --e2e-unprotected)")
	}
	x := &tlsSess{t: t, s: e2e.NewSession(t.c.id, t.c.agentID, 3, e2e.Config{})}
	id, b := x.msg(getReq("Device.DeviceInfo.SoftwareVersion"))
	raw, err := record.NewNoSession(t.c.agentID, t.c.id, b).MarshalBinary()
	if err != nil {
		t.Fatalf("record: %v", err)
	}
	ch, stop := t.c.watch(id)
	defer stop()
	if err := t.c.tr.Send(t.ctx, t.c.addr, raw); err != nil {
		t.Fatalf("sending: %v", err)
	}
	select {
	case m := <-ch:
		t.Fatalf("the agent answered a Get without integrity protection: %s", brief(m))
	case <-time.After(3 * time.Second):
	}
	t.Check(t.c.ping(t.ctx, 10*time.Second) == nil, "the agent does not answer signed Records either")
}

// e2eTLSMAC is 3.4: in a TLS12 session the Agent's Records are signed
// during the handshake and carry an HMAC-SHA256 after it, which the
// runner's session verifies [R-E2E.31], [R-E2E.33].
func e2eTLSMAC(t *T) {
	x := t.startTLS(t.tlsConfig(t.e2eSetup().Certificate))
	m, err := x.do(getReq("Device.LocalAgent."))
	if err != nil {
		t.Fatalf("no GetResponse in the TLS12 session: %v", err)
	}
	t.Check(m.GetBody().GetResponse().GetGetResp() != nil, "answer %s is not a GetResp", brief(m))
	first, last := x.from[0], x.from[len(x.from)-1]
	t.Check(first.PayloadSecurity == record.PayloadSecurityTLS12 && tlsContentType(first) == 22, "the agent's first Record is not a TLS12 handshake Record")
	t.Check(len(first.SenderCert) > 0 && e2e.VerifySignature(first) == nil, "the agent's handshake Record is not signed with its certificate (sender_cert %d bytes)", len(first.SenderCert))
	t.Check(last.PayloadSecurity == record.PayloadSecurityTLS12 && len(last.MACSignature) == 32 && len(last.SenderCert) == 0,
		"the GetResponse Record's mac_signature has %d bytes and sender_cert %d: want the TLS MAC (HMAC-SHA256)", len(last.MACSignature), len(last.SenderCert))
}

// e2eBadSignature is 3.3: a ClientHello starting a session with an
// invalid mac_signature gets no ServerHello [R-E2E.23], [R-E2E.31].
func e2eBadSignature(t *T) {
	x := t.startTLS(t.tlsConfig(t.e2eSetup().Certificate))
	hello, err := x.s.Send(nil, time.Now())
	if err != nil || len(hello) != 1 {
		t.Fatalf("ClientHello: %v", err)
	}
	r := *hello[0]
	r.MACSignature = make([]byte, 70)
	rand.Read(r.MACSignature)
	x.send(&r)
	deadline := time.Now().Add(3 * time.Second)
	for {
		got := x.next(time.Until(deadline))
		if got == nil {
			break
		}
		t.Check(got.Session.SessionID != x.s.ID() || len(got.Session.Payload) == 0,
			"the agent went on with the handshake of a ClientHello whose signature is invalid (Record %d of the session)", got.Session.SequenceID)
	}
	// A valid start still works.
	y := t.startTLS(t.tlsConfig(t.e2eSetup().Certificate))
	if _, err := y.do(getReq("Device.DeviceInfo.SoftwareVersion")); err != nil {
		t.Fatalf("a correctly signed session after the invalid one: %v", err)
	}
}

// e2eTLSFailure is 3.5: a controller certificate the Agent refuses makes
// it send a TLS alert; it then starts sessions itself, waiting the retry
// intervals of SessionRetryMinimumWaitInterval and
// SessionRetryIntervalMultiplier between attempts [R-E2E.10], until one
// succeeds, which resets CurrentRetryCount [R-E2E.12].
func e2eTLSFailure(t *T) {
	setup := t.e2eSetup()
	es := t.controller() + "E2ESession."
	m, err := t.c.do(t.ctx, getReq(es), t.r.o.ReplyTimeout)
	if _, ok := flat(m.GetBody().GetResponse().GetGetResp())[es+"SessionRetryMinimumWaitInterval"]; err != nil || !ok {
		t.Skipf("the agent has no %sSessionRetryMinimumWaitInterval", es)
	}
	// The plan's defaults (5 s, 2000) wait 5–10 s, then 10–20 s: the case
	// uses 2 s for both retries to fit its time.
	t.setParam(es, "SessionRetryMinimumWaitInterval", "2", true)
	t.setParam(es, "SessionRetryIntervalMultiplier", "2000", true)
	bad := setup.WrongID
	if bad == nil {
		c, err := selfSignedE2E(t.c.id, time.Now().Add(time.Hour))
		if err != nil {
			t.Fatalf("certificate: %v", err)
		}
		bad = &c
	}
	x := t.startTLS(t.tlsConfig(*bad))
	_, b := x.msg(getReq("Device.DeviceInfo.SoftwareVersion"))
	hello, _ := x.s.Send(b, time.Now())
	x.send(hello...)
	err = x.until(t.r.o.ReplyTimeout, func() bool { return false })
	t.Check(errors.Is(err, e2e.ErrTLS), "the session with a refused certificate ended with %v, want a TLS failure", err)
	alert := len(x.from) > 0 && tlsContentType(x.from[len(x.from)-1]) == 21
	t.Check(alert, "the agent sent no TLS alert after the controller's certificate")
	failed := time.Now()
	// The Agent's first retry: a session of its own (ClientHello,
	// sequence_id 1) after 2–4 s.
	retry := func(after time.Time, lo, hi time.Duration) *record.Record {
		deadline := after.Add(hi + 3*time.Second)
		for {
			r := x.next(time.Until(deadline))
			if r == nil {
				t.Fatalf("the agent did not start a session again within %v", hi+3*time.Second)
			}
			if r.Type == record.TypeSessionContext && r.Session.SessionID != x.s.ID() && r.Session.SequenceID == 1 && tlsContentType(r) == 22 {
				d := time.Since(after)
				t.Check(d >= lo-300*time.Millisecond && d <= hi+1500*time.Millisecond, "the agent retried after %v, want %v to %v", d.Round(100*time.Millisecond), lo, hi)
				return r
			}
		}
	}
	r1 := retry(failed, 2*time.Second, 4*time.Second)
	// The runner answers it with a TLS alert (handshake_failure).
	x.send(&record.Record{Version: record.Version, ToID: t.c.agentID, FromID: t.c.id, PayloadSecurity: record.PayloadSecurityTLS12, Type: record.TypeSessionContext,
		Session: record.SessionContext{SessionID: r1.Session.SessionID, SequenceID: 1, ExpectedID: 2, Payload: [][]byte{{21, 3, 3, 0, 2, 2, 40}}}})
	alerted := time.Now()
	r2 := retry(alerted, 4*time.Second, 8*time.Second)
	if m, err := t.c.do(t.ctx, getReq(es+"CurrentRetryCount"), t.r.o.ReplyTimeout); err == nil {
		n := flat(m.GetBody().GetResponse().GetGetResp())[es+"CurrentRetryCount"]
		t.Check(n == "2", "CurrentRetryCount %q after two failed attempts, want 2", n)
	}
	// This time the runner completes the handshake, as TLS server.
	y := &tlsSess{t: t, tap: x.tap, s: e2e.AcceptSession(t.c.id, t.c.agentID, r2.Session.SessionID,
		e2e.Config{Security: record.PayloadSecurityTLS12, TLS: t.tlsConfig(setup.Certificate)})}
	defer y.s.Close()
	if err := y.feed(r2); err != nil {
		t.Fatalf("the agent's ClientHello: %v", err)
	}
	if err := y.until(t.r.o.ReplyTimeout, y.s.Established); err != nil {
		t.Fatalf("the handshake the agent started: %v", err)
	}
	// The Agent's Finished has reached it once the runner's has: ask for
	// the count in the session.
	m, err = y.do(getReq(es + "CurrentRetryCount"))
	if err != nil {
		t.Fatalf("no answer in the session the agent started: %v", err)
	}
	n := flat(m.GetBody().GetResponse().GetGetResp())[es+"CurrentRetryCount"]
	t.Check(n == "0", "CurrentRetryCount %q once a session is established, want 0", n)
}

// e2eRenegotiation is 3.6: a renegotiation request (a ClientHello) in an
// established TLS12 session gets no answer, or a no_renegotiation alert,
// and the session goes on [R-E2E.42].
func e2eRenegotiation(t *T) {
	cfg := t.tlsConfig(t.e2eSetup().Certificate)
	x := t.startTLS(cfg)
	if _, err := x.do(getReq("Device.DeviceInfo.SoftwareVersion")); err != nil {
		t.Fatalf("TLS12 session: %v", err)
	}
	other := e2e.NewSession(t.c.id, t.c.agentID, 2, e2e.Config{Security: record.PayloadSecurityTLS12, TLS: cfg})
	hello, err := other.Send(nil, time.Now())
	other.Close()
	if err != nil {
		t.Fatalf("ClientHello: %v", err)
	}
	reneg, err := x.s.Send(nil, time.Now())
	if err != nil || len(reneg) != 1 {
		t.Fatalf("session record: %v", err)
	}
	reneg[0].Session.Payload = hello[0].Session.Payload
	x.send(reneg...)
	before := len(x.from)
	m, err := x.do(getReq("Device.DeviceInfo."))
	if err != nil {
		t.Fatalf("no GetResponse after the renegotiation request: %v", err)
	}
	t.Check(m.GetBody().GetResponse().GetGetResp() != nil, "answer %s is not a GetResp", brief(m))
	for _, r := range x.from[before : len(x.from)-1] {
		t.Check(tlsContentType(r) == 21 || len(r.Session.Payload) == 0, "the agent answered the renegotiation request with TLS content type %d", tlsContentType(r))
	}
}

// e2eCertificates is 3.7: the Agent presents a certificate naming its
// Endpoint ID, asks for the Controller's, and refuses one naming another
// Endpoint [R-E2E.43].
func e2eCertificates(t *T) {
	setup := t.e2eSetup()
	bad := setup.WrongID
	if bad == nil {
		c, err := selfSignedE2E("proto::not-the-runner", time.Now().Add(time.Hour))
		if err != nil {
			t.Fatalf("certificate: %v", err)
		}
		bad = &c
	}
	var mu sync.Mutex
	var asked bool
	var agentCert *x509.Certificate
	cfg := &tls.Config{RootCAs: setup.Roots,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			mu.Lock()
			asked = true
			mu.Unlock()
			return bad, nil
		},
		VerifyConnection: func(cs tls.ConnectionState) error {
			mu.Lock()
			if len(cs.PeerCertificates) > 0 {
				agentCert = cs.PeerCertificates[0]
			}
			mu.Unlock()
			return nil
		}}
	x := t.startTLS(cfg)
	m, err := x.do(getReq("Device.DeviceInfo."))
	mu.Lock()
	defer mu.Unlock()
	t.Check(agentCert != nil && names(agentCert, t.c.agentID), "the agent's certificate does not name %s", t.c.agentID)
	t.Check(asked, "the agent did not ask for the controller's certificate")
	t.Check(m == nil && err != nil, "the agent answered a controller whose certificate names another endpoint")
}

// e2eSecurityChange is 3.13: a PLAINTEXT Record in a TLS12 session gets
// no answer and the Agent starts a new session [R-E2E.19], [R-E2E.21].
func e2eSecurityChange(t *T) {
	x := t.startTLS(t.tlsConfig(t.e2eSetup().Certificate))
	if _, err := x.do(getReq("Device.DeviceInfo.SoftwareVersion")); err != nil {
		t.Fatalf("TLS12 session: %v", err)
	}
	recs, err := x.s.Send(nil, time.Now())
	if err != nil || len(recs) != 1 {
		t.Fatalf("session record: %v", err)
	}
	id, b := x.msg(getReq("Device.DeviceInfo.SoftwareVersion"))
	r := recs[0]
	r.PayloadSecurity, r.MACSignature, r.Session.Payload = record.PayloadSecurityPlaintext, nil, [][]byte{b}
	ch, stop := t.c.watch(id)
	defer stop()
	x.send(r)
	var restarted *record.Record
	deadline := time.Now().Add(t.r.o.ReplyTimeout)
	for restarted == nil {
		got := x.next(time.Until(deadline))
		if got == nil {
			break
		}
		if got.Type == record.TypeSessionContext && got.Session.SessionID != x.s.ID() && got.Session.SequenceID == 1 {
			restarted = got
			continue
		}
		if got.Session.SessionID == x.s.ID() {
			x.feed(got)
		}
	}
	select {
	case m := <-ch:
		t.Check(false, "the agent answered the PLAINTEXT Get: %s", brief(m))
	default:
	}
	for _, m := range x.msgs {
		t.Check(m.GetHeader().GetMsgId() != id, "the agent answered the PLAINTEXT Get in the session")
	}
	t.Check(restarted != nil, "the agent did not start a new session")
}

// e2eRetransmitLimit is 3.14: with MaxRetransmitTries 2, the SetResponse
// is sent again twice on request; the third request makes the Agent
// start a new session instead.
func e2eRetransmitLimit(t *T) {
	t.plaintextSessions()
	es := t.controller() + "E2ESession."
	t.setParam(es, "MaxRetransmitTries", "2", true)
	s := t.startSession()
	r, _ := s.record(1, 1, "")
	s.n++
	id := fmt.Sprintf("e2e-%d-%d", s.id%100000, s.n)
	set := setReq(false, obj(es, preq("MaxRetransmitTries", "2")))
	b, _ := proto.Marshal(&wire.Msg{Header: &wire.Header{MsgId: id, MsgType: wire.Header_SET}, Body: &wire.Body{MsgBody: &wire.Body_Request{Request: set}}})
	r.Session.Payload = [][]byte{b}
	s.send(r)
	first := s.next(t.r.o.ReplyTimeout)
	m := s.answer(first)
	t.Check(m.GetHeader().GetMsgId() == id && m.GetBody().GetResponse().GetSetResp() != nil, "answer %s is not the SetResp to %s", brief(m), id)
	for i := uint64(1); i <= 3; i++ {
		ask, _ := s.record(1+i, 1, "")
		ask.Session.RetransmitID = first.Session.SequenceID
		s.send(ask)
		got := s.next(t.r.o.ReplyTimeout)
		if got == nil {
			t.Fatalf("nothing from the agent after retransmit request %d", i)
		}
		if i < 3 {
			t.Check(got.Session.SessionID == s.id && got.Session.SequenceID == first.Session.SequenceID && s.answer(got).GetHeader().GetMsgId() == id,
				"retransmit request %d: Record %d of session %d, want the SetResponse again", i, got.Session.SequenceID, got.Session.SessionID)
			continue
		}
		t.Check(got.Session.SessionID != s.id && got.Session.SequenceID == 1 && len(got.Session.Payload) == 0,
			"third retransmit request: Record %d of session %d with %d payloads, want a new session", got.Session.SequenceID, got.Session.SessionID, len(got.Session.Payload))
	}
}

// e2eDuplicates is 3.15: a Record sent four times is answered once
// [R-E2E.25].
func e2eDuplicates(t *T) {
	t.plaintextSessions()
	s := t.startSession()
	r, id := s.record(1, 1, "Device.DeviceInfo.SoftwareVersion")
	for range 4 {
		s.send(r)
	}
	n := 0
	for {
		got := s.next(3 * time.Second)
		if got == nil {
			break
		}
		if got.Session.SessionID == s.id && len(got.Session.Payload) == 1 {
			var m wire.Msg
			if proto.Unmarshal(got.Session.Payload[0], &m) == nil && m.GetHeader().GetMsgId() == id {
				n++
			}
		}
	}
	t.Check(n == 1, "%d GetResponses to a Record sent four times, want 1", n)
}

// e2eExpiration is 3.10: with SessionExpiration 60 the Periodic!
// Notifications every 10 s share one session; with 5 they each start a
// new one [R-E2E.7].
func e2eExpiration(t *T) {
	t.plaintextSessions()
	c := t.controller()
	t.need(c + "PeriodicNotifInterval")
	t.setParam(c+"E2ESession.", "SessionExpiration", "60", true)
	t.setParam(c, "PeriodicNotifInterval", "10", true)
	s := t.startSession()
	r, _ := s.record(1, 1, "Device.DeviceInfo.SoftwareVersion")
	s.send(r)
	s.answer(s.next(t.r.o.ReplyTimeout))
	t.addSubs(obj(subTable, p("Enable", "true"), p("ID", "tp469-3.10"), p("NotifType", "Event"), p("ReferenceList", "Device.LocalAgent.Periodic!")))
	periodic := func(n int) []uint64 {
		var ids []uint64
		deadline := time.Now().Add(time.Duration(n)*10*time.Second + 10*time.Second)
		for len(ids) < n {
			got := s.next(time.Until(deadline))
			if got == nil {
				t.Fatalf("%d Periodic! Notifications in sessions, want %d", len(ids), n)
			}
			if got.Type != record.TypeSessionContext || len(got.Session.Payload) != 1 {
				continue
			}
			var m wire.Msg
			if proto.Unmarshal(got.Session.Payload[0], &m) == nil && m.GetBody().GetRequest().GetNotify().GetEvent().GetEventName() == "Periodic!" {
				ids = append(ids, got.Session.SessionID)
			}
		}
		return ids
	}
	ids := periodic(3)
	t.Check(ids[0] == ids[1] && ids[1] == ids[2], "with SessionExpiration 60 the Notifications came in sessions %v, want one", ids)
	t.setResp(t.Do(setReq(false, obj(c+"E2ESession.", preq("SessionExpiration", "5")), obj(c, preq("PeriodicNotifInterval", "10")))))
	ids = periodic(4)[1:] // the first may still use the session
	t.Check(ids[0] != ids[1] && ids[1] != ids[2] && ids[0] != ids[2], "with SessionExpiration 5 the Notifications came in sessions %v, want three", ids)
}

// e2eBadRecordSignature is 2.7: a Get whose Record carries an invalid
// signature is not answered; the same Get validly signed is [R-E2E.30],
// [R-E2E.31].
func e2eBadRecordSignature(t *T) {
	cert, err := selfSignedE2E(t.c.id, time.Now().Add(time.Hour))
	if t.r.o.E2E != nil {
		cert = t.r.o.E2E.Certificate
	}
	if err != nil {
		t.Fatalf("certificate: %v", err)
	}
	key, ok := cert.PrivateKey.(crypto.Signer)
	if !ok {
		t.Skipf("the runner's E2E key cannot sign")
	}
	x := &tlsSess{t: t, s: e2e.NewSession(t.c.id, t.c.agentID, 3, e2e.Config{})}
	send := func(valid bool) *wire.Msg {
		id, b := x.msg(getReq("Device.DeviceInfo.SoftwareVersion"))
		r := record.NewNoSession(t.c.agentID, t.c.id, b)
		if err := e2e.Sign(r, key, cert.Certificate[0]); err != nil {
			t.Fatalf("signing: %v", err)
		}
		if !valid {
			r.MACSignature[len(r.MACSignature)-3] ^= 0x55
		}
		ch, stop := t.c.watch(id)
		defer stop()
		if err := t.c.sendRecord(t.ctx, r); err != nil {
			t.Fatalf("sending: %v", err)
		}
		select {
		case m := <-ch:
			return m
		case <-time.After(3 * time.Second):
			return nil
		}
	}
	if m := send(false); m != nil {
		t.Fatalf("the agent answered a Get whose Record signature is invalid: %s", brief(m))
	}
	t.Check(send(true) != nil, "the agent did not answer the same Get validly signed")
}

// e2eExpiredCert is 2.8: a TLS12 session with an expired controller
// certificate gets no answer [R-E2E.43].
func e2eExpiredCert(t *T) {
	setup := t.e2eSetup()
	if setup.Expired == nil {
		t.Skipf("needs an expired certificate naming the runner from the agent's trusted issuer (usp conformance --e2e-expired-cert, --e2e-expired-key)")
	}
	x := t.startTLS(t.tlsConfig(*setup.Expired))
	m, err := x.do(getReq("Device.DeviceInfo."))
	t.Check(m == nil && err != nil, "the agent answered in a session with an expired controller certificate")
	if err != nil && !errors.Is(err, e2e.ErrTLS) && !errors.Is(err, errNoRecord) {
		t.Check(false, "session: %v", err)
	}
}
