package cli_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/uspkit/uspkit/internal/testenv"
)

// TestControllerFirmwareUpgrade: `usp controller` drives `usp agent`
// (build 1.0.0-a, dialling the Controller's WebSocket server) through the
// REST API: Download() of build 2.0.0-b (TransferComplete! stored with
// FaultCode 0), then Activate(); the agent process restarts on bank 2,
// Boot! with FirmwareUpdated true reaches the Controller, and
// Device.DeviceInfo.SoftwareVersion is 2.0.0-b.
func TestControllerFirmwareUpgrade(t *testing.T) {
	bin := buildUSP(t)
	binA, binB := buildVersioned(t, "1.0.0-a"), buildVersioned(t, "2.0.0-b")
	img, err := os.ReadFile(binB)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(img)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(img) }))
	defer srv.Close()
	dir := t.TempDir()
	port := testenv.FreePort(t)
	ctl := startConfigured(t, bin, "controller", dir, "controller.yaml", fmt.Sprintf(`endpoint_id: proto::fw-acs
data: %s/controller
http: 127.0.0.1:0
log_level: warn
admission: all
mtps:
  - name: ws
    protocol: WebSocket
    listen: 127.0.0.1:%d
    path: /usp
    identity: claimed
`, dir, port))
	const agentID = "os::00D09E-FWAPI"
	agent := startConfigured(t, binA, "agent", dir, "agent.yaml", fmt.Sprintf(`endpoint_id: %s
data: %s/agent
log_level: warn
mtps:
  - protocol: WebSocket
    url: ws://127.0.0.1:%d/usp
factory:
  controllers:
    - endpoint_id: proto::fw-acs
      mtps:
        - protocol: WebSocket
firmware:
  confirm_timeout: 30s
`, agentID, dir, port))
	defer agent.stop()
	api := apiOf(t, ctl)
	api.waitOnline(t, agentID, 30*time.Second)
	api.usp(t, agentID, "add", map[string]any{"objects": []map[string]any{{"path": "Device.LocalAgent.Subscription.", "params": map[string]string{
		"ID": "fw", "NotifType": "Event", "ReferenceList": "Device.Boot!,Device.LocalAgent.TransferComplete!", "Enable": "true", "Persistent": "true"}}}},
		"instantiated_path")
	version := func() string {
		return api.usp(t, agentID, "get", map[string]any{"paths": []string{"Device.DeviceInfo.SoftwareVersion"}}, "SoftwareVersion")
	}
	if v := version(); !strings.Contains(v, "1.0.0-a") {
		t.Fatalf("SoftwareVersion before: %s", v)
	}
	api.usp(t, agentID, "operate", map[string]any{"command": "Device.DeviceInfo.FirmwareImage.2.Download()", "command_key": "api-dl",
		"args": map[string]string{"URL": srv.URL, "AutoActivate": "false", "CheckSumAlgorithm": "SHA-256", "CheckSum": hex.EncodeToString(sum[:])}},
		"Download()")
	waitNotifyWith(t, api, []string{"TransferComplete!", "api-dl", `"FaultCode":"0"`}, 60*time.Second)
	api.usp(t, agentID, "operate", map[string]any{"command": "Device.DeviceInfo.FirmwareImage.2.Activate()", "command_key": "api-act",
		"args": map[string]string{"TimeWindow.1.Start": "0", "TimeWindow.1.End": "30", "TimeWindow.1.Mode": "Immediately"}}, "Activate()")
	waitNotifyWith(t, api, []string{"Boot!", "api-act", `"FirmwareUpdated":"true"`}, 60*time.Second)
	api.waitOnline(t, agentID, 30*time.Second)
	if v := version(); !strings.Contains(v, "2.0.0-b") {
		t.Fatalf("SoftwareVersion after the upgrade: %s", v)
	}
	if p, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", agent.cmd.Process.Pid)); p != filepath.Join(dir, "agent", "firmware", "bank2", "usp") {
		t.Fatalf("the agent process runs %s", p)
	}
	// Connected to the Controller, the new image is confirmed: bank 2 is
	// the good bank and nothing is on trial.
	var state string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		b, _ := os.ReadFile(filepath.Join(dir, "agent", "firmware", "boot.json"))
		if state = strings.Join(strings.Fields(string(b)), ""); strings.Contains(state, `"Good":2`) && !strings.Contains(state, `"Trial"`) {
			return
		}
	}
	t.Fatalf("the new image was not confirmed: %s", state)
}

// waitNotifyWith waits until the controller stored a Notify whose JSON
// holds every one of parts.
func waitNotifyWith(t *testing.T, a *restAPI, parts []string, within time.Duration) {
	t.Helper()
	for deadline := time.Now().Add(within); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
	next:
		for _, e := range a.notifies(t, parts[0]) {
			msg := strings.Join(strings.Fields(string(e.Msg)), "") // without the indentation
			for _, p := range parts[1:] {
				if !strings.Contains(msg, p) {
					continue next
				}
			}
			return
		}
	}
	t.Fatalf("no Notify with %q in /api/v1/events (%d with %q)", parts, len(a.notifies(t, parts[0])), parts[0])
}
