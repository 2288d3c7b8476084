package broker_test

import (
	"crypto/tls"
	"net/url"
	"testing"

	"github.com/uspkit/uspkit/broker"
	"github.com/uspkit/uspkit/internal/testenv"
)

// TestTLS: server-only TLS with password logins, MQTT 5 and 3.1.1
// [R-MQTT.48].
func TestTLS(t *testing.T) {
	pki := testenv.NewPKI(t, "os::agentA")
	srv := &tls.Config{Certificates: []tls.Certificate{pki.Server}, MinVersion: tls.VersionTLS12}
	cli := &tls.Config{RootCAs: pki.CAPool, MinVersion: tls.VersionTLS12}
	o := uspOptions()
	o.TLS = srv
	b, _ := start(t, o)
	c5, err := connect5(t, dial5{addr: b.Addrs().TCP, tls: cli, id: "a1", user: "agent1", pass: "pw1"})
	if err != nil {
		t.Fatal(err)
	}
	if err := c5.subscribe(t, "usp/agent/agent1/#"); err != nil {
		t.Fatal(err)
	}
	c3, _, err := connect3(t, b.Addrs().TCP, "c", "ctrl", "pwc", cli)
	if err != nil {
		t.Fatal(err)
	}
	if err := wait3(c3.Publish("usp/agent/agent1", 1, false, "over tls")); err != nil {
		t.Fatal(err)
	}
	c5.expect(t, "usp/agent/agent1", []byte("over tls"))
	// No password and no certificate: refused.
	if _, err := connect5(t, dial5{addr: b.Addrs().TCP, tls: cli, id: "x"}); err == nil {
		t.Fatal("anonymous client connected over TLS")
	}
}

// TestMutualTLS: the client certificate authenticates; its Endpoint ID
// (URI SAN urn:bbf:usp:id:…) is the account name [R-MQTT.43].
func TestMutualTLS(t *testing.T) {
	pki := testenv.NewPKI(t, "os::agentA")
	o := uspOptions()
	o.TLS = pki.ServerConfig()
	o.Controllers = []string{"ctrl", "controller-cn"}
	b, lb := start(t, o)
	addr := b.Addrs().TCP

	agent, err := connect5(t, dial5{addr: addr, tls: pki.ClientConfig(), id: "whatever"})
	if err != nil {
		t.Fatalf("%v\n%s", err, lb)
	}
	if got := agent.Connack.Properties.User.Get("subscribe-topic"); got != "usp/agent/os::agentA/#" {
		t.Fatalf("subscribe-topic %q", got)
	}
	if err := agent.subscribe(t, "usp/agent/os::agentA/#"); err != nil {
		t.Fatal(err)
	}

	// A certificate with only a Common Name, listed as a Controller.
	ctlCert := pki.Issue(t, "controller-cn", nil, nil, nil)
	ctlTLS := &tls.Config{Certificates: []tls.Certificate{ctlCert}, RootCAs: pki.CAPool, MinVersion: tls.VersionTLS12}
	ctl, _, err := connect3(t, addr, "ctl", "", "", ctlTLS)
	if err != nil {
		t.Fatal(err)
	}
	if err := wait3(ctl.Publish("usp/agent/os::agentA", 1, false, "mtls")); err != nil {
		t.Fatal(err)
	}
	agent.expect(t, "usp/agent/os::agentA", []byte("mtls"))

	// A user name other than the certificate's identity is refused.
	if _, err := connect5(t, dial5{addr: addr, tls: pki.ClientConfig(), id: "y", user: "agent2"}); err == nil {
		t.Fatal("user name differing from the certificate accepted")
	}
	// Without a certificate the handshake fails.
	if _, err := connect5(t, dial5{addr: addr, tls: &tls.Config{RootCAs: pki.CAPool}, id: "z", user: "agent1", pass: "pw1"}); err == nil {
		t.Fatal("connected without a client certificate")
	}
	// A certificate from another CA fails too.
	other := testenv.NewPKI(t, "os::evil")
	evil := &tls.Config{Certificates: []tls.Certificate{other.Client}, RootCAs: pki.CAPool}
	if _, err := connect5(t, dial5{addr: addr, tls: evil, id: "e"}); err == nil {
		t.Fatal("connected with a certificate from another CA")
	}
}

func TestCertIdentity(t *testing.T) {
	pki := testenv.NewPKI(t, "proto::x")
	u, _ := url.Parse("https://example.com/")
	tests := []struct {
		cert tls.Certificate
		want string
	}{
		{pki.Client, "proto::x"},
		{pki.Issue(t, "cn-only", nil, nil, nil), "cn-only"},
		{pki.Issue(t, "cn", []*url.URL{u}, nil, nil), "cn"},
	}
	for _, tt := range tests {
		if got := broker.CertIdentity(tt.cert.Leaf); got != tt.want {
			t.Errorf("CertIdentity = %q, want %q", got, tt.want)
		}
	}
}

// TestUnverifiedCert: a certificate crypto/tls did not verify (ClientAuth
// RequestClientCert) authenticates nobody.
func TestUnverifiedCert(t *testing.T) {
	pki := testenv.NewPKI(t, "os::agentA")
	o := uspOptions()
	o.TLS = &tls.Config{Certificates: []tls.Certificate{pki.Server}, ClientAuth: tls.RequestClientCert}
	b, _ := start(t, o)
	c, err := connect5(t, dial5{addr: b.Addrs().TCP, tls: pki.ClientConfig(), id: "u"})
	if err == nil || c.Connack.ReasonCode != 0x86 {
		t.Fatalf("unverified certificate: %v", err)
	}
}
