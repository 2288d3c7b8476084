package cli

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/uspkit/uspkit/datamodel"
)

// usp agent's VendorConfigFile.1 is its stored data model: Backup() PUTs
// it, Restore() puts it back and restarts the Agent (RemoteReboot), and
// VendorLogFile.1 Upload() sends its recent log (what log_level lets
// through), which tells of the restore.
func TestAgentVendorFiles(t *testing.T) {
	var mu sync.Mutex
	files := map[string][]byte{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "acs" || p != "pw" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if r.Method == http.MethodGet {
			w.Write(files[r.URL.Path])
			return
		}
		files[r.URL.Path], _ = io.ReadAll(r.Body)
	}))
	defer srv.Close()
	file := func(path string) string {
		mu.Lock()
		defer mu.Unlock()
		return string(files[path])
	}
	ctx := context.Background()
	reboots := make(chan string, 1)
	r, err := startAgent(ctx, &agentConfig{EndpointID: "os::012345-VENDOR", Data: t.TempDir()},
		slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelWarn})), func(c string) { reboots <- c })
	if err != nil {
		t.Fatal(err)
	}
	defer r.close()
	eng := r.a.Engine()
	addSub := func(id string) {
		t.Helper()
		if _, err := eng.Add(ctx, datamodel.Caller{}, false, []datamodel.CreateObject{{Path: "Device.LocalAgent.Subscription.", Params: []datamodel.ParamSetting{
			{Param: "ID", Value: id}, {Param: "NotifType", Value: "ValueChange"}, {Param: "ReferenceList", Value: "Device.DeviceInfo.UpTime"}}}}); err != nil {
			t.Fatal(err)
		}
	}
	run := func(cmd, path string) {
		t.Helper()
		res, err := eng.Operate(ctx, datamodel.Caller{}, cmd, "k", map[string]string{"URL": srv.URL + path, "Username": "acs", "Password": "pw"})
		if err != nil || len(res) != 1 || res[0].Err != nil || res[0].Async == nil {
			t.Fatalf("%s: %v %+v", cmd, err, res)
		}
		if _, err := res[0].Async(ctx); err != nil {
			t.Fatalf("%s: %v", cmd, err)
		}
	}
	addSub("kept")
	run("Device.DeviceInfo.VendorConfigFile.1.Backup()", "/cfg.json")
	if b := file("/cfg.json"); !strings.Contains(b, `"format":"uspkit-agent-config"`) || !strings.Contains(b, "kept") {
		t.Fatalf("backup %s", b)
	}
	addSub("dropped")
	run("Device.DeviceInfo.VendorConfigFile.1.Restore()", "/cfg.json")
	if c := <-reboots; c != "RemoteReboot" {
		t.Errorf("restart cause %q", c)
	}
	snap, err := r.db.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, o := range snap.Objects {
		if id := o.Params["ID"]; strings.HasPrefix(o.Path, "Device.LocalAgent.Subscription.") {
			ids = append(ids, id)
		}
	}
	if strings.Join(ids, ",") != "kept" {
		t.Errorf("subscriptions after the restore: %v", ids)
	}
	run("Device.DeviceInfo.VendorLogFile.1.Upload()", "/agent.log")
	if b := file("/agent.log"); !strings.Contains(b, "configuration restored") {
		t.Errorf("log %q", b)
	}
	mu.Lock()
	files["/bad.json"] = []byte(`{"format":"other"}`)
	mu.Unlock()
	res, _ := eng.Operate(ctx, datamodel.Caller{}, "Device.DeviceInfo.VendorConfigFile.1.Restore()", "k", map[string]string{"URL": srv.URL + "/bad.json", "Username": "acs", "Password": "pw"})
	if _, err := res[0].Async(ctx); err == nil || !strings.Contains(err.Error(), "not an agent configuration") {
		t.Errorf("bad configuration: %v", err)
	}
}
