package cli_test

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/uspkit/uspkit/internal/testenv"
)

// deployDir holds the configuration files docs/deploy.md shows verbatim
// (TestDeployDocSnippets checks that it does); the tests run them, with
// the fleet's names and addresses replaced by the test's.
const deployDir = "testdata/deploy"

// deployFiles reads snippets of docs/deploy.md and replaces, in each,
// every old string of subst (old, new pairs) by its new one. Every old
// string must occur in at least one of the files, so that a snippet
// cannot change without the test noticing, unless it starts with "?",
// which is dropped.
func deployFiles(t *testing.T, names []string, subst ...string) []string {
	t.Helper()
	out := make([]string, len(names))
	found := make([]bool, len(subst)/2)
	for i, name := range names {
		b, err := os.ReadFile(filepath.Join(deployDir, name))
		if err != nil {
			t.Fatal(err)
		}
		s := string(b)
		for j := 0; j+1 < len(subst); j += 2 {
			old := strings.TrimPrefix(subst[j], "?")
			if strings.Contains(s, old) || old != subst[j] {
				found[j/2] = true
				s = strings.ReplaceAll(s, old, subst[j+1])
			}
		}
		out[i] = s
	}
	for j, ok := range found {
		if !ok {
			t.Fatalf("%q is in none of %v: the snippets changed", subst[2*j], names)
		}
	}
	return out
}

// uspProc is a `usp` process of a test: what it printed up to its ready
// line, and how to stop it.
type uspProc struct {
	cmd   *exec.Cmd
	lines map[string]string // first word → rest of the line
}

// startUSP runs `usp args...` with stderr to the test log's stderr and
// waits for its line ending in "ready"; the process is killed when the
// test ends unless stopped before.
func startUSP(t *testing.T, bin string, args ...string) *uspProc {
	t.Helper()
	cmd := exec.Command(bin, args...)
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &uspProc{cmd: cmd, lines: map[string]string{}}
	t.Cleanup(func() { p.stop() })
	ready := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			k, v, _ := strings.Cut(sc.Text(), " ")
			if _, seen := p.lines[k]; !seen {
				p.lines[k] = v
			}
			if strings.HasSuffix(sc.Text(), "ready") {
				ready <- nil
				io.Copy(io.Discard, stdout)
				return
			}
		}
		ready <- fmt.Errorf("usp %s exited before its ready line", args[0])
	}()
	select {
	case err := <-ready:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("usp %s: no ready line in 30 s", args[0])
	}
	return p
}

// stop interrupts the process and waits for it (SIGKILL after 10 s).
func (p *uspProc) stop() {
	if p.cmd.ProcessState != nil {
		return
	}
	p.cmd.Process.Signal(syscall.SIGINT)
	done := make(chan struct{})
	go func() { p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		p.cmd.Process.Kill()
		<-done
	}
}

// startConfigured writes conf to dir/name and runs `usp cmd --config`.
func startConfigured(t *testing.T, bin, cmd, dir, name, conf string) *uspProc {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	return startUSP(t, bin, cmd, "--config", path)
}

// restAPI is the REST API of a running `usp controller`, with its admin
// token from the data directory.
type restAPI struct {
	base, token string
}

func apiOf(t *testing.T, p *uspProc) *restAPI {
	t.Helper()
	tok, err := os.ReadFile(strings.Fields(p.lines["token"])[0])
	if err != nil {
		t.Fatal(err)
	}
	return &restAPI{base: p.lines["api"], token: strings.TrimSpace(string(tok))}
}

// call sends a request to the API and returns the status and body.
func (a *restAPI) call(t *testing.T, method, path string, body any) (int, string) {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, a.base+path, r)
	req.Header.Set("Authorization", "Bearer "+a.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// usp sends a USP request through the API and fails the test unless the
// response is a success holding want.
func (a *restAPI) usp(t *testing.T, agentID, verb string, body any, want string) string {
	t.Helper()
	code, out := a.call(t, "POST", "/api/v1/agents/"+agentID+"/"+verb, body)
	if code != 200 || !strings.Contains(out, want) || strings.Contains(out, "err_code") {
		t.Fatalf("%s: HTTP %d, want %q in %s", verb, code, want, out)
	}
	return out
}

// apiAgent is what the API says of an agent.
type apiAgent struct {
	Online    bool     `json:"online"`
	Protocol  string   `json:"mtp"`
	MTP       string   `json:"mtp_name"`
	Trust     string   `json:"trust"`
	Supported []string `json:"supported"`
}

// waitOnline waits until the controller has the agent online, its first
// contact done.
func (a *restAPI) waitOnline(t *testing.T, agentID string, timeout time.Duration) apiAgent {
	t.Helper()
	var last string
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		code, out := a.call(t, "GET", "/api/v1/agents/"+agentID, nil)
		last = out
		var ag apiAgent
		if code == 200 && json.Unmarshal([]byte(out), &ag) == nil && ag.Online && len(ag.Supported) > 0 {
			return ag
		}
	}
	t.Fatalf("agent %s not online within %v: %s", agentID, timeout, last)
	return apiAgent{}
}

// apiEvent is one event of /api/v1/events.
type apiEvent struct {
	Kind  string          `json:"kind"`
	Agent string          `json:"agent"`
	MsgID string          `json:"msg_id"`
	Msg   json.RawMessage `json:"msg"`
}

func (a *restAPI) events(t *testing.T) []apiEvent {
	t.Helper()
	code, out := a.call(t, "GET", "/api/v1/events", nil)
	var list struct {
		Events []apiEvent `json:"events"`
	}
	if code != 200 || json.Unmarshal([]byte(out), &list) != nil {
		t.Fatalf("events: HTTP %d %s", code, out)
	}
	return list.Events
}

// notifies returns the stored Notify events that mention substr.
func (a *restAPI) notifies(t *testing.T, substr string) []apiEvent {
	var out []apiEvent
	for _, e := range a.events(t) {
		if e.Kind == "notify" && strings.Contains(string(e.Msg), substr) {
			out = append(out, e)
		}
	}
	return out
}

var notifMetric = regexp.MustCompile(`(?m)^usp_notifications_received_total (\d+)$`)

// notifyCount is how many Notify messages the controller received,
// repeats included.
func (a *restAPI) notifyCount(t *testing.T) int {
	t.Helper()
	_, out := a.call(t, "GET", "/metrics", nil)
	m := notifMetric.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no usp_notifications_received_total in /metrics")
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// vcSubID names the ValueChange subscription of the tests. It has
// NotifRetry, so that a Notify the Controller does not acknowledge is
// sent again ([R-NOT.0]: the Subscription object's rules), within 1 to 2
// seconds once setFastRetry has run.
const vcSubID = "deploy-vc"

func vcSubscription() map[string]any {
	return map[string]any{"objects": []map[string]any{{"path": "Device.LocalAgent.Subscription.", "params": map[string]string{
		"ID": vcSubID, "NotifType": "ValueChange", "ReferenceList": "Device.LocalAgent.Controller.1.PeriodicNotifInterval",
		"Enable": "true", "NotifRetry": "true"}}}}
}

// setFastRetry makes the agent retry an unacknowledged Notify after 1 to
// 2 seconds (USPNotifRetryMinimumWaitInterval 1, multiplier 1000).
func setFastRetry(t *testing.T, a *restAPI, agentID string) {
	t.Helper()
	a.usp(t, agentID, "set", map[string]any{"objects": []map[string]any{{"path": "Device.LocalAgent.Controller.1.",
		"params": map[string]string{"USPNotifRetryMinimumWaitInterval": "1", "USPNotifRetryIntervalMultiplier": "1000"}}}},
		"updated_obj_results")
}

func setInterval(t *testing.T, a *restAPI, agentID string, v int) {
	t.Helper()
	a.usp(t, agentID, "set", map[string]any{"objects": []map[string]any{{"path": "Device.LocalAgent.Controller.1.",
		"params": map[string]string{"PeriodicNotifInterval": strconv.Itoa(v)}}}}, "updated_obj_results")
}

// waitNotify waits until the controller stored the ValueChange Notify of
// PeriodicNotifInterval = v.
func waitNotify(t *testing.T, a *restAPI, v int) apiEvent {
	t.Helper()
	want := fmt.Sprintf(`"%d"`, v)
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		for _, e := range a.notifies(t, "PeriodicNotifInterval") {
			if strings.Contains(string(e.Msg), want) {
				return e
			}
		}
	}
	t.Fatalf("no ValueChange Notify of PeriodicNotifInterval=%d in /api/v1/events", v)
	return apiEvent{}
}

var endpointLine = regexp.MustCompile(`(?m)^endpoint_id: (\S+)`)

// deployRow is one way of connecting a fleet that docs/deploy.md shows:
// the Controller's and an Agent's configuration, and what makes them run
// here.
type deployRow struct {
	name        string
	ctrl, agent string // files of testdata/deploy
	mtp         string // the name of the Controller's MTP the Agent uses
	agentFirst  bool   // the Controller dials the Agent
	trust       string // how the Agent's identity must be established, if it matters
	// subst returns old, new pairs for the files (see deployFiles).
	subst func(t *testing.T) []string
}

// TestControllerDeploy runs `usp controller` and `usp agent` as
// processes, configured by the snippets of docs/deploy.md, over each
// broker and MTP: MQTT 5 with a login and MQTT 5 and 3.1.1 with mutual TLS
// through mosquitto, STOMP over TLS and MQTT 3.1.1 through RabbitMQ, the
// Controller dialling an Agent's WebSocket server, the Agent dialling the
// Controller's, and UDS. Through the REST API it checks a Get, Set, Add,
// Operate and Delete, a ValueChange Notify stored and acknowledged
// (never sent again although NotifRetry is on), the MTP name the
// Controller records, and how many small Get round trips a second the
// path takes.
func TestControllerDeploy(t *testing.T) {
	bin := buildUSP(t)
	const mosqUser, mosqPass = "usp", "usp-secret"
	mosq := testenv.StartMosquittoWith(t, &testenv.MosquittoOptions{User: mosqUser, Password: mosqPass})
	pki := func(f testenv.TLSFiles) []string {
		return []string{"?/etc/usp/controller.pem", f.ClientCert, "?/etc/usp/controller.key", f.ClientKey,
			"?/etc/usp/agent.pem", f.ClientCert, "?/etc/usp/agent.key", f.ClientKey, "/etc/usp/broker-ca.pem", f.CA}
	}
	mqttTLS := func(t *testing.T) []string {
		return append(pki(mosq.Files), "mqtt.example.net:8883", mosq.TLS, "mqtt311.example.net:8883", mosq.TLS)
	}
	wsServer := func(t *testing.T) []string {
		port := testenv.FreePort(t)
		sock, err := os.MkdirTemp("", "usp-deploy-")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(sock) })
		return []string{"0.0.0.0:8081", fmt.Sprintf("127.0.0.1:%d", port), "?acs.example.net:8081", fmt.Sprintf("127.0.0.1:%d", port),
			"/run/usp/controller.sock", filepath.Join(sock, "controller.sock")}
	}
	rows := []deployRow{
		{name: "MQTT5-login", ctrl: "controller-mqtt5.yaml", agent: "agent-mqtt5.yaml", mtp: "fleet", subst: func(t *testing.T) []string {
			if mosq.Auth == "" {
				msg := "SKIP: mosquitto has no password listener (mosquitto_passwd not found; Debian's mosquitto package has it)"
				if testenv.RequireExternal() {
					t.Fatal(msg)
				}
				t.Skip(msg)
			}
			return []string{"mqtt.example.net:1883", mosq.Auth, "username: acs\n", "username: " + mosqUser + "\n",
				"username: cpe-00D09E-MQTT5\n", "username: " + mosqUser + "\n", "password: change-me", "password: " + mosqPass}
		}},
		{name: "MQTT5-mTLS", ctrl: "controller-mqtt-mtls.yaml", agent: "agent-mqtt5-mtls.yaml", mtp: "mqtt5-tls", subst: mqttTLS},
		{name: "MQTT311-mTLS", ctrl: "controller-mqtt-mtls.yaml", agent: "agent-mqtt311-mtls.yaml", mtp: "mqtt311-tls", subst: mqttTLS},
		{name: "RabbitMQ-STOMP-TLS", ctrl: "controller-stomp-tls.yaml", agent: "agent-stomp-tls.yaml", mtp: "rabbit-stomp", subst: func(t *testing.T) []string {
			r := testenv.RabbitMQ(t)
			return append(pki(r.Files), "rabbitmq.example.net:61614", r.StompTLS, "username: acs\n", "username: guest\n",
				"username: cpe-00D09E-STOMPTLS\n", "username: guest\n", "password: change-me", "password: guest")
		}},
		{name: "RabbitMQ-MQTT311", ctrl: "controller-rabbitmq-mqtt.yaml", agent: "agent-rabbitmq-mqtt.yaml", mtp: "rabbit-mqtt", subst: func(t *testing.T) []string {
			return []string{"rabbitmq.example.net:1883", testenv.RabbitMQ(t).MQTT}
		}},
		{name: "WebSocket-ControllerDials", ctrl: "controller-ws-client.yaml", agent: "agent-ws-server.yaml", mtp: "cpe-dial", agentFirst: true, trust: "verified",
			subst: func(t *testing.T) []string {
				addr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
				ca, cert, key := agentServerCert(t, "os::00D09E-WSSERVER")
				return []string{"0.0.0.0:7547", addr, "cpe-1.example.net:7547", addr,
					"/etc/usp/cpe-ca.pem", ca, "/etc/usp/cpe-1.pem", cert, "/etc/usp/cpe-1.key", key}
			}},
		{name: "WebSocket-AgentDials", ctrl: "controller-ws-server.yaml", agent: "agent-ws-client.yaml", mtp: "ws", subst: wsServer},
		{name: "UDS", ctrl: "controller-ws-server.yaml", agent: "agent-uds.yaml", mtp: "local", subst: wsServer},
	}
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			dir := t.TempDir()
			subst := append([]string{"/var/lib/", dir + "/", "http: 127.0.0.1:8080", "http: 127.0.0.1:0"}, row.subst(t)...)
			files := deployFiles(t, []string{row.ctrl, row.agent}, subst...)
			agentID := endpointLine.FindStringSubmatch(files[1])[1]
			var ctl *uspProc
			if row.agentFirst {
				startConfigured(t, bin, "agent", dir, "agent.yaml", files[1])
				ctl = startConfigured(t, bin, "controller", dir, "controller.yaml", files[0])
			} else {
				ctl = startConfigured(t, bin, "controller", dir, "controller.yaml", files[0])
				startConfigured(t, bin, "agent", dir, "agent.yaml", files[1])
			}
			api := apiOf(t, ctl)
			ag := api.waitOnline(t, agentID, 30*time.Second)
			if ag.MTP != row.mtp {
				t.Errorf("the agent was heard on MTP %q, want %q", ag.MTP, row.mtp)
			}
			if row.trust != "" && ag.Trust != row.trust {
				t.Errorf("the agent's identity is %q, want %q", ag.Trust, row.trust)
			}
			exerciseAPI(t, api, agentID)
			seq, par := roundTrips(t, api, agentID)
			t.Logf("perf %s: small Get through the REST API: %.0f round trips/s one at a time, %.0f/s 8 at a time", row.name, seq, par)
			checkAgentsVerb(t, bin, api, agentID, ag.Protocol+"/"+row.mtp)
		})
	}
}

// exerciseAPI drives one agent through the REST API: Get, Set, Add (a
// ValueChange subscription with NotifRetry), Operate, a Notify stored
// and acknowledged, Delete.
func exerciseAPI(t *testing.T, a *restAPI, id string) {
	t.Helper()
	a.usp(t, id, "get", map[string]any{"paths": []string{"Device.LocalAgent.EndpointID"}}, id)
	setFastRetry(t, a, id)
	a.usp(t, id, "add", vcSubscription(), "instantiated_path")
	v := 1000 + int(time.Now().UnixNano()%100000)
	setInterval(t, a, id, v)
	a.usp(t, id, "operate", map[string]any{"command": "Device.SelfTestDiagnostics()"}, "SelfTestDiagnostics()")
	waitNotify(t, a, v)
	// An unacknowledged Notify comes again within 2 s: the count of
	// received Notify messages, repeats included, stays that of the
	// stored ones.
	time.Sleep(2500 * time.Millisecond)
	if got, stored := a.notifyCount(t), len(a.notifies(t, "")); got != stored {
		t.Errorf("%d Notify messages received for %d stored: the agent sent one again, it was not acknowledged", got, stored)
	}
	a.usp(t, id, "delete", map[string]any{"paths": []string{`Device.LocalAgent.Subscription.[ID=="` + vcSubID + `"].`}}, "affected_paths")
}

// roundTrips measures small Gets through the API for about a second one
// at a time, then a second with 8 in flight; it returns the rates.
func roundTrips(t *testing.T, a *restAPI, id string) (seq, par float64) {
	t.Helper()
	body := []byte(`{"paths":["Device.LocalAgent.EndpointID"]}`)
	get := func() error {
		req, _ := http.NewRequest("POST", a.base+"/api/v1/agents/"+id+"/get", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+a.token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("HTTP %d", resp.StatusCode)
		}
		return nil
	}
	run := func(workers int) float64 {
		start := time.Now()
		errs := make(chan error, workers)
		counts := make(chan int, workers)
		for range workers {
			go func() {
				n := 0
				for time.Since(start) < time.Second && n < 5000 {
					if err := get(); err != nil {
						errs <- err
						break
					}
					n++
				}
				counts <- n
			}()
		}
		total := 0
		for range workers {
			total += <-counts
		}
		select {
		case err := <-errs:
			t.Errorf("get: %v", err)
		default:
		}
		return float64(total) / time.Since(start).Seconds()
	}
	return run(1), run(8)
}

// checkAgentsVerb checks that `usp agents` shows the agent with the
// protocol and the name of the MTP it was heard on.
func checkAgentsVerb(t *testing.T, bin string, a *restAPI, id, label string) {
	t.Helper()
	cmd := exec.Command(bin, "agents")
	cmd.Env = append(os.Environ(), "USP_SERVER="+a.base, "USP_TOKEN="+a.token)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), id+" online "+label+" ") {
		t.Errorf("usp agents: %v\n%s\nwant %q", err, out, id+" online "+label)
	}
}

// agentServerCert writes a CA and a WebSocket server certificate for the
// Agent id, for 127.0.0.1, that names the Agent with a urn:bbf:usp:id:
// URI [R-SEC.5]; it returns the files.
func agentServerCert(t *testing.T, id string) (ca, cert, key string) {
	t.Helper()
	pki := testenv.NewPKI(t, id)
	u, _ := url.Parse("urn:bbf:usp:id:" + id)
	c := pki.Issue(t, id, []*url.URL{u}, []string{"localhost"}, []net.IP{net.IPv4(127, 0, 0, 1)})
	kb, err := x509.MarshalECPrivateKey(c.PrivateKey.(*ecdsa.PrivateKey))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ca, cert, key = filepath.Join(dir, "ca.pem"), filepath.Join(dir, "cpe.pem"), filepath.Join(dir, "cpe.key")
	for name, b := range map[string][]byte{ca: pki.CAPEM, cert: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Certificate[0]}),
		key: pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})} {
		if err := os.WriteFile(name, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return ca, cert, key
}
