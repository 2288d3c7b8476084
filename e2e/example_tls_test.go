package e2e_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net/url"
	"time"

	"github.com/uspkit/uspkit/e2e"
	"github.com/uspkit/uspkit/record"
)

// exampleCA returns TLS settings for each Endpoint ID, from one CA.
func exampleCA(ids ...string) []*tls.Config {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "CA"}, IsCA: true, BasicConstraintsValid: true,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageCertSign}
	der, _ := x509.CreateCertificate(rand.Reader, ca, ca, &key.PublicKey, key)
	ca, _ = x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	var out []*tls.Config
	for i, id := range ids {
		k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		u, _ := url.Parse("urn:bbf:usp:id:" + id)
		leaf := &x509.Certificate{SerialNumber: big.NewInt(int64(i + 2)), URIs: []*url.URL{u}, KeyUsage: x509.KeyUsageDigitalSignature,
			NotBefore: ca.NotBefore, NotAfter: ca.NotAfter}
		d, _ := x509.CreateCertificate(rand.Reader, leaf, ca, &k.PublicKey, key)
		out = append(out, &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{d}, PrivateKey: k}}, RootCAs: pool})
	}
	return out
}

// A Controller starts a TLS12 session (it is the TLS client) and the
// Agent accepts it; the handshake travels in the Records' payloads, and
// the Msg the Controller sent first follows once it completed.
func ExampleAcceptSession() {
	confs := exampleCA("proto::ctl", "os::agent")
	now := time.Now()
	ctl := e2e.NewSession("proto::ctl", "os::agent", 42, e2e.Config{Security: record.PayloadSecurityTLS12, TLS: confs[0]})
	agt := e2e.AcceptSession("os::agent", "proto::ctl", 42, e2e.Config{Security: record.PayloadSecurityTLS12, TLS: confs[1]})
	defer ctl.Close()
	defer agt.Close()

	flight, _ := ctl.Send([]byte("a Get"), now)
	for i := 0; len(flight) > 0; i++ {
		to := agt
		if i%2 == 1 {
			to = ctl
		}
		var next []*record.Record
		for _, r := range flight {
			got, err := to.Receive(r, now)
			if err != nil {
				fmt.Println(err)
				return
			}
			for _, m := range got.Msgs {
				fmt.Printf("%s got %q\n", r.ToID, m)
			}
			next = append(next, got.Send...)
		}
		flight = next
	}
	fmt.Println("established:", ctl.Established(), agt.Established())
	// Output:
	// os::agent got "a Get"
	// established: true true
}

// A Record outside a session signed with the signature method; changing
// a non-payload field breaks the signature.
func ExampleSign() {
	confs := exampleCA("proto::ctl")
	c := confs[0].Certificates[0]
	r := record.NewNoSession("os::agent", "proto::ctl", []byte("a Get"))
	if err := e2e.Sign(r, c.PrivateKey.(*ecdsa.PrivateKey), c.Certificate[0]); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(e2e.VerifySignature(r) == nil)
	r.ToID = "os::other"
	fmt.Println(e2e.VerifySignature(r) == nil)
	// Output:
	// true
	// false
}

// The MAC of a Record with a key from the TLS session (here a fixed one):
// 32 bytes of HMAC-SHA256 over the non-payload fields.
func ExampleMAC() {
	r := record.NewNoSession("os::agent", "proto::ctl", []byte("a Get"))
	fmt.Println(len(e2e.MAC(make([]byte, 32), r)), len(e2e.IntegrityInput(r)))
	// Output:
	// 32 26
}

// The TLS settings of a TLS12 session: TLS 1.2 only, one cipher suite,
// the peer checked by its Endpoint ID.
func ExampleSessionTLS() {
	c := e2e.SessionTLS(exampleCA("proto::ctl")[0], "os::agent", nil)
	fmt.Println(c.MinVersion == tls.VersionTLS12, c.MaxVersion == tls.VersionTLS12, tls.CipherSuiteName(c.CipherSuites[0]))
	// Output:
	// true true TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
}

// A session start the peer never answered is tried again with a new
// session_id; Close releases every session's TLS layer.
func ExampleTable_Restart() {
	cfg := e2e.Config{Security: record.PayloadSecurityTLS12, TLS: exampleCA("os::agent")[0]}
	tab := e2e.NewTable("os::agent", func(string) (e2e.Mode, e2e.Config) { return e2e.Require, cfg })
	defer tab.Close()
	first, _ := tab.Send("proto::ctl", nil, time.Now())
	again, _ := tab.Restart("proto::ctl", time.Now())
	fmt.Println(again[0].Session.SessionID != first[0].Session.SessionID, again[0].Session.SequenceID, again[0].Session.Payload[0][0] == 22)
	fmt.Println(tab.Session("proto::ctl").Security() == record.PayloadSecurityTLS12, tab.Session("proto::ctl").Established())
	// Output:
	// true 1 true
	// true false
}
