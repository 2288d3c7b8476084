package cli_test

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/uspkit/uspkit/internal/testenv"
	"github.com/uspkit/uspkit/wire"
)

// TestAgentFirmwareDownloadSurvivesRestart: `usp agent` is stopped half
// way through a Download(); started again, it continues the transfer
// from the partial file with a Range request and sends TransferComplete!
// with FaultCode 0 and the command key.
//
// The command itself ends with the run that stopped: TR-369 1.3
// ("Persistence of Asynchronous Operations") has a command in progress
// at a restart removed from the Request table and considered failed, as
// neither Download() nor Activate() is described as kept across one. So
// the restarted Agent's Request table is empty, no OperationComplete
// reports the interrupted command a success, and the transfer's result is
// TransferComplete!'s, which TR-181 makes the carrier of "all results of
// the actual download".
func TestAgentFirmwareDownloadSurvivesRestart(t *testing.T) {
	bin := buildUSP(t)
	img, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	half := len(img) / 2
	var mu sync.Mutex
	var ranges []string
	hold := make(chan struct{})
	defer close(hold)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		ranges = append(ranges, r.Header.Get("Range"))
		first := len(ranges) == 1
		mu.Unlock()
		if first { // half the image, then nothing
			w.Header().Set("Content-Length", strconv.Itoa(len(img)))
			w.Write(img[:half])
			w.(http.Flusher).Flush()
			select {
			case <-hold:
			case <-r.Context().Done():
			}
			return
		}
		http.ServeContent(w, r, "usp", time.Unix(0, 0), bytes.NewReader(img))
	}))
	defer srv.Close()

	dir := t.TempDir()
	a := &fwAgent{t: t, port: testenv.FreePort(t), notifs: make(chan *wire.Msg, 64)}
	a.cfg = filepath.Join(dir, "agent.yaml")
	os.WriteFile(a.cfg, []byte(fmt.Sprintf("endpoint_id: os::012345-FWRESUME\ndata: %s\nlog_level: error\nmtps:\n  - protocol: WebSocket\n    listen: 127.0.0.1:%d\n"+
		"factory:\n  controllers:\n    - endpoint_id: proto::fw-ctl\n      mtps:\n        - protocol: WebSocket\nfirmware:\n  stall: 60s\n", dir, a.port)), 0o600)
	a.start(bin)
	defer a.stop()
	a.ctl = dialController(t, fmt.Sprintf("ws://127.0.0.1:%d/", a.port), "proto::fw-ctl", "os::012345-FWRESUME")
	a.ctl.onNotify = func(m *wire.Msg) { a.notifs <- m }
	subscribe(t, a.ctl, "ev", "Event", "Device.LocalAgent.TransferComplete!")
	subscribe(t, a.ctl, "oc", "OperationComplete", "Device.DeviceInfo.FirmwareImage.2.Download()")
	a.operate("Device.DeviceInfo.FirmwareImage.2.Download()", "resume-1", map[string]string{"URL": srv.URL, "AutoActivate": "false",
		"FileSize": strconv.Itoa(len(img))})
	part := filepath.Join(dir, "firmware", "download-2.part")
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if fi, err := os.Stat(part); err == nil && fi.Size() == int64(half) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the first half never reached the partial file")
		}
	}
	if _, inTime := interrupt(a.cmd, 10*time.Second); !inTime {
		t.Fatal("the agent did not stop")
	}
	a.start(bin)
	var tc map[string]string
	ocs := 0
	// check fails on an OperationComplete of the interrupted Download()
	// that is not a failure.
	check := func(m *wire.Msg) {
		n := m.GetBody().GetRequest().GetNotify()
		if ev := n.GetEvent(); ev != nil && ev.GetEventName() == "TransferComplete!" {
			tc = ev.GetParams()
		}
		if c := n.GetOperComplete(); c != nil && c.GetCommandName() == "Download()" {
			ocs++
			if c.GetCmdFailure() == nil {
				t.Fatalf("the interrupted Download() completed: %v", c)
			}
			t.Logf("OperationComplete of the interrupted Download(): %v", c)
		}
	}
	for deadline := time.After(30 * time.Second); tc == nil; {
		select {
		case m := <-a.notifs:
			check(m)
		case <-deadline:
			t.Fatal("no TransferComplete! after the restart")
		}
	}
	if tc["FaultCode"] != "0" || tc["CommandKey"] != "resume-1" {
		t.Fatalf("TransferComplete! after the restart: %v", tc)
	}
	if n := a.get("Device.LocalAgent.RequestNumberOfEntries"); n != "0" {
		t.Fatalf("RequestNumberOfEntries %s after the restart", n)
	}
	for more := true; more; {
		select {
		case m := <-a.notifs:
			check(m)
		case <-time.After(500 * time.Millisecond):
			more = false
		}
	}
	t.Logf("%d OperationComplete of the interrupted Download()", ocs)
	mu.Lock()
	got := append([]string(nil), ranges...)
	mu.Unlock()
	if want := "bytes=" + strconv.Itoa(half) + "-"; len(got) != 2 || got[1] != want {
		t.Fatalf("requests with Range %q, want a second with %s", got, want)
	}
	if s := a.get("Device.DeviceInfo.FirmwareImage.2.Status"); s != "Available" {
		t.Fatalf("status %q", s)
	}
}
