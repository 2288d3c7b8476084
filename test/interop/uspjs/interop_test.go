package uspjs

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uspkit/uspkit/broker"
	"github.com/uspkit/uspkit/internal/testenv"
)

const (
	agentID      = "os::012345-USPJS1"
	controllerID = "proto::uspjs-controller"
	// uspjsVersion is the usp-js release package.json pins.
	uspjsVersion = "0.5.1"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// wantSteps are the steps interop.js reports, in order.
func wantSteps() []string {
	return []string{"connect", "get_one", "get_several", "get_bad_path", "supported_proto", "set", "add", "instances",
		"delete", "supported_dm", "subscribe_value_change", "operate_sync", "operate_async", "operate_async_timer", "disconnect"}
}

// mtpSetup is how one transport joins the Agent and usp-js.
type mtpSetup struct {
	agentMTP      string   // the Agent's mtps entry (YAML, indented for the list)
	controllerMTP string   // the factory Controller's mtps entry
	env           []string // USPJS_* for interop.js
	// ready waits until the Agent can take Records on this transport.
	ready func(t *testing.T, a *agentProc)
}

// TestUSPJS runs interop.js against `usp agent` over each transport.
func TestUSPJS(t *testing.T) {
	node := testenv.LookPath(t, "node", "nodejs")
	npm := testenv.LookPath(t, "npm", "npm")
	installModules(t, npm)
	bin := buildUSP(t)
	version := softwareVersion(t, bin)
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T) mtpSetup
	}{
		{"MQTT3.1.1-mosquitto", mosquittoV311},
		{"MQTT5-embedded-broker", embeddedV5},
		{"WebSocket-eid-query", webSocket("query")},
		{"WebSocket-eid-extension", webSocket("extension")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.setup(t)
			a := startAgent(t, bin, s)
			env := append(s.env, "USPJS_AGENT_ID="+agentID, "USPJS_CONTROLLER_ID="+controllerID, "USPJS_SOFTWARE_VERSION="+version)
			runScript(t, node, env)
			for line := range strings.SplitSeq(a.stderr.String(), "\n") {
				if strings.Contains(line, "level=WARN") || strings.Contains(line, "level=ERROR") {
					t.Errorf("the agent complained while serving usp-js: %s", line)
				}
			}
		})
	}
}

// TestPinned checks that package.json and package-lock.json pin usp-js to
// the version this test was written against.
func TestPinned(t *testing.T) {
	var pkg struct {
		Dependencies map[string]string `json:"dependencies"`
	}
	readJSON(t, "package.json", &pkg)
	if got := pkg.Dependencies["usp-js"]; got != uspjsVersion {
		t.Errorf("package.json: usp-js %q, want exactly %q", got, uspjsVersion)
	}
	var lock struct {
		Packages map[string]struct {
			Version      string            `json:"version"`
			Dependencies map[string]string `json:"dependencies"`
		} `json:"packages"`
	}
	readJSON(t, "package-lock.json", &lock)
	if got := lock.Packages[""].Dependencies["usp-js"]; got != uspjsVersion {
		t.Errorf("package-lock.json: root requires usp-js %q, want %q", got, uspjsVersion)
	}
	if got := lock.Packages["node_modules/usp-js"].Version; got != uspjsVersion {
		t.Errorf("package-lock.json: locks usp-js %q, want %q", got, uspjsVersion)
	}
	if lock.Packages["node_modules/ws"].Version == "" {
		t.Error("package-lock.json: no ws package, which uspws.js needs")
	}
}

func readJSON(t *testing.T, name string, v any) {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

// installModules runs npm ci when node_modules does not hold the pinned
// usp-js.
func installModules(t *testing.T, npm string) {
	t.Helper()
	if installedUSPJS() == uspjsVersion {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund")
	cmd.WaitDelay = 10 * time.Second
	out, err := cmd.CombinedOutput()
	if err != nil || installedUSPJS() != uspjsVersion {
		msg := fmt.Sprintf("SKIP: npm ci in test/interop/uspjs failed (the npm registry is needed once): %v\n%s", err, out)
		if testenv.RequireExternal() {
			t.Fatalf("%s (USP_REQUIRE_EXTERNAL=1)", msg)
		}
		t.Skip(msg)
	}
}

func installedUSPJS() string {
	var pkg struct {
		Version string `json:"version"`
	}
	b, err := os.ReadFile(filepath.Join("node_modules", "usp-js", "package.json"))
	if err != nil || json.Unmarshal(b, &pkg) != nil {
		return ""
	}
	if _, err := os.Stat(filepath.Join("node_modules", "ws", "package.json")); err != nil {
		return ""
	}
	return pkg.Version
}

// buildUSP builds the usp binary once for all subtests.
func buildUSP(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "usp")
	cmd := exec.Command("go", "build", "-o", bin, "../../../cmd/usp")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// softwareVersion is what the binary reports as its version ("usp VERSION
// (USP …)"), which the Agent publishes as SoftwareVersion.
func softwareVersion(t *testing.T, bin string) string {
	t.Helper()
	out, err := exec.Command(bin, "version").Output()
	f := strings.Fields(string(out))
	if err != nil || len(f) < 2 {
		t.Fatalf("usp version: %q: %v", out, err)
	}
	return f[1]
}

func mosquittoV311(t *testing.T) mtpSetup {
	addr := testenv.Mosquitto(t)
	return mqttSetup(t, addr, "3.1.1", "usp/agent/uspjs1", "usp/controller/uspjs", "", "")
}

// embeddedV5 runs the embedded broker with password logins and the USP
// topic policy: the Agent may subscribe only below usp/agent/<user>/ and
// the Controller only below usp/controller/<user>/.
func embeddedV5(t *testing.T) mtpSetup {
	agentPass, ctrlPass := secret(t), secret(t)
	b, err := broker.New(&broker.Options{Addr: "127.0.0.1:0", Users: map[string]string{"uspjs-agent": agentPass, "uspjs": ctrlPass},
		Controllers: []string{"uspjs"}, USPPolicy: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	s := mqttSetup(t, b.Addrs().TCP, "5", "usp/agent/uspjs-agent", "usp/controller/uspjs", "uspjs-agent", agentPass)
	s.env = append(s.env, "USPJS_MQTT_USERNAME=uspjs", "USPJS_MQTT_PASSWORD="+ctrlPass)
	return s
}

// mqttSetup configures both sides for one broker; the Agent notifies on
// the Controller's configured topic. Over MQTT 5 usp-js sends no Response
// Topic, so the Agent answers on controller_topic; over MQTT 3.1.1 the
// script names its topic after /reply-to= in the Topic Name [R-MQTT.24],
// and the Agent is given no controller_topic, so that its answers prove it
// read it [R-MQTT.25].
func mqttSetup(t *testing.T, addr, version, agentTopic, ctrlTopic, user, pass string) mtpSetup {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	extra := ""
	if version == "5" {
		extra += "\n    controller_topic: " + ctrlTopic
	}
	if user != "" {
		extra += fmt.Sprintf("\n    username: %s\n    password: %s", user, pass)
	}
	return mtpSetup{
		agentMTP: fmt.Sprintf(`  - protocol: MQTT
    url: tcp://%s
    mqtt_version: "%s"
    topic: %s%s
`, addr, version, agentTopic, extra),
		controllerMTP: fmt.Sprintf("        - protocol: MQTT\n          topic: %s\n", ctrlTopic),
		env: []string{"USPJS_MTP=mqtt", "USPJS_MQTT_HOST=" + host, "USPJS_MQTT_PORT=" + port, "USPJS_MQTT_VERSION=" + version,
			"USPJS_AGENT_TOPIC=" + agentTopic, "USPJS_CONTROLLER_TOPIC=" + ctrlTopic},
		ready: func(t *testing.T, a *agentProc) {
			if !a.stderr.waitFor("mqtt: connected", 15*time.Second) {
				t.Fatalf("the agent did not connect to the broker:\n%s", a.stderr)
			}
		},
	}
}

// webSocket makes the Agent a WebSocket server; eidIn says where the
// script puts its Endpoint ID: the request URI query [R-WS.10b] or the
// bbf-usp-protocol extension [R-WS.10a].
func webSocket(eidIn string) func(t *testing.T) mtpSetup {
	return func(t *testing.T) mtpSetup {
		addr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
		return mtpSetup{
			agentMTP:      fmt.Sprintf("  - protocol: WebSocket\n    listen: %s\n    path: /usp\n", addr),
			controllerMTP: "        - protocol: WebSocket\n",
			env:           []string{"USPJS_MTP=websocket", "USPJS_WS_EID=" + eidIn, "USPJS_WS_URL=ws://" + addr + "/usp"},
			ready:         func(t *testing.T, _ *agentProc) { testenv.WaitListening(t, addr, 15*time.Second) },
		}
	}
}

func secret(t *testing.T) string {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// agentProc is a running `usp agent`.
type agentProc struct {
	stdout, stderr *logBuffer
}

// startAgent writes the configuration, starts the Agent, stops it by PID
// when the test ends, and waits until it is ready on its transport.
func startAgent(t *testing.T, bin string, s mtpSetup) *agentProc {
	t.Helper()
	dir := t.TempDir()
	conf := fmt.Sprintf(`endpoint_id: %s
data: %s
log_level: info
mtps:
%sfactory:
  controllers:
    - endpoint_id: %s
      mtps:
%s`, agentID, filepath.Join(dir, "data"), s.agentMTP, controllerID, s.controllerMTP)
	path := filepath.Join(dir, "agent.yaml")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	a := &agentProc{stdout: &logBuffer{}, stderr: &logBuffer{}}
	cmd := exec.Command(bin, "agent", "--config", path)
	cmd.Stdout, cmd.Stderr = a.stdout, a.stderr
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("agent configuration:\n%s\nagent stdout:\n%s\nagent log:\n%s", conf, a.stdout, a.stderr)
		}
	})
	t.Cleanup(func() { stop(t, cmd) }) // runs first: the log above is then complete
	if !a.stdout.waitFor("agent "+agentID+" ready", 15*time.Second) {
		t.Fatal("the agent did not print its ready line")
	}
	s.ready(t, a)
	return a
}

// stop ends the Agent with SIGINT, then SIGKILL after 5 s.
func stop(t *testing.T, cmd *exec.Cmd) {
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	cmd.Process.Signal(os.Interrupt)
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Logf("agent (pid %d) ignored SIGINT; killing it", cmd.Process.Pid)
		cmd.Process.Kill()
		<-done
	}
}

// stepResult is one line interop.js prints.
type stepResult struct {
	Step   string          `json:"step"`
	OK     bool            `json:"ok"`
	Detail json.RawMessage `json:"detail"`
}

// runScript runs interop.js and requires every step, each ok.
func runScript(t *testing.T, node string, env []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, node, "interop.js")
	cmd.Env = append(os.Environ(), append(env, "USPJS_TRACE=1", "USPJS_TIMEOUT_MS=150000")...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 5 * time.Second
	start := time.Now()
	runErr := cmd.Run()
	t.Logf("interop.js ran %v", time.Since(start).Round(time.Millisecond))

	got := map[string]stepResult{}
	sc := bufio.NewScanner(&stdout)
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	for sc.Scan() {
		line := sc.Text()
		var r stepResult
		if !strings.HasPrefix(line, `{"step"`) || json.Unmarshal([]byte(line), &r) != nil {
			t.Logf("interop.js: %s", line)
			continue
		}
		t.Logf("%-24s ok=%-5v %s", r.Step, r.OK, r.Detail)
		got[r.Step] = r
	}
	want := map[string]bool{}
	for _, name := range wantSteps() {
		want[name] = true
		r, ok := got[name]
		switch {
		case !ok:
			t.Errorf("step %s: not reported", name)
		case !r.OK:
			t.Errorf("step %s failed: %s", name, r.Detail)
		}
	}
	for name, r := range got {
		if !want[name] {
			t.Errorf("unexpected step %s (ok=%v): %s", name, r.OK, r.Detail)
		}
	}
	if runErr != nil {
		t.Errorf("interop.js: %v", runErr)
	}
	if t.Failed() {
		t.Logf("interop.js stderr (Records decoded by usp-js):\n%s", stderr.String())
	}
}

// logBuffer collects a process's output; it is safe for concurrent use.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// waitFor reports whether s appears in the output within d.
func (b *logBuffer) waitFor(s string, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for !strings.Contains(b.String(), s) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
	return true
}
