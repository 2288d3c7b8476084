package cli_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/uspkit/uspkit/internal/testenv"
)

// controllerProc is a running `usp controller`.
type controllerProc struct {
	api, ws, token string // URLs and the admin token
	data           string
}

// startControllerProc runs `usp controller` with the given extra
// configuration and returns what it printed; it stops at the test's end.
func startControllerProc(t *testing.T, bin, data, extra string) *controllerProc {
	t.Helper()
	conf := fmt.Sprintf("endpoint_id: proto::sec-ctl\ndata: %s\nlog_level: error\nhttp: 127.0.0.1:0\nwebsocket: 127.0.0.1:0\n%s", data, extra)
	cfg := filepath.Join(data, "controller.yaml")
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "controller", "--config", cfg)
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, inTime := interrupt(cmd, 10*time.Second); !inTime {
			t.Error("usp controller did not stop on SIGINT")
		}
	})
	p := &controllerProc{data: data}
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), " ")
		switch k {
		case "api":
			p.api = v
		case "websocket":
			p.ws = v
		case "token":
			b, err := os.ReadFile(strings.Fields(v)[0])
			if err != nil {
				t.Fatal(err)
			}
			p.token = strings.TrimSpace(string(b))
		}
		if k == "ready" {
			go func() {
				for sc.Scan() {
				}
			}()
			return p
		}
	}
	t.Fatalf("usp controller did not get ready: %v", sc.Err())
	return nil
}

// TestAPIOverMutualTLS: with api.tls the REST API speaks HTTPS, requires a
// client certificate from client_ca (403 without one), and the CLI verbs trust the
// certificate it publishes in the data directory.
func TestAPIOverMutualTLS(t *testing.T) {
	bin := buildUSP(t)
	data := t.TempDir()
	pki := testenv.NewPKI(t, "proto::cli-user")
	certs := t.TempDir()
	pki.WriteFiles(t, certs)
	p := startControllerProc(t, bin, data, fmt.Sprintf("api:\n  tls:\n    cert: %s\n    key: %s\n    client_ca: %s\n",
		filepath.Join(certs, "server.pem"), filepath.Join(certs, "server.key"), filepath.Join(certs, "ca.pem")))
	if !strings.HasPrefix(p.api, "https://") {
		t.Fatalf("api %q, want https://", p.api)
	}
	get := func(cfg *tls.Config) (int, error) {
		tr := &http.Transport{TLSClientConfig: cfg}
		defer tr.CloseIdleConnections()
		req, _ := http.NewRequest("GET", p.api+"/api/v1/agents", nil)
		req.Header.Set("Authorization", "Bearer "+p.token)
		resp, err := (&http.Client{Transport: tr, Timeout: 5 * time.Second}).Do(req)
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	if code, err := get(pki.ClientConfig()); err != nil || code != 200 {
		t.Fatalf("with a client certificate: %d, %v", code, err)
	}
	if code, err := get(&tls.Config{RootCAs: pki.CAPool}); err == nil && code != http.StatusForbidden {
		t.Errorf("without a client certificate: %d, want 403", code)
	}
	if resp, err := http.Get(strings.Replace(p.api, "https://", "http://", 1) + "/healthz"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Error("plain HTTP served")
		}
	}
	// The CLI trusts data/api-ca.pem and presents USP_CERT/USP_KEY.
	cmd := exec.Command(bin, "agents", "--server", p.api, "--data", data)
	cmd.Env = append(os.Environ(), "USP_TOKEN="+p.token, "USP_CA=", "USP_CERT="+filepath.Join(certs, "client.pem"), "USP_KEY="+filepath.Join(certs, "client.key"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("usp agents over mutual TLS: %v\n%s", err, out)
	}
	cmd = exec.Command(bin, "agents", "--server", p.api, "--data", t.TempDir())
	cmd.Env = append(os.Environ(), "USP_TOKEN="+p.token, "USP_CA=", "USP_CERT="+filepath.Join(certs, "client.pem"), "USP_KEY="+filepath.Join(certs, "client.key"))
	if out, err := cmd.CombinedOutput(); err == nil {
		t.Errorf("usp agents trusted a certificate it was not given:\n%s", out)
	}
	if fi, err := os.Stat(filepath.Join(data, "api-ca.pem")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("api-ca.pem: %v %v", fi, err)
	}
}

// TestAPIIdleSocketFlood: idle sockets beyond the per-source limit are
// closed at once, and while they are open the API still answers an
// authenticated request from another address within a second.
func TestAPIIdleSocketFlood(t *testing.T) {
	bin := buildUSP(t)
	p := startControllerProc(t, bin, t.TempDir(), "api:\n  max_conns_per_source: 16\n")
	addr := strings.TrimPrefix(p.api, "http://")
	const flood, limit = 200, 16
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}, Timeout: time.Second}
	var conns []net.Conn
	for range flood {
		c, err := d.Dial("tcp", addr)
		if err != nil {
			continue // the backlog may refuse some: as good as closed
		}
		defer c.Close()
		conns = append(conns, c)
	}
	time.Sleep(200 * time.Millisecond)
	var open int
	for _, c := range conns {
		c.SetReadDeadline(time.Now().Add(5 * time.Millisecond))
		var b [1]byte
		_, err := c.Read(b[:])
		if ne := net.Error(nil); errors.As(err, &ne) && ne.Timeout() {
			open++
		}
	}
	if open > limit {
		t.Errorf("%d idle sockets from one address still open, limit %d", open, limit)
	}
	start := time.Now()
	req, _ := http.NewRequest("GET", p.api+"/api/v1/agents", nil)
	req.Header.Set("Authorization", "Bearer "+p.token)
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("API during the flood: %v", err)
	}
	resp.Body.Close()
	if el := time.Since(start); resp.StatusCode != 200 || el > time.Second {
		t.Errorf("API during the flood: HTTP %d after %v, want 200 within 1 s", resp.StatusCode, el)
	}
	t.Logf("%d idle sockets from 127.0.0.2, %d left open; authenticated request answered in %v", flood, open, time.Since(start))
}

// TestControllerWebSocketRules: the controller's WebSocket server serves
// only /usp [R-WS.2] and wants a valid Endpoint ID [R-ARC.2a].
func TestControllerWebSocketRules(t *testing.T) {
	bin := buildUSP(t)
	p := startControllerProc(t, bin, t.TempDir(), "")
	base := strings.TrimSuffix(strings.Replace(p.ws, "ws://", "http://", 1), "/usp")
	for _, tc := range []struct {
		path string
		want int
	}{
		{"/other?eid=os::012345-SN1", 404},
		{"/?eid=os::012345-SN1", 404},
		{"/usp?eid=not-an-endpoint-id", 400},
		{"/usp?eid=os::012345-SN1", 101},
	} {
		req, _ := http.NewRequest("GET", base+tc.path, nil)
		for k, v := range map[string]string{"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
			"Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Protocol": "v1.usp"} {
			req.Header.Set(k, v)
		}
		resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s: HTTP %d, want %d", tc.path, resp.StatusCode, tc.want)
		}
	}
}

// TestControllerRejectsNonRecord: a binary message that holds no USP
// Record closes the controller's WebSocket with 1003 [R-WS.16].
func TestControllerRejectsNonRecord(t *testing.T) {
	bin := buildUSP(t)
	p := startControllerProc(t, bin, t.TempDir(), "")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, p.ws+"?eid=os::012345-SN9", &websocket.DialOptions{Subprotocols: []string{"v1.usp"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	if err := c.Write(ctx, websocket.MessageBinary, []byte("\xff\xfe not a record")); err != nil {
		t.Fatal(err)
	}
	_, _, err = c.Read(ctx)
	if code := websocket.CloseStatus(err); code != websocket.StatusUnsupportedData {
		t.Errorf("closed with %v (%v), want 1003", code, err)
	}
}

// TestUpAPITLS: `usp up --api-cert --api-key` serves the API over HTTPS,
// and the CLI verbs find and trust it from the data directory alone.
func TestUpAPITLS(t *testing.T) {
	bin := buildUSP(t)
	data := t.TempDir()
	pki := testenv.NewPKI(t, "proto::cli-user")
	certs := t.TempDir()
	pki.WriteFiles(t, certs)
	cmd := exec.Command(bin, "up", "--data", data, "--http", "127.0.0.1:0", "--ws", "127.0.0.1:0", "--mqtt", "127.0.0.1:0",
		"--api-cert", filepath.Join(certs, "server.pem"), "--api-key", filepath.Join(certs, "server.key"))
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if _, inTime := interrupt(cmd, 10*time.Second); !inTime {
			t.Error("usp up did not stop on SIGINT")
		}
	}()
	api := ""
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), " ")
		if k == "api" {
			api = v
		}
		if k == "ready" {
			break
		}
	}
	go func() {
		for sc.Scan() {
		}
	}()
	if !strings.HasPrefix(api, "https://127.0.0.1:") {
		t.Fatalf("api %q, want https://", api)
	}
	c := exec.Command(bin, "agents")
	c.Env = append(os.Environ(), "USP_DATA="+data, "USP_SERVER=", "USP_TOKEN=", "USP_AGENT=", "USP_CA=", "USP_CERT=", "USP_KEY=")
	out, err := c.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "online") {
		t.Errorf("usp agents against the HTTPS API: %v\n%s", err, out)
	}
}

// TestControllerWebSocketLimits: websocket_limits caps the controller's
// WebSocket server per source address; a cap on an MTP that does not
// listen is refused.
func TestControllerWebSocketLimits(t *testing.T) {
	bin := buildUSP(t)
	p := startControllerProc(t, bin, t.TempDir(), "websocket_limits: {max_conns_per_source: 2}\n")
	addr := strings.TrimSuffix(strings.TrimPrefix(p.ws, "ws://"), "/usp")
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}, Timeout: time.Second}
	var open int
	for range 5 {
		c, err := d.Dial("tcp", addr)
		if err != nil {
			continue
		}
		defer c.Close()
		c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		var b [1]byte
		if _, err := c.Read(b[:]); err != nil {
			if ne := net.Error(nil); errors.As(err, &ne) && ne.Timeout() {
				open++
			}
		}
	}
	if open != 2 {
		t.Errorf("%d of 5 idle sockets from one address left open, want 2", open)
	}

	conf := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(conf, []byte("data: "+t.TempDir()+"\nhttp: 127.0.0.1:0\nmtps:\n  - protocol: MQTT\n    url: tcp://127.0.0.1:1\n    topic: t\n    max_conns: 5\n"), 0o600)
	out, err := exec.Command(bin, "controller", "--config", conf).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "max_conns") {
		t.Errorf("max_conns on an MQTT MTP: %v\n%s", err, out)
	}
}
