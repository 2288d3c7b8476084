package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net/url"
	"testing"
	"time"

	"github.com/uspkit/uspkit/record"
)

// fuzzTLS returns TLS settings for id, signed by a CA made for the fuzz
// run.
func fuzzTLS(t testing.TB, ids ...string) []*tls.Config {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign, Subject: pkix.Name{CommonName: "ca"}}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	ca, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	var out []*tls.Config
	for i, id := range ids {
		k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		u, _ := url.Parse("urn:bbf:usp:id:" + id)
		leaf := &x509.Certificate{SerialNumber: big.NewInt(int64(i + 2)), NotBefore: tmpl.NotBefore, NotAfter: tmpl.NotAfter,
			URIs: []*url.URL{u}, KeyUsage: x509.KeyUsageDigitalSignature}
		d, err := x509.CreateCertificate(rand.Reader, leaf, ca, &k.PublicKey, key)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{d}, PrivateKey: k}}, RootCAs: pool})
	}
	return out
}

// FuzzTLSReceive feeds a TLS12 session, fresh or with its handshake
// done, Records whose payloads, SAR states, MACs and payload_security
// come from the fuzzer. Whatever arrives, nothing panics, the session's
// buffers stay within its Config, and the TLS layer's goroutine ends
// with the session.
func FuzzTLSReceive(f *testing.F) {
	f.Add(false, []byte{22, 3, 3, 0, 5, 1, 0, 0, 1, 0})
	f.Add(true, []byte{23, 3, 3, 0, 40, 1, 2, 3})
	f.Add(true, []byte{22, 3, 3, 0, 4, 1, 0, 0, 0, 21, 3, 3, 0, 2, 1, 100})
	f.Add(true, []byte{0xff, 1, 0xff, 0xff, 0xff})
	confs := fuzzTLS(f, "proto::ctl", "os::agent")
	cfg := Config{MaxBuffered: 8, MaxMessage: 64 << 10, Security: record.PayloadSecurityTLS12}
	f.Fuzz(func(t *testing.T, established bool, data []byte) {
		cc, ac := cfg, cfg
		cc.TLS, ac.TLS = confs[0], confs[1]
		agt := AcceptSession("os::agent", "proto::ctl", 5, ac)
		defer agt.Close()
		seq := uint64(1)
		if established {
			ctl := NewSession("proto::ctl", "os::agent", 5, cc)
			defer ctl.Close()
			flight, _ := ctl.Send(nil, time.Time{})
			for i := 0; len(flight) > 0 && i < 6; i++ {
				to := agt
				if i%2 == 1 {
					to = ctl
				}
				var next []*record.Record
				for _, r := range flight {
					got, _ := to.Receive(r, time.Time{})
					next = append(next, got.Send...)
				}
				flight = next
			}
			seq = ctl.nextSeq
		}
		for len(data) > 0 {
			n := min(len(data), 1+int(data[0])%300)
			chunk := data[:n]
			data = data[n:]
			r := &record.Record{Version: record.Version, ToID: "os::agent", FromID: "proto::ctl", PayloadSecurity: record.PayloadSecurity(chunk[0] % 3 / 2),
				Type: record.TypeSessionContext, Session: record.SessionContext{SessionID: 5, SequenceID: seq, ExpectedID: 1,
					PayloadSAR: record.SARState(chunk[0] % 4), PayloadRecSAR: record.SARState(chunk[0] % 4), Payload: [][]byte{chunk}}}
			if chunk[0]%5 == 0 {
				r.MACSignature = chunk[:min(len(chunk), 32)]
			}
			seq++
			if _, err := agt.Receive(r, time.Time{}); err != nil {
				return
			}
			if agt.segBytes > cfg.MaxMessage || agt.pendingBytes > cfg.MaxMessage || len(agt.outTLS) > 0 {
				t.Fatalf("session past its limits: %d bytes reassembling, %d pending, %d TLS bytes unsent", agt.segBytes, agt.pendingBytes, len(agt.outTLS))
			}
		}
	})
}
