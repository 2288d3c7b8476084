package broker_test

import (
	"crypto/tls"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/uspkit/uspkit/broker"
	"github.com/uspkit/uspkit/internal/testenv"
)

// accountOptions: a Controller with a static password and Agent accounts
// from accts, under the USP topic policy.
func accountOptions(accts *broker.Accounts) broker.Options {
	return broker.Options{Users: map[string]string{"ctrl": "pwc"}, Controllers: []string{"ctrl"},
		USPPolicy: true, Accounts: accts}
}

// waitClosed waits until c's connection is closed by the broker.
func waitClosed(t *testing.T, c *client5) {
	t.Helper()
	select {
	case <-c.Done():
	case <-time.After(wait):
		t.Fatal("connection still up")
	}
}

// TestAccountsPassword: an account's generated password logs in as the
// Endpoint ID, whose topic is usp/agent/<EndpointID> [R-MQTT.42]; the
// file keeps only a salted hash (mode 0600) and survives a reopen;
// revoking refuses new logins and cuts the live connection.
func TestAccountsPassword(t *testing.T) {
	path := filepath.Join(t.TempDir(), "accounts.json")
	accts, err := broker.OpenAccounts(path)
	if err != nil {
		t.Fatal(err)
	}
	const id = "os::012345-AGENT1"
	pass, err := accts.SetPassword(id)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("accounts file mode %v", fi.Mode().Perm())
	}
	raw, _ := os.ReadFile(path)
	if strings.Contains(string(raw), pass) {
		t.Fatal("password stored in clear")
	}
	// A restart: a new Accounts on the same file.
	accts, err = broker.OpenAccounts(path)
	if err != nil {
		t.Fatal(err)
	}
	if info, ok := accts.Get(id); !ok || !info.Password {
		t.Fatalf("after reopen: %+v %v", info, ok)
	}
	b, lb := start(t, accountOptions(accts))
	addr := b.Addrs().TCP
	a, err := connect5(t, dial5{addr: addr, id: "x", user: id, pass: pass})
	if err != nil {
		t.Fatalf("%v\n%s", err, lb)
	}
	if got := a.Connack.Properties.User.Get("subscribe-topic"); got != "usp/agent/"+id+"/#" {
		t.Fatalf("subscribe-topic %q", got)
	}
	if _, err := connect5(t, dial5{addr: addr, id: "y", user: id, pass: pass + "0"}); err == nil {
		t.Fatal("wrong password accepted")
	}
	if _, err := connect5(t, dial5{addr: addr, id: "z", user: "os::012345-OTHER", pass: pass}); err == nil {
		t.Fatal("another name with this password accepted")
	}
	if err := accts.Revoke(id); err != nil {
		t.Fatal(err)
	}
	waitClosed(t, a)
	waitLog(t, lb, "connection cut: its account credential was revoked")
	if _, err := connect5(t, dial5{addr: addr, id: "x", user: id, pass: pass}); err == nil {
		t.Fatal("revoked password accepted")
	}
	if err := accts.Revoke(id); !errors.Is(err, broker.ErrNoAccount) {
		t.Fatalf("second revoke: %v", err)
	}
}

// TestAccountsPasswordRotation: a new password replaces the old one,
// whose connections are cut.
func TestAccountsPasswordRotation(t *testing.T) {
	accts, err := broker.OpenAccounts(filepath.Join(t.TempDir(), "accounts.json"))
	if err != nil {
		t.Fatal(err)
	}
	old, _ := accts.SetPassword("proto::a1")
	b, _ := start(t, accountOptions(accts))
	a, err := connect5(t, dial5{addr: b.Addrs().TCP, id: "a", user: "proto::a1", pass: old})
	if err != nil {
		t.Fatal(err)
	}
	pass, err := accts.SetPassword("proto::a1")
	if err != nil || pass == old {
		t.Fatalf("new password %v", err)
	}
	waitClosed(t, a)
	if _, err := connect5(t, dial5{addr: b.Addrs().TCP, id: "a", user: "proto::a1", pass: old}); err == nil {
		t.Fatal("old password accepted")
	}
	if _, err := connect5(t, dial5{addr: b.Addrs().TCP, id: "a", user: "proto::a1", pass: pass}); err != nil {
		t.Fatal(err)
	}
}

// TestAccountsCertificate: with Accounts, a verified client certificate
// logs in as the Endpoint ID of its urn:bbf:usp:id: URI SAN only when it
// is registered with that account [R-MQTT.43], [R-SEC.0a]; revoking the
// account refuses it and cuts its connection.
func TestAccountsCertificate(t *testing.T) {
	const id = "os::012345-CERT1"
	pki := testenv.NewPKI(t, id)
	accts, err := broker.OpenAccounts(filepath.Join(t.TempDir(), "accounts.json"))
	if err != nil {
		t.Fatal(err)
	}
	o := accountOptions(accts)
	srv := pki.ServerConfig()
	srv.ClientAuth = tls.VerifyClientCertIfGiven
	o.TLS = srv
	b, lb := start(t, o)
	addr := b.Addrs().TCP
	if _, err := connect5(t, dial5{addr: addr, tls: pki.ClientConfig(), id: "c"}); err == nil {
		t.Fatal("unregistered certificate accepted")
	}
	if err := accts.AddCertificate("os::012345-OTHER", pki.Client.Leaf); err == nil {
		t.Fatal("certificate registered with another Endpoint ID")
	}
	if err := accts.AddCertificate(id, pki.Client.Leaf); err != nil {
		t.Fatal(err)
	}
	a, err := connect5(t, dial5{addr: addr, tls: pki.ClientConfig(), id: "c"})
	if err != nil {
		t.Fatalf("%v\n%s", err, lb)
	}
	if got := a.Connack.Properties.User.Get("subscribe-topic"); got != "usp/agent/"+id+"/#" {
		t.Fatalf("subscribe-topic %q", got)
	}
	// The Controller still logs in by password over the same listener.
	if _, err := connect5(t, dial5{addr: addr, tls: &tls.Config{RootCAs: pki.CAPool}, id: "ctl", user: "ctrl", pass: "pwc"}); err != nil {
		t.Fatal(err)
	}
	if err := accts.Revoke(id); err != nil {
		t.Fatal(err)
	}
	waitClosed(t, a)
	if _, err := connect5(t, dial5{addr: addr, tls: pki.ClientConfig(), id: "c"}); err == nil {
		t.Fatal("revoked certificate accepted")
	}
}

// TestAccountsNames: a name must be usable as one topic level.
func TestAccountsNames(t *testing.T) {
	accts, err := broker.OpenAccounts(filepath.Join(t.TempDir(), "accounts.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"", "a/b", "a+", "#", "a\x00"} {
		if _, err := accts.SetPassword(name); err == nil {
			t.Errorf("SetPassword(%q) accepted", name)
		}
	}
	if len(accts.List()) != 0 {
		t.Fatal(accts.List())
	}
}

// TestTLSAddr: one broker serves password logins on the plain Addr and
// certificate logins on TLSAddr.
func TestTLSAddr(t *testing.T) {
	const id = "os::012345-CERT2"
	pki := testenv.NewPKI(t, id)
	accts, err := broker.OpenAccounts(filepath.Join(t.TempDir(), "accounts.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := accts.AddCertificate(id, pki.Client.Leaf); err != nil {
		t.Fatal(err)
	}
	o := accountOptions(accts)
	o.TLS = pki.ServerConfig()
	o.TLSAddr = "127.0.0.1:0"
	b, lb := start(t, o)
	a := b.Addrs()
	if a.TLS == "" || a.TLS == a.TCP {
		t.Fatalf("Addrs %+v", a)
	}
	if _, err := connect5(t, dial5{addr: a.TCP, id: "ctl", user: "ctrl", pass: "pwc"}); err != nil {
		t.Fatalf("plain: %v", err)
	}
	c, err := connect5(t, dial5{addr: a.TLS, tls: pki.ClientConfig(), id: "c"})
	if err != nil {
		t.Fatalf("tls: %v\n%s", err, lb)
	}
	if got := c.Connack.Properties.User.Get("subscribe-topic"); got != "usp/agent/"+id+"/#" {
		t.Fatalf("subscribe-topic %q", got)
	}
	if _, err := broker.New(&broker.Options{TLSAddr: "127.0.0.1:0"}); err == nil {
		t.Fatal("TLSAddr without TLS accepted")
	}
}

// TestAnonymousUSP: anonymous clients are refused unless AllowAnonymous;
// then, under USPPolicy, a client is named by its ClientId, which may
// not be an account's.
func TestAnonymousUSP(t *testing.T) {
	accts, err := broker.OpenAccounts(filepath.Join(t.TempDir(), "accounts.json"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := accts.SetPassword("os::012345-ANON1"); err != nil {
		t.Fatal(err)
	}
	off, _ := start(t, accountOptions(accts))
	if _, err := connect5(t, dial5{addr: off.Addrs().TCP, id: "os::012345-X"}); err == nil {
		t.Fatal("anonymous client accepted by default")
	}
	o := accountOptions(accts)
	o.AllowAnonymous = true
	on, _ := start(t, o)
	c, err := connect5(t, dial5{addr: on.Addrs().TCP, id: "os::012345-X"})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Connack.Properties.User.Get("subscribe-topic"); got != "usp/agent/os::012345-X/#" {
		t.Fatalf("subscribe-topic %q", got)
	}
	for _, id := range []string{"os::012345-ANON1", "ctrl"} {
		if _, err := connect5(t, dial5{addr: on.Addrs().TCP, id: id}); err == nil {
			t.Errorf("anonymous client took the account %q", id)
		}
	}
}
