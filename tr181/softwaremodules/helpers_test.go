package softwaremodules_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uspkit/uspkit/datamodel"
	"github.com/uspkit/uspkit/internal/testenv"
	"github.com/uspkit/uspkit/schema"
	"github.com/uspkit/uspkit/tr181/softwaremodules"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// events records the Notifier's events and announced changes.
type events struct {
	mu      sync.Mutex
	got     []map[string]string
	ch      chan map[string]string
	changes []string // "add PATH", "delete PATH", "PATH.Param=value"
}

func (e *events) Announce(_ context.Context, changes []datamodel.Change) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, c := range changes {
		switch c.Op {
		case datamodel.OpAdd:
			e.changes = append(e.changes, "add "+c.Path)
		case datamodel.OpDelete:
			e.changes = append(e.changes, "delete "+c.Path)
		default:
			for _, k := range []string{"Status", "ExecutionFaultCode", "Version"} {
				if v, ok := c.Params[k]; ok {
					e.changes = append(e.changes, c.Path+k+"="+v)
				}
			}
		}
	}
}

// announced returns the changes so far.
func (e *events) announced() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.changes...)
}

func newEvents() *events { return &events{ch: make(chan map[string]string, 64)} }

func (e *events) Emit(ctx context.Context, path string, args func(string) map[string]string) {
	if path != softwaremodules.EventDUStateChange {
		return
	}
	a := args("proto::controller")
	e.mu.Lock()
	e.got = append(e.got, a)
	e.mu.Unlock()
	e.ch <- a
}

// next returns the next event, failing after 30 s.
func (e *events) next(t *testing.T) map[string]string {
	t.Helper()
	select {
	case a := <-e.ch:
		return a
	case <-time.After(30 * time.Second):
		t.Fatal("no DUStateChange! within 30 s")
		return nil
	}
}

// rig is a Manager served by a data-model engine.
type rig struct {
	t   *testing.T
	m   *softwaremodules.Manager
	eng *datamodel.Engine
	ev  *events
	dir string
}

func newRig(t *testing.T, dir string, envs ...softwaremodules.ExecEnv) *rig {
	t.Helper()
	m, err := softwaremodules.New(context.Background(), &softwaremodules.Options{Dir: dir, Envs: envs, StopTimeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	model := schema.New()
	model.Define("Device.")
	softwaremodules.Define(model)
	mux := datamodel.NewMux(model)
	softwaremodules.Register(mux, m)
	eng, err := datamodel.New(context.Background(), mux, datamodel.Options{})
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{t: t, m: m, eng: eng, ev: newEvents(), dir: dir}
	m.Start(context.Background(), r.ev)
	return r
}

// get returns the parameters of one object instance.
func (r *rig) get(path string) map[string]string {
	r.t.Helper()
	res := r.eng.Get(context.Background(), datamodel.Caller{}, []string{path}, 0)
	if res[0].Err != nil {
		r.t.Fatalf("Get %s: %v", path, res[0].Err)
	}
	out := map[string]string{}
	for _, o := range res[0].Objects {
		if o.Path == path {
			for k, v := range o.Params {
				out[k] = v
			}
		}
	}
	return out
}

// count returns how many instances a table has.
func (r *rig) count(param string) string {
	return r.get("Device.SoftwareModules.")[param]
}

// operate runs a command, waiting for an asynchronous one.
func (r *rig) operate(cmd string, in map[string]string) error {
	r.t.Helper()
	res, err := r.eng.Operate(context.Background(), datamodel.Caller{}, cmd, "k", in)
	if err != nil {
		return err
	}
	if len(res) != 1 {
		r.t.Fatalf("Operate %s: %d results", cmd, len(res))
	}
	if res[0].Err != nil || res[0].Async == nil {
		return res[0].Err
	}
	_, err = res[0].Async(context.Background())
	return err
}

// waitStatus waits until an EU's Status is want, failing after 30 s.
func (r *rig) waitStatus(eu, want string) map[string]string {
	r.t.Helper()
	var v map[string]string
	for range 600 {
		v = r.get(eu)
		if v["Status"] == want {
			return v
		}
		time.Sleep(50 * time.Millisecond)
	}
	r.t.Fatalf("%s Status %q, want %q (fault %s: %s)", eu, v["Status"], want, v["ExecutionFaultCode"], v["ExecutionFaultMessage"])
	return nil
}

// expectEvent checks a DUStateChange!'s arguments.
func expectEvent(t *testing.T, a map[string]string, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if a[k] != v {
			t.Errorf("DUStateChange! %s = %q, want %q (event %v)", k, a[k], v, a)
		}
	}
	for _, k := range []string{"UUID", "DeploymentUnitRef", "Version", "CurrentState", "Resolved", "ExecutionUnitRefList",
		"StartTime", "CompleteTime", "OperationPerformed", "Fault.FaultCode", "Fault.FaultString"} {
		if _, ok := a[k]; !ok {
			t.Errorf("DUStateChange! lacks %s", k)
		}
	}
}

// tarball builds a tar.gz of files (name → content; a name ending in "/"
// is a directory; mode 0755 for names under bin/ or ending in .sh).
func tarball(t testing.TB, files map[string][]byte, order ...string) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, name := range order {
		b := files[name]
		h := &tar.Header{Name: name, Mode: 0o644, Size: int64(len(b)), Typeflag: tar.TypeReg}
		switch {
		case strings.HasSuffix(name, "/"):
			h.Typeflag, h.Mode, h.Size = tar.TypeDir, 0o755, 0
		case strings.HasPrefix(name, "@link:"):
			parts := strings.SplitN(strings.TrimPrefix(name, "@link:"), "=", 2)
			h = &tar.Header{Name: parts[0], Linkname: parts[1], Typeflag: tar.TypeSymlink, Mode: 0o777}
		case strings.Contains(name, "bin/") || strings.HasSuffix(name, ".sh"):
			h.Mode = 0o755
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := tw.Write(b); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// processDU builds a plain-process Deployment Unit running script with
// /bin/sh.
func processDU(t testing.TB, name, version, script string) []byte {
	t.Helper()
	man, _ := json.Marshal(softwaremodules.ProcessManifest{Name: name, Version: version, Vendor: "Acme", Description: name + " " + version,
		Command: []string{"/bin/sh", "run.sh"}})
	return tarball(t, map[string][]byte{softwaremodules.ManifestFile: man, "run.sh": []byte(script)}, softwaremodules.ManifestFile, "run.sh")
}

// files serves byte slices by path; a path without content answers 404.
type files struct {
	mu sync.Mutex
	m  map[string][]byte
	// hold, if set, makes requests for its path wait until it is closed.
	hold     chan struct{}
	holdPath string
}

func serve(t *testing.T) (*files, string) {
	f := &files{m: map[string][]byte{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		b, ok := f.m[r.URL.Path]
		hold := f.hold
		if r.URL.Path != f.holdPath {
			hold = nil
		}
		f.mu.Unlock()
		if hold != nil {
			select {
			case <-hold:
			case <-r.Context().Done():
				return
			}
		}
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write(b)
	}))
	t.Cleanup(srv.Close)
	return f, srv.URL
}

func (f *files) put(path string, b []byte) {
	f.mu.Lock()
	f.m[path] = b
	f.mu.Unlock()
}

var callerAll = datamodel.Caller{}

func updates(obj, param, value string) []datamodel.UpdateObject {
	return []datamodel.UpdateObject{{Path: obj, Params: []datamodel.ParamSetting{{Param: param, Value: value, Required: true}}}}
}
