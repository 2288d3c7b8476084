package cli_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/packets"
	"github.com/eclipse/paho.golang/paho"
)

// upProcess runs `usp up` on random ports with extra flags and returns
// its "key value" lines and a function that stops it (called at cleanup
// too).
func upProcess(t *testing.T, bin, data string, extra ...string) (map[string]string, func()) {
	t.Helper()
	args := append([]string{"up", "--data", data, "--http", "127.0.0.1:0", "--ws", "127.0.0.1:0", "--mqtt", "127.0.0.1:0"}, extra...)
	cmd := exec.Command(bin, args...)
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		switch err, inTime := interrupt(cmd, 15*time.Second); {
		case !inTime:
			t.Error("usp up did not stop on Ctrl-C")
		case err != nil:
			t.Errorf("usp up did not stop cleanly: %v", err)
		}
	}
	t.Cleanup(stop)
	lines := map[string]string{}
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), " ")
		lines[k] = v
		if k == "ready" {
			return lines, stop
		}
	}
	stop()
	t.Fatalf("usp up ended before ready: %v", lines)
	return nil, nil
}

// uspRun runs the usp binary against the data directory of `usp up`.
func uspRun(t *testing.T, bin, data string, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c := exec.CommandContext(ctx, bin, args...)
	c.Env = append(os.Environ(), "USP_DATA="+data, "USP_SERVER=", "USP_TOKEN=", "USP_AGENT=")
	var out, errb bytes.Buffer
	c.Stdout, c.Stderr = &out, &errb
	err := c.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

// fields parses "key value" lines.
func fields(s string) map[string]string {
	m := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
		k, v, _ := strings.Cut(l, " ")
		m[k] = v
	}
	return m
}

// mqttLogin connects an MQTT 5 client to a broker URL (tcp:// or tls://)
// and returns its CONNACK and the client, whose Done channel closes when
// the broker cuts the connection.
func mqttLogin(t *testing.T, url, id, user, pass string, tc *tls.Config) (*paho.Connack, *paho.Client, error) {
	t.Helper()
	addr := strings.TrimPrefix(strings.TrimPrefix(url, "tcp://"), "tls://")
	var nc net.Conn
	var err error
	if tc != nil {
		nc, err = tls.Dial("tcp", addr, tc)
	} else {
		nc, err = net.Dial("tcp", addr)
	}
	if err != nil {
		return nil, nil, err
	}
	c := paho.NewClient(paho.ClientConfig{Conn: packets.NewThreadSafeConn(nc)})
	cp := &paho.Connect{ClientID: id, CleanStart: true, KeepAlive: 30}
	if user != "" {
		cp.Username, cp.UsernameFlag, cp.Password, cp.PasswordFlag = user, true, []byte(pass), true
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ca, err := c.Connect(ctx, cp)
	if err != nil {
		nc.Close()
		return ca, nil, err
	}
	t.Cleanup(func() { c.Disconnect(&paho.Disconnect{}) })
	return ca, c, nil
}

func waitCut(t *testing.T, c *paho.Client, what string) {
	t.Helper()
	select {
	case <-c.Done():
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: connection not cut", what)
	}
}

// TestAgentAccounts: `usp agents add` gives an Agent an account on the
// embedded broker named by its Endpoint ID (topic usp/agent/<EndpointID>)
// with a generated password or a certificate from the controller's CA
// (URI SAN urn:bbf:usp:id:…, [R-SEC.0a]); `usp agents revoke` stops it
// logging in and cuts its connection; accounts survive a restart; the
// local agent of `usp up` follows the same rule; anonymous logins only
// with --mqtt-anonymous.
func TestAgentAccounts(t *testing.T) {
	bin := buildUSP(t)
	data := t.TempDir()
	up, stop := upProcess(t, bin, data, "--mqtt-tls", "127.0.0.1:0")
	mqttURL, mqttsURL := up["mqtt"], up["mqtts"]
	if !strings.HasPrefix(mqttsURL, "tls://127.0.0.1:") {
		t.Fatalf("mqtts line %q", mqttsURL)
	}
	localAgent := strings.Fields(up["agent"])[0]
	run := func(args ...string) map[string]string {
		t.Helper()
		out, errs, code := uspRun(t, bin, data, args...)
		if code != 0 {
			t.Fatalf("usp %v: exit %d: %s%s", args, code, out, errs)
		}
		return fields(out)
	}

	// A password.
	const pwID, certID, keptID = "os::012345-PW1", "os::012345-CERT1", "proto::kept-1"
	pw := run("agents", "add", pwID)
	if pw["username"] != pwID || len(pw["password"]) < 32 || pw["topic"] != "usp/agent/"+pwID {
		t.Fatalf("agents add: %v", pw)
	}
	ca, pwConn, err := mqttLogin(t, mqttURL, "pw1", pwID, pw["password"], nil)
	if err != nil {
		t.Fatalf("password login: %v", err)
	}
	if got := ca.Properties.User.Get("subscribe-topic"); got != "usp/agent/"+pwID+"/#" {
		t.Fatalf("subscribe-topic %q", got)
	}
	raw, _ := os.ReadFile(filepath.Join(data, "broker-accounts.json"))
	if bytes.Contains(raw, []byte(pw["password"])) {
		t.Fatal("password stored in clear")
	}

	// A certificate, over the TLS listener.
	out := t.TempDir()
	cr := run("agents", "add", certID, "--cert", "--out", out)
	pair, err := tls.LoadX509KeyPair(cr["certificate"], cr["key"])
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(cr["key"]); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file %v %v", fi, err)
	}
	if u := pair.Leaf.URIs; len(u) != 1 || u[0].String() != "urn:bbf:usp:id:"+certID {
		t.Fatalf("URI SANs %v", u)
	}
	caPEM, _ := os.ReadFile(cr["ca"])
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(caPEM)
	ca, certConn, err := mqttLogin(t, mqttsURL, "c1", "", "", &tls.Config{Certificates: []tls.Certificate{pair}, RootCAs: roots, MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatalf("certificate login: %v", err)
	}
	if got := ca.Properties.User.Get("subscribe-topic"); got != "usp/agent/"+certID+"/#" {
		t.Fatalf("subscribe-topic %q", got)
	}
	kept := run("agents", "add", keptID)

	list, _, _ := uspRun(t, bin, data, "agents", "accounts")
	for _, id := range []string{pwID, certID, keptID, localAgent} {
		if !strings.Contains(list, id+" ") {
			t.Errorf("agents accounts lacks %s:\n%s", id, list)
		}
	}

	// Revoke: cut, then refused.
	run("agents", "revoke", pwID)
	waitCut(t, pwConn, "password")
	if _, _, err := mqttLogin(t, mqttURL, "pw1", pwID, pw["password"], nil); err == nil {
		t.Fatal("revoked password logged in")
	}
	run("agents", "revoke", certID)
	waitCut(t, certConn, "certificate")
	if _, _, err := mqttLogin(t, mqttsURL, "c1", "", "", &tls.Config{Certificates: []tls.Certificate{pair}, RootCAs: roots, MinVersion: tls.VersionTLS12}); err == nil {
		t.Fatal("revoked certificate logged in")
	}
	if _, errs, code := uspRun(t, bin, data, "agents", "revoke", pwID); code == 0 || !strings.Contains(errs, "unknown account") {
		t.Fatalf("second revoke: %d %s", code, errs)
	}
	if _, _, code := uspRun(t, bin, data, "agents", "add", "not-an-endpoint-id"); code != 2 {
		t.Fatalf("bad Endpoint ID: exit %d", code)
	}
	// Anonymous: off by default.
	if _, _, err := mqttLogin(t, mqttURL, "os::012345-ANON", "", "", nil); err == nil {
		t.Fatal("anonymous login accepted by default")
	}

	// A restart keeps the accounts; --mqtt-anonymous lets anonymous
	// clients in, each named by its ClientId.
	stop()
	up2, _ := upProcess(t, bin, data, "--mqtt-anonymous")
	if _, _, err := mqttLogin(t, up2["mqtt"], "k", keptID, kept["password"], nil); err != nil {
		t.Fatalf("account after restart: %v", err)
	}
	if _, _, err := mqttLogin(t, up2["mqtt"], "pw1", pwID, pw["password"], nil); err == nil {
		t.Fatal("revoked account back after restart")
	}
	ca, _, err = mqttLogin(t, up2["mqtt"], "os::012345-ANON", "", "", nil)
	if err != nil {
		t.Fatalf("anonymous with --mqtt-anonymous: %v", err)
	}
	if got := ca.Properties.User.Get("subscribe-topic"); got != "usp/agent/os::012345-ANON/#" {
		t.Fatalf("anonymous subscribe-topic %q", got)
	}
	if _, _, err := mqttLogin(t, up2["mqtt"], keptID, "", "", nil); err == nil {
		t.Fatal("anonymous client took an account's name")
	}
}

// TestControllerEmbeddedBroker: `usp controller` with an embedded_broker
// section runs the broker, prints its listeners, and manages its Agent
// accounts through usp agents add/revoke.
func TestControllerEmbeddedBroker(t *testing.T) {
	bin := buildUSP(t)
	data := t.TempDir()
	conf := filepath.Join(t.TempDir(), "controller.yaml")
	os.WriteFile(conf, []byte("data: "+data+"\nhttp: 127.0.0.1:0\nwebsocket: 127.0.0.1:0\n"+
		"embedded_broker:\n  listen: 127.0.0.1:0\n  tls_listen: 127.0.0.1:0\n"), 0o600)
	cmd := exec.Command(bin, "controller", "--config", conf)
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if _, inTime := interrupt(cmd, 15*time.Second); !inTime {
			t.Error("usp controller did not stop on Ctrl-C")
		}
	}()
	lines := map[string]string{}
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), " ")
		lines[k] = v
		if k == "ready" {
			break
		}
	}
	if !strings.HasPrefix(lines["mqtt"], "tcp://127.0.0.1:") || !strings.HasPrefix(lines["mqtts"], "tls://127.0.0.1:") {
		t.Fatalf("no broker lines: %v", lines)
	}
	out, errs, code := uspRun(t, bin, data, "agents", "add", "os::012345-CTL1")
	if code != 0 {
		t.Fatalf("agents add: %d %s%s", code, out, errs)
	}
	pw := fields(out)
	_, c, err := mqttLogin(t, lines["mqtt"], "a", pw["username"], pw["password"], nil)
	if err != nil {
		t.Fatal(err)
	}
	// The server certificate comes from the Controller's CA.
	ca, err := os.ReadFile(filepath.Join(data, "pki", "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(ca)
	if _, _, err := mqttLogin(t, lines["mqtts"], "b", pw["username"], pw["password"], &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}); err != nil {
		t.Fatalf("password over TLS: %v", err)
	}
	if _, _, code := uspRun(t, bin, data, "agents", "revoke", "os::012345-CTL1"); code != 0 {
		t.Fatal("revoke failed")
	}
	waitCut(t, c, "revoked")
}
