package cli_test

import (
	"bufio"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/uspkit/uspkit/internal/testenv"
	"github.com/uspkit/uspkit/wire"
)

// procKiB reads a "Vm…:" line of /proc/PID/status in KiB.
func procKiB(pid int, field string) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

// TestAgentFirmwareDownloadRSS measures `usp agent`'s peak RSS (VmHWM)
// after a Download() of 10 MB and then of 100 MB (files that are not
// images: the transfer runs whole, validation then fails), and the time
// each took. It only runs with USP_FIRMWARE_PERF=1 (docs/perf.md).
func TestAgentFirmwareDownloadRSS(t *testing.T) {
	if os.Getenv("USP_FIRMWARE_PERF") != "1" {
		t.Skip("set USP_FIRMWARE_PERF=1 to measure")
	}
	bin := buildUSP(t)
	chunk := make([]byte, 1<<20)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/"))
		w.Header().Set("Content-Length", strconv.Itoa(n<<20))
		for range n {
			w.Write(chunk)
		}
	}))
	defer srv.Close()
	dir := t.TempDir()
	a := &fwAgent{t: t, port: testenv.FreePort(t), notifs: make(chan *wire.Msg, 64)}
	a.cfg = filepath.Join(dir, "agent.yaml")
	os.WriteFile(a.cfg, []byte(fmt.Sprintf("endpoint_id: os::012345-FWPERF\ndata: %s\nlog_level: error\nmtps:\n  - protocol: WebSocket\n    listen: 127.0.0.1:%d\n"+
		"factory:\n  controllers:\n    - endpoint_id: proto::fw-ctl\n      mtps:\n        - protocol: WebSocket\nfirmware: {}\n", dir, a.port)), 0o600)
	a.start(bin)
	defer a.stop()
	a.ctl = dialController(t, fmt.Sprintf("ws://127.0.0.1:%d/", a.port), "proto::fw-ctl", "os::012345-FWPERF")
	a.ctl.onNotify = func(m *wire.Msg) { a.notifs <- m }
	subscribe(t, a.ctl, "ev", "Event", "Device.LocalAgent.TransferComplete!")
	t.Logf("idle: VmHWM %d KiB, VmRSS %d KiB", procKiB(a.cmd.Process.Pid, "VmHWM"), procKiB(a.cmd.Process.Pid, "VmRSS"))
	for _, mb := range []int{10, 100} {
		start := time.Now()
		a.operate("Device.DeviceInfo.FirmwareImage.2.Download()", "perf", map[string]string{"URL": fmt.Sprintf("%s/%d", srv.URL, mb), "AutoActivate": "false"})
		tc := a.event("TransferComplete!", 2*time.Minute)
		took := time.Since(start)
		t.Logf("%d MiB: %s (%.0f MB/s), fault %s; VmHWM %d KiB", mb, took.Round(time.Millisecond), float64(mb<<20)/took.Seconds()/1e6, tc["FaultCode"],
			procKiB(a.cmd.Process.Pid, "VmHWM"))
	}
}
