package softwaremodules_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uspkit/uspkit/datamodel"
	"github.com/uspkit/uspkit/schema"
	"github.com/uspkit/uspkit/tr181/deviceinfo"
	"github.com/uspkit/uspkit/tr181/softwaremodules"
	"github.com/uspkit/uspkit/tr181/vendorfiles"
)

// newLogRig is newRig with Device.DeviceInfo.VendorLogFile served next to
// Device.SoftwareModules, row 1 the Agent's own log, units' logs bounded
// to maxLog bytes.
func newLogRig(t *testing.T, dir string, maxLog int64, envs ...softwaremodules.ExecEnv) *rig {
	t.Helper()
	m, err := softwaremodules.New(context.Background(), &softwaremodules.Options{Dir: dir, Envs: envs, StopTimeout: 3 * time.Second, MaxLog: maxLog})
	if err != nil {
		t.Fatal(err)
	}
	model := schema.New()
	model.Define("Device.")
	deviceinfo.Define(model)
	vendorfiles.Define(model)
	softwaremodules.Define(model)
	mux := datamodel.NewMux(model)
	softwaremodules.Register(mux, m)
	files := vendorfiles.Register(mux, vendorfiles.Options{Logs: []vendorfiles.LogFile{vendorfiles.NewLogRing(1024).File("usp-agent.log")}})
	m.PublishLogs(files)
	eng, err := datamodel.New(context.Background(), mux, datamodel.Options{})
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{t: t, m: m, eng: eng, ev: newEvents(), dir: dir}
	m.Start(context.Background(), r.ev)
	return r
}

// collector is an HTTP server keeping what is PUT to it.
type collector struct {
	url string
	mu  sync.Mutex
	got map[string][]byte
}

func newCollector(t *testing.T) *collector {
	c := &collector{got: map[string][]byte{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "cpe" || p != "secret" || r.Method != http.MethodPut {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		b, _ := io.ReadAll(r.Body)
		c.mu.Lock()
		c.got[r.URL.Path] = b
		c.mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	c.url = srv.URL
	return c
}

func (c *collector) body(path string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return string(c.got[path])
}

// linesScript prints n numbered lines of about 40 bytes, then "ready",
// and waits for SIGTERM.
func linesScript(n int) string {
	return fmt.Sprintf("i=0\nwhile [ $i -lt %d ]; do echo \"line $i of the execution unit log....\"; i=$((i+1)); done\n"+
		"echo ready\ntrap 'echo bye; exit 0' TERM\nwhile true; do sleep 0.2; done\n", n)
}

// TestEULogIsVendorLogFile: an Execution Unit's log is a
// Device.DeviceInfo.VendorLogFile row that its VendorLogList names, created
// with the unit and removed when its DU is uninstalled (TR-181
// ExecutionUnit.{i}.VendorLogList); Upload() sends the newest MaximumSize
// bytes of what the unit wrote, from the start of a line, to a real HTTP
// server; the row keeps its number across a restart.
func TestEULogIsVendorLogFile(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  func(t *testing.T) (softwaremodules.ExecEnv, []byte)
	}{
		{"process", func(t *testing.T) (softwaremodules.ExecEnv, []byte) {
			return softwaremodules.ProcessEnv{}, processDU(t, "talker", "1.0", linesScript(400))
		}},
		{"oci", func(t *testing.T) (softwaremodules.ExecEnv, []byte) {
			runc, busybox := ociRuntime(t)
			script := "i=0; while [ $i -lt 400 ]; do echo \"line $i of the execution unit log....\"; i=$((i+1)); done; echo ready; " +
				"trap 'echo bye; exit 0' TERM; while true; do /bin/busybox sleep 0.2; done"
			return ociEnv(t, runc), ociBundle(t, busybox, "talker", "1.0", script)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env, du := tc.env(t)
			testEULog(t, env, du)
		})
	}
}

func testEULog(t *testing.T, env softwaremodules.ExecEnv, du []byte) {
	const maxLog = 4096
	srv, base := serve(t)
	srv.put("/talker.tgz", du)
	up := newCollector(t)
	dir := t.TempDir()
	r := newLogRig(t, dir, maxLog, env)
	defer func() { r.m.Close() }()

	if err := r.operate("Device.SoftwareModules.InstallDU()", map[string]string{"URL": base + "/talker.tgz"}); err != nil {
		t.Fatalf("InstallDU: %v", err)
	}
	r.ev.next(t)
	const row = "Device.DeviceInfo.VendorLogFile.2"
	if got := r.get(eu1)["VendorLogList"]; got != row {
		t.Fatalf("VendorLogList %q, want %s", got, row)
	}
	v := r.get(row + ".")
	if !strings.HasPrefix(v["Name"], "uspkit-") || !strings.HasSuffix(v["Name"], ".log") || v["MaximumSize"] != "4096" || v["Persistent"] != "true" {
		t.Errorf("%s = %v", row, v)
	}
	if !slices.Contains(r.ev.announced(), "add "+row+".") {
		t.Errorf("row not announced: %v", r.ev.announced())
	}

	if err := r.operate(eu1+"SetRequestedState()", map[string]string{"RequestedState": "Active"}); err != nil {
		t.Fatal(err)
	}
	r.waitStatus(eu1, "Active")
	waitLog(t, r.m.LogPath(1), "ready")
	in := map[string]string{"URL": up.url + "/eu.log", "Username": "cpe", "Password": "secret"}
	if err := r.operate(row+".Upload()", in); err != nil {
		t.Fatalf("Upload(): %v", err)
	}
	got := up.body("/eu.log")
	lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
	switch {
	case len(got) > maxLog:
		t.Errorf("uploaded %d bytes, over MaximumSize %d", len(got), maxLog)
	case len(got) < maxLog/2:
		t.Errorf("uploaded %d bytes: %q", len(got), got)
	case lines[len(lines)-1] != "ready" || lines[len(lines)-2] != "line 399 of the execution unit log....":
		t.Errorf("upload does not end with the newest lines: %q", got[max(len(got)-100, 0):])
	}
	// Whole, consecutive lines from the first to the last.
	var first int
	if _, err := fmt.Sscanf(lines[0], "line %d of", &first); err != nil {
		t.Fatalf("upload starts in a line: %q", lines[0])
	}
	for i, l := range lines[:len(lines)-1] {
		if want := fmt.Sprintf("line %d of the execution unit log....", first+i); l != want {
			t.Fatalf("line %d: %q, want %q", i, l, want)
		}
	}

	// A restart keeps the row's number.
	r.m.Close()
	r = newLogRig(t, dir, maxLog, env)
	if got := r.get(eu1)["VendorLogList"]; got != row {
		t.Errorf("VendorLogList after a restart %q, want %s", got, row)
	}

	if err := r.operate(du1+"Uninstall()", nil); err != nil {
		t.Fatalf("Uninstall: %v", err)
	}
	r.ev.next(t)
	res := r.eng.Get(context.Background(), datamodel.Caller{}, []string{"Device.DeviceInfo.VendorLogFile."}, 0)
	for _, o := range res[0].Objects {
		if strings.HasPrefix(o.Path, row+".") {
			t.Errorf("%s after Uninstall: %v", o.Path, o.Params)
		}
	}
	if res := r.eng.Get(context.Background(), datamodel.Caller{}, []string{"Device.DeviceInfo.VendorLogFile.1.Name"}, 0); res[0].Err != nil {
		t.Errorf("the Agent's own log row: %v", res[0].Err)
	}
	if !slices.Contains(r.ev.announced(), "delete "+row+".") {
		t.Errorf("removal not announced: %v", r.ev.announced())
	}
	if err := r.operate(row+".Upload()", in); err == nil {
		t.Error("Upload() of a removed row succeeded")
	}
	ents, _ := os.ReadDir(dir + "/logs")
	if len(ents) != 0 {
		t.Errorf("logs left after Uninstall: %v", ents)
	}
}
