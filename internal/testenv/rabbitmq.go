package testenv

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// One RabbitMQ with the STOMP and MQTT plugins serves every test of this binary. It
// starts on first use (a run of codec tests or of the fuzzer starts none)
// and dies with the test process: each process group we start is led by a
// small shell that holds the read end of a pipe whose write end only this
// process has, and that SIGKILLs its whole group when the pipe closes,
// which the kernel does when this process exits however it exits
// (testenv.Main's os.Exit, a panic, a -timeout). Nothing here starts a
// goroutine, so the leak check of testenv.Main is not disturbed.
var shared struct {
	mu  sync.Mutex
	r   *Rabbit
	err error
}

// Rabbit is the running broker and how to restart it.
type Rabbit struct {
	bin      string
	dir      string
	env      []string
	Stomp    string // plaintext STOMP listener, 127.0.0.1:port
	StompTLS string // TLS STOMP listener
	// MQTT is the plaintext MQTT 3.1.1 listener of the rabbitmq_mqtt
	// plugin (RabbitMQ 3.10 speaks no MQTT 5), 127.0.0.1:port; it lets
	// anonymous clients in as guest.
	MQTT    string
	PKI     *PKI
	Files   TLSFiles      // PKI's files: the CA for clients of StompTLS, a client certificate
	Startup time.Duration // how long the first start took

	mu     sync.Mutex
	epmd   *group
	server *group
}

// RabbitMQ returns the shared broker, starting it if need be; it skips the
// test when rabbitmq-server is not installed.
func RabbitMQ(t testing.TB) *Rabbit {
	t.Helper()
	bin := rabbitBinary(t)
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.r == nil && shared.err == nil {
		shared.r, shared.err = startRabbit(t, bin)
		if shared.err == nil {
			t.Logf("RabbitMQ started in %v: stomp %s, stomp+tls %s, mqtt %s", shared.r.Startup.Round(time.Millisecond),
				shared.r.Stomp, shared.r.StompTLS, shared.r.MQTT)
		}
	}
	if shared.err != nil {
		t.Fatalf("RabbitMQ: %v", shared.err)
	}
	return shared.r
}

// rabbitBinary finds the rabbitmq-server script. Debian's /usr/sbin one
// is a wrapper that switches to the rabbitmq user; the real script sits
// next to the wrapper's target.
func rabbitBinary(t testing.TB) string {
	bin := LookPath(t, "rabbitmq-server", "rabbitmq-server", "/usr/lib/rabbitmq/bin", "/usr/sbin")
	if real, err := filepath.EvalSymlinks(bin); err == nil && filepath.Base(real) == "rabbitmq-script-wrapper" {
		bin = filepath.Join(filepath.Dir(real), "rabbitmq-server")
	}
	return bin
}

func startRabbit(t testing.TB, bin string) (*Rabbit, error) {
	dir, err := os.MkdirTemp("", "uspkit-rabbit-")
	if err != nil {
		return nil, err
	}
	r := &Rabbit{bin: bin, dir: dir, PKI: NewPKI(t, "proto::uspkit-stomp-test")}
	r.PKI.WriteFiles(t, dir)
	r.Files = filesIn(r.PKI, dir)
	ports := make([]int, 6)
	for i := range ports {
		ports[i] = FreePort(t)
	}
	amqp, dist, epmdPort, stomp, stompTLS, mqtt := ports[0], ports[1], ports[2], ports[3], ports[4], ports[5]
	r.MQTT = "127.0.0.1:" + strconv.Itoa(mqtt)
	r.Stomp = "127.0.0.1:" + strconv.Itoa(stomp)
	r.StompTLS = "127.0.0.1:" + strconv.Itoa(stompTLS)
	if err := r.writeConfig(amqp, stomp, stompTLS, mqtt); err != nil {
		return nil, err
	}
	r.env = rabbitEnv(dir, amqp, dist, epmdPort, stomp)
	// Our own epmd on a private port, so the broker's node name and
	// cookie stay ours; its reaper also removes the directory at exit.
	epmd, err := exec.LookPath("epmd")
	if err != nil {
		return nil, fmt.Errorf("epmd not found: %w", err)
	}
	r.epmd, err = startGroup(filepath.Join(dir, "epmd.log"), r.env,
		`"$@" & read _; kill -KILL $!; sleep 1; rm -rf "$USPKIT_RABBIT_DIR"`, epmd, "-port", strconv.Itoa(epmdPort))
	if err != nil {
		return nil, err
	}
	if err := waitListening("127.0.0.1:"+strconv.Itoa(epmdPort), 10*time.Second); err != nil {
		return nil, fmt.Errorf("epmd: %w", err)
	}
	start := time.Now()
	if err := r.start(); err != nil {
		return nil, err
	}
	r.Startup = time.Since(start)
	return r, nil
}

func (r *Rabbit) writeConfig(amqp, stomp, stompTLS, mqtt int) error {
	conf := fmt.Sprintf(`listeners.tcp.default = 127.0.0.1:%d
stomp.listeners.tcp.1 = 127.0.0.1:%d
stomp.listeners.ssl.1 = 127.0.0.1:%d
ssl_options.cacertfile = %[4]s/ca.pem
ssl_options.certfile = %[4]s/server.pem
ssl_options.keyfile = %[4]s/server.key
ssl_options.verify = verify_peer
ssl_options.fail_if_no_peer_cert = false
log.console = false
log.file.level = warning
mqtt.listeners.tcp.1 = 127.0.0.1:%[5]d
mqtt.allow_anonymous = true
`, amqp, stomp, stompTLS, r.dir, mqtt)
	files := map[string]string{
		"rabbitmq.conf":     conf,
		"enabled_plugins":   "[rabbitmq_stomp,rabbitmq_mqtt].\n",
		"rabbitmq-env.conf": "",
		"advanced.config":   "[].\n",
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(r.dir, name), []byte(body), 0o600); err != nil {
			return err
		}
	}
	return os.MkdirAll(filepath.Join(r.dir, "home"), 0o700)
}

// rabbitEnv is the environment of epmd and the broker: ours, without any
// RABBITMQ_ or ERL_ settings of the caller, plus a private HOME for the
// Erlang cookie.
func rabbitEnv(dir string, amqp, dist, epmd, stomp int) []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "RABBITMQ_") || strings.HasPrefix(kv, "ERL_") || strings.HasPrefix(kv, "HOME=") {
			continue
		}
		env = append(env, kv)
	}
	return append(env,
		"HOME="+filepath.Join(dir, "home"),
		"USPKIT_RABBIT_DIR="+dir,
		"ERL_EPMD_PORT="+strconv.Itoa(epmd),
		"ERL_EPMD_ADDRESS=127.0.0.1",
		fmt.Sprintf("RABBITMQ_NODENAME=usp%d@localhost", stomp),
		"RABBITMQ_NODE_IP_ADDRESS=127.0.0.1",
		"RABBITMQ_NODE_PORT="+strconv.Itoa(amqp),
		"RABBITMQ_DIST_PORT="+strconv.Itoa(dist),
		"RABBITMQ_MNESIA_BASE="+filepath.Join(dir, "mnesia"),
		"RABBITMQ_LOG_BASE="+filepath.Join(dir, "log"),
		"RABBITMQ_CONFIG_FILE="+filepath.Join(dir, "rabbitmq.conf"),
		"RABBITMQ_ADVANCED_CONFIG_FILE="+filepath.Join(dir, "advanced.config"),
		"RABBITMQ_CONF_ENV_FILE="+filepath.Join(dir, "rabbitmq-env.conf"),
		"RABBITMQ_ENABLED_PLUGINS_FILE="+filepath.Join(dir, "enabled_plugins"),
	)
}

// start starts the broker in a new process group and waits until both
// STOMP listeners and the MQTT one accept connections.
func (r *Rabbit) start() error {
	g, err := startGroup(filepath.Join(r.dir, "server.log"), r.env, `"$@" & read _; kill -KILL 0`, r.bin)
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.server = g
	r.mu.Unlock()
	for _, addr := range []string{r.Stomp, r.StompTLS, r.MQTT} {
		if err := waitListening(addr, 90*time.Second); err != nil {
			return fmt.Errorf("%w\n%s", err, r.logTail())
		}
	}
	return nil
}

// Kill SIGKILLs the broker's whole process group, reaps its leader and
// waits until the dying VM has let go of its listeners. The broker serves
// other tests: if t ends with it still down, it is restarted then.
func (r *Rabbit) Kill(t testing.TB) {
	t.Helper()
	r.mu.Lock()
	g := r.server
	r.server = nil
	r.mu.Unlock()
	if g == nil {
		return
	}
	g.kill()
	t.Cleanup(func() {
		r.mu.Lock()
		down := r.server == nil
		r.mu.Unlock()
		if down {
			if err := r.start(); err != nil {
				t.Errorf("restart RabbitMQ after the test: %v", err)
			}
		}
	})
	for _, addr := range []string{r.Stomp, r.StompTLS, r.MQTT} {
		if err := waitRefused(addr, 10*time.Second); err != nil {
			t.Fatal(err)
		}
	}
}

// Restart starts the broker again on the same ports and data directory.
func (r *Rabbit) Restart(t testing.TB) {
	t.Helper()
	if err := r.start(); err != nil {
		t.Fatalf("restart RabbitMQ: %v", err)
	}
}

// Signal sends sig to the broker's process group (SIGSTOP, SIGCONT).
func (r *Rabbit) Signal(t testing.TB, sig syscall.Signal) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := syscall.Kill(-r.server.cmd.Process.Pid, sig); err != nil {
		t.Fatalf("signal %v to RabbitMQ: %v", sig, err)
	}
}

func (r *Rabbit) logTail() string {
	var b bytes.Buffer
	for _, name := range []string{"server.log", "log/usp*.log"} {
		matches, _ := filepath.Glob(filepath.Join(r.dir, name))
		for _, m := range matches {
			data, _ := os.ReadFile(m)
			if len(data) > 4000 {
				data = data[len(data)-4000:]
			}
			fmt.Fprintf(&b, "--- %s\n%s\n", m, data)
		}
	}
	return b.String()
}

// group is a process group led by a reaper shell.
type group struct {
	cmd  *exec.Cmd
	pipe *os.File // write end of the reaper's stdin; closing it kills the group
}

// startGroup runs script (with argv as "$@") under /bin/sh as the leader
// of a new process group, its stdin a pipe only we hold, its output to
// logPath. The script is to end by killing what it started once its
// stdin reaches end of file.
func startGroup(logPath string, env []string, script string, argv ...string) (*group, error) {
	out, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	defer out.Close()
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer pr.Close()
	cmd := exec.Command("/bin/sh", append([]string{"-c", script, "sh"}, argv...)...)
	cmd.Env, cmd.Stdin, cmd.Stdout, cmd.Stderr = env, pr, out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		pw.Close()
		return nil, err
	}
	return &group{cmd: cmd, pipe: pw}, nil
}

// kill SIGKILLs the whole group by its leader's PID and reaps the leader.
func (g *group) kill() {
	_ = syscall.Kill(-g.cmd.Process.Pid, syscall.SIGKILL)
	_ = g.cmd.Wait()
	g.pipe.Close()
}

// waitListening waits until addr accepts TCP connections.
func waitListening(addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not listening after %v: %w", addr, timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitRefused waits until addr no longer accepts TCP connections.
func waitRefused(addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err != nil {
			return nil
		}
		c.Close()
		if time.Now().After(deadline) {
			return fmt.Errorf("%s still listening %v after SIGKILL", addr, timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
