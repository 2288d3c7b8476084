package cli_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestUpFileDescriptorBudget runs `usp up` under `ulimit -n 1024` and
// floods its API and WebSocket ports with idle sockets from many source
// addresses, more than the process could hold; the API still answers an
// authenticated request within a second and the MQTT broker still
// accepts and answers a CONNECT (docs/security.md, file-descriptor
// budget).
func TestUpFileDescriptorBudget(t *testing.T) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil || lim.Cur < 4096 {
		t.Skipf("the test process needs 4096 file descriptors for its sockets (has %d)", lim.Cur)
	}
	bin := buildUSP(t)
	data := t.TempDir()
	cmd := exec.Command("bash", "-c", `ulimit -n 1024 && exec "$0" "$@"`, bin, "up", "--data", data,
		"--http", "127.0.0.1:0", "--ws", "127.0.0.1:0", "--mqtt", "127.0.0.1:0")
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = io.Discard // one warning per refused socket
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if _, inTime := interrupt(cmd, 15*time.Second); !inTime {
			t.Error("usp up did not stop on SIGINT")
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
	go io.Copy(io.Discard, stdout)
	api := lines["api"]
	apiAddr := strings.TrimPrefix(api, "http://")
	wsAddr := strings.TrimSuffix(strings.TrimPrefix(lines["websocket"], "ws://"), "/usp")
	mqttAddr := strings.TrimPrefix(lines["mqtt"], "tcp://")
	if apiAddr == "" || wsAddr == "" || mqttAddr == "" {
		t.Fatalf("usp up printed %v", lines)
	}
	tokenFile := strings.Fields(lines["token"])[0]
	token, err := os.ReadFile(tokenFile)
	if err != nil {
		t.Fatal(err)
	}

	// 1,100 idle sockets at the API and 1,100 at the WebSocket server,
	// from 40 source addresses each.
	var socks []net.Conn
	defer func() {
		for _, c := range socks {
			c.Close()
		}
	}()
	flood := func(addr string, firstSrc byte) {
		for i := range 1100 {
			d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, firstSrc, byte(2+i%40))}, Timeout: time.Second}
			if c, err := d.Dial("tcp", addr); err == nil {
				socks = append(socks, c)
			}
		}
	}
	flood(apiAddr, 1)
	flood(wsAddr, 2)
	time.Sleep(300 * time.Millisecond)

	start := time.Now()
	req, _ := http.NewRequest("GET", api+"/api/v1/agents", nil)
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("API during the flood: %v", err)
	}
	resp.Body.Close()
	if el := time.Since(start); resp.StatusCode != 200 || el > time.Second {
		t.Errorf("API during the flood: HTTP %d after %v, want 200 within 1 s", resp.StatusCode, el)
	}
	t.Logf("API answered in %v with %d flood sockets open", time.Since(start), len(socks))

	// The broker accepts and answers an MQTT 3.1.1 CONNECT (refused:
	// no such account, but answered).
	c, err := net.DialTimeout("tcp", mqttAddr, time.Second)
	if err != nil {
		t.Fatalf("MQTT during the flood: %v", err)
	}
	defer c.Close()
	connect := []byte{0x10, 13, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x02, 0, 60, 0, 1, 'x'}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write(connect); err != nil {
		t.Fatal(err)
	}
	var ack [4]byte
	if _, err := io.ReadFull(c, ack[:]); err != nil || ack[0] != 0x20 {
		t.Fatalf("MQTT during the flood: CONNACK % x, %v", ack, err)
	}
	if n := fdCount(t, cmd.Process.Pid); n >= 1024 {
		t.Errorf("usp up holds %d descriptors", n)
	} else {
		t.Logf("usp up holds %d of its 1024 descriptors", n)
	}
}

// fdCount counts the open descriptors of a process (0 when it cannot).
func fdCount(t *testing.T, pid int) int {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join("/proc", fmt.Sprint(pid), "fd"))
	if err != nil {
		return 0
	}
	return len(ents)
}
