package e2e_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/uspkit/uspkit/e2e"
	"github.com/uspkit/uspkit/record"
)

// testCA issues the certificates of the TLS12 tests.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

func newTestCA(t testing.TB) *testCA {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "e2e test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pool: pool}
}

// config returns the TLS settings of Endpoint id: a certificate naming it
// and this CA as trust anchor.
func (ca *testCA) config(t testing.TB, id string, notAfter time.Time) *tls.Config {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	u, _ := url.Parse("urn:bbf:usp:id:" + id)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: id},
		NotBefore: time.Now().Add(-2 * time.Hour), NotAfter: notAfter, URIs: []*url.URL{u}, KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}, RootCAs: ca.pool}
}

const (
	ctlID = "proto::ctl"
	agtID = "os::agent"
)

// tlsPair returns a Controller's session that starts TLS12 and the
// Agent's that accepts it.
func tlsPair(t *testing.T, ca *testCA, cfg e2e.Config) (ctl, agt *e2e.Session) {
	t.Helper()
	cc, ac := cfg, cfg
	cc.Security, ac.Security = record.PayloadSecurityTLS12, record.PayloadSecurityTLS12
	cc.TLS, ac.TLS = ca.config(t, ctlID, time.Now().Add(time.Hour)), ca.config(t, agtID, time.Now().Add(time.Hour))
	ctl, agt = e2e.NewSession(ctlID, agtID, 42, cc), e2e.AcceptSession(agtID, ctlID, 42, ac)
	t.Cleanup(ctl.Close)
	t.Cleanup(agt.Close)
	return ctl, agt
}

// deliver hands recs, over the wire, to s and returns what s released;
// an error fails the test.
func deliver(t *testing.T, s *e2e.Session, recs []*record.Record) e2e.Received {
	t.Helper()
	var all e2e.Received
	for _, r := range recs {
		got, err := s.Receive(wireTrip(t, r, 0), t0)
		if err != nil {
			t.Fatalf("record %d: %v", r.Session.SequenceID, err)
		}
		all.Msgs = append(all.Msgs, got.Msgs...)
		all.Send = append(all.Send, got.Send...)
		all.Resend = append(all.Resend, got.Resend...)
	}
	return all
}

// handshake runs a TLS12 session's handshake with msg as the
// Controller's first Msg, and returns the Msgs the Agent got.
func handshake(t *testing.T, ctl, agt *e2e.Session, msg string) [][]byte {
	t.Helper()
	hello, err := ctl.Send([]byte(msg), t0)
	if err != nil || len(hello) != 1 {
		t.Fatalf("ClientHello: %d records, %v", len(hello), err)
	}
	var msgs [][]byte
	flight := hello
	for i := 0; len(flight) > 0 && i < 6; i++ {
		to := agt
		if i%2 == 1 {
			to = ctl
		}
		got := deliver(t, to, flight)
		msgs = append(msgs, got.Msgs...)
		flight = got.Send
	}
	if !ctl.Established() || !agt.Established() {
		t.Fatal("handshake did not complete")
	}
	return msgs
}

// TestTLSOverRecords: the session's initiator is the TLS client, the
// handshake travels in the Records' payloads, the Msg sent before it
// completed follows it, and every Record is protected: a signature with
// sender_cert during the handshake, a MAC after [R-E2E.30], [R-E2E.31],
// [R-E2E.33].
func TestTLSOverRecords(t *testing.T) {
	ca := newTestCA(t)
	ctl, agt := tlsPair(t, ca, e2e.Config{})
	hello, err := ctl.Send([]byte("get-1"), t0)
	if err != nil || len(hello) != 1 {
		t.Fatalf("%d records, %v", len(hello), err)
	}
	h := hello[0]
	if h.PayloadSecurity != record.PayloadSecurityTLS12 || len(h.Session.Payload) != 1 || h.Session.Payload[0][0] != 22 {
		t.Fatalf("first record is not a TLS handshake record: %+v", h)
	}
	if len(h.SenderCert) == 0 || e2e.VerifySignature(wireTrip(t, h, 0)) != nil {
		t.Fatal("the ClientHello record is not signed")
	}
	flight := deliver(t, agt, hello).Send // ServerHello … ServerHelloDone
	if len(flight) == 0 || agt.Established() {
		t.Fatalf("agent: %d records, established %v", len(flight), agt.Established())
	}
	flight = deliver(t, ctl, flight).Send // Certificate … client Finished
	got := deliver(t, agt, flight)
	if len(got.Msgs) != 0 || !agt.Established() {
		t.Fatalf("agent got %q, established %v", got.Msgs, agt.Established())
	}
	fin := deliver(t, ctl, got.Send) // server Finished; get-1 goes
	if !ctl.Established() || len(fin.Msgs) != 0 || len(fin.Send) != 1 {
		t.Fatalf("controller established %v, msgs %q, %d records", ctl.Established(), fin.Msgs, len(fin.Send))
	}
	if m := deliver(t, agt, fin.Send).Msgs; len(m) != 1 || string(m[0]) != "get-1" {
		t.Fatalf("agent got %q", m)
	}
	resp := send(t, agt, "resp-1")
	for _, r := range resp {
		if len(r.MACSignature) != 32 || len(r.SenderCert) != 0 {
			t.Fatalf("record after the handshake has mac_signature of %d bytes, sender_cert %d", len(r.MACSignature), len(r.SenderCert))
		}
		if bytes.Contains(r.Session.Payload[0], []byte("resp-1")) {
			t.Fatal("the payload is in the clear")
		}
	}
	if m := deliver(t, ctl, resp).Msgs; len(m) != 1 || string(m[0]) != "resp-1" {
		t.Fatalf("controller got %q", m)
	}
}

// TestTLSRenegotiationRefused: a renegotiation request (a ClientHello
// once the handshake completed) is dropped: no Record answers it and the
// session goes on [R-E2E.42].
func TestTLSRenegotiationRefused(t *testing.T) {
	ca := newTestCA(t)
	ctl, agt := tlsPair(t, ca, e2e.Config{})
	handshake(t, ctl, agt, "get-1")
	deliver(t, ctl, send(t, agt, "resp-1"))
	// A ClientHello, as the payload of the Controller's next Record.
	other, _ := tlsPair(t, ca, e2e.Config{})
	hello, _ := other.Send(nil, t0)
	reneg := send(t, ctl, "")
	reneg[0].Session.Payload = hello[0].Session.Payload
	if got := deliver(t, agt, reneg); len(got.Send) != 0 || len(got.Msgs) != 0 {
		t.Fatalf("renegotiation answered: %d records, msgs %q", len(got.Send), got.Msgs)
	}
	if agt.Renegotiations() != 1 {
		t.Fatalf("%d renegotiations counted", agt.Renegotiations())
	}
	if got := deliver(t, agt, send(t, ctl, "get-3")); len(got.Msgs) != 1 || string(got.Msgs[0]) != "get-3" {
		t.Fatalf("after the renegotiation request the agent got %q", got.Msgs)
	}
}

// TestTLSSecurityChangeRefused: a PLAINTEXT Record in a TLS12 session
// fails it [R-E2E.19]; the Table restarts the session with a new
// ClientHello [R-E2E.21], and a PLAINTEXT Record starting a session where
// TLS12 is configured is refused the same way.
func TestTLSSecurityChangeRefused(t *testing.T) {
	ca := newTestCA(t)
	ctl, agt := tlsPair(t, ca, e2e.Config{})
	handshake(t, ctl, agt, "get-1")
	plain := send(t, ctl, "get-2")[0]
	plain.PayloadSecurity, plain.MACSignature = record.PayloadSecurityPlaintext, nil
	plain.Session.Payload = [][]byte{[]byte("get-2")}
	if got, err := agt.Receive(plain, t0); !errors.Is(err, e2e.ErrSecurityChanged) || len(got.Msgs) != 0 {
		t.Fatalf("PLAINTEXT in a TLS12 session: %v, msgs %q", err, got.Msgs)
	}

	cfg := e2e.Config{Security: record.PayloadSecurityTLS12, TLS: ca.config(t, agtID, time.Now().Add(time.Hour))}
	tab := e2e.NewTable(agtID, func(string) (e2e.Mode, e2e.Config) { return e2e.Allow, cfg })
	defer tab.End(ctlID)
	start := &record.Record{Version: record.Version, ToID: agtID, FromID: ctlID, Type: record.TypeSessionContext,
		Session: record.SessionContext{SessionID: 7, SequenceID: 1, ExpectedID: 1, Payload: [][]byte{[]byte("get")}}}
	got, restart, err := tab.Receive(start, t0)
	if !errors.Is(err, e2e.ErrUnsupportedSecurity) || len(got.Msgs) != 0 {
		t.Fatalf("PLAINTEXT session start: %v, msgs %q", err, got.Msgs)
	}
	if restart == nil || restart.PayloadSecurity != record.PayloadSecurityTLS12 || restart.Session.SessionID == 7 ||
		restart.Session.SequenceID != 1 || len(restart.Session.Payload) != 1 || restart.Session.Payload[0][0] != 22 {
		t.Fatalf("restart %+v is not a new TLS12 session with a ClientHello", restart)
	}
}

// TestTLSSegmented: with a small MaxUSPRecordSize the TLS records of a
// large Msg are segmented across Records and reassembled.
func TestTLSSegmented(t *testing.T) {
	ca := newTestCA(t)
	ctl, agt := tlsPair(t, ca, e2e.Config{MaxRecordSize: 1024})
	handshake(t, ctl, agt, "get-1")
	big := strings.Repeat("0123456789abcdef", 3000)
	recs := send(t, agt, big)
	if len(recs) < 40 || recs[0].Session.PayloadSAR != record.SARStateBegin || recs[len(recs)-1].Session.PayloadSAR != record.SARStateComplete {
		t.Fatalf("%d records, first SAR %d", len(recs), recs[0].Session.PayloadSAR)
	}
	for _, r := range recs {
		wireTrip(t, r, 1024)
	}
	if m := deliver(t, ctl, recs).Msgs; len(m) != 1 || string(m[0]) != big {
		t.Fatalf("reassembled %d msgs", len(m))
	}
}

// TestTLSBadPeer: the handshake fails, with a TLS alert to the peer and
// ErrTLS, when the peer's certificate names another Endpoint or has
// expired [R-E2E.43].
func TestTLSBadPeer(t *testing.T) {
	ca := newTestCA(t)
	for _, tc := range []struct {
		name string
		cfg  *tls.Config
	}{
		{"other endpoint", ca.config(t, "proto::someone-else", time.Now().Add(time.Hour))},
		{"expired", ca.config(t, ctlID, time.Now().Add(-time.Hour))},
		{"untrusted", func() *tls.Config {
			c := newTestCA(t).config(t, ctlID, time.Now().Add(time.Hour))
			c.RootCAs = ca.pool
			return c
		}()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctl := e2e.NewSession(ctlID, agtID, 9, e2e.Config{Security: record.PayloadSecurityTLS12, TLS: tc.cfg})
			agt := e2e.AcceptSession(agtID, ctlID, 9, e2e.Config{Security: record.PayloadSecurityTLS12, TLS: ca.config(t, agtID, time.Now().Add(time.Hour))})
			defer ctl.Close()
			defer agt.Close()
			hello, _ := ctl.Send([]byte("get"), t0)
			flight := deliver(t, agt, hello).Send
			flight = deliver(t, ctl, flight).Send // Certificate, …, Finished
			var err error
			var got e2e.Received
			for _, r := range flight {
				var g e2e.Received
				if g, err = agt.Receive(wireTrip(t, r, 0), t0); err != nil {
					got = g
					break
				}
			}
			if !errors.Is(err, e2e.ErrTLS) || len(got.Msgs) != 0 {
				t.Fatalf("agent: %v, msgs %q", err, got.Msgs)
			}
			if len(got.Send) != 1 || got.Send[0].Session.Payload[0][0] != 21 {
				t.Fatalf("no TLS alert to the peer: %d records", len(got.Send))
			}
		})
	}
}

// TestTLSBadMAC: a Record whose MAC does not verify is not processed and
// fails the session [R-E2E.23], [R-E2E.33].
func TestTLSBadMAC(t *testing.T) {
	ca := newTestCA(t)
	ctl, agt := tlsPair(t, ca, e2e.Config{})
	handshake(t, ctl, agt, "get-1")
	deliver(t, ctl, send(t, agt, "resp-1"))
	r := wireTrip(t, send(t, ctl, "get-2")[0], 0)
	r.Session.ExpectedID += 5 // a non-payload field changed on the way
	if got, err := agt.Receive(r, t0); !errors.Is(err, e2e.ErrIntegrity) || len(got.Msgs) != 0 {
		t.Fatalf("tampered record: %v, msgs %q", err, got.Msgs)
	}
}

// TestSignature: the signature method over the non-payload fields
// [R-E2E.31], [R-E2E.32].
func TestSignature(t *testing.T) {
	ca := newTestCA(t)
	c := ca.config(t, ctlID, time.Now().Add(time.Hour)).Certificates[0]
	r := record.NewNoSession(agtID, ctlID, []byte("msg"))
	if err := e2e.Sign(r, c.PrivateKey.(*ecdsa.PrivateKey), c.Certificate[0]); err != nil {
		t.Fatal(err)
	}
	if err := e2e.VerifySignature(wireTrip(t, r, 0)); err != nil {
		t.Fatal(err)
	}
	r.Payload = []byte("other") // not covered
	if err := e2e.VerifySignature(r); err != nil {
		t.Fatal(err)
	}
	r.FromID = "proto::x"
	if err := e2e.VerifySignature(r); !errors.Is(err, e2e.ErrIntegrity) {
		t.Fatalf("changed from_id: %v", err)
	}
}

// TestTLSOutstanding: what a TLS12 session can send again outside it
// when the peer refuses sessions is the Msgs that wait for the
// handshake, never ciphertext.
func TestTLSOutstanding(t *testing.T) {
	ca := newTestCA(t)
	cfg := e2e.Config{Security: record.PayloadSecurityTLS12, TLS: ca.config(t, ctlID, time.Now().Add(time.Hour))}
	tab := e2e.NewTable(ctlID, func(string) (e2e.Mode, e2e.Config) { return e2e.Require, cfg })
	defer tab.Close()
	if _, err := tab.Send(agtID, []byte("get-1"), t0); err != nil {
		t.Fatal(err)
	}
	tab.Send(agtID, []byte("get-2"), t0)
	if out := tab.Outstanding(agtID); len(out) != 2 || string(out[0]) != "get-1" || string(out[1]) != "get-2" {
		t.Fatalf("outstanding %q", out)
	}
}
