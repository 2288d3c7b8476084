package vendorfiles_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uspkit/uspkit/datamodel"
	"github.com/uspkit/uspkit/schema"
	"github.com/uspkit/uspkit/schema/schematest"
	"github.com/uspkit/uspkit/tr181/deviceinfo"
	"github.com/uspkit/uspkit/tr181/vendorfiles"
	"github.com/uspkit/uspkit/usperr"
)

func TestModelMatchesTR181(t *testing.T) {
	ref := schematest.LoadTR181(t)
	m := schema.New()
	m.Define("Device.")
	deviceinfo.Define(m)
	vendorfiles.Define(m)
	for _, d := range schematest.Diff(m, ref) {
		if strings.HasPrefix(d, "Device.DeviceInfo.Vendor") {
			t.Error(d)
		}
	}
}

// server is an HTTP server that stores what is PUT or POSTed and serves
// files, checking Basic credentials.
type server struct {
	*httptest.Server
	mu       sync.Mutex
	got      map[string][]byte
	methods  []string
	files    map[string][]byte
	noPut    bool
	user, pw string
}

func newServer(t *testing.T) *server {
	s := &server{got: map[string][]byte{}, files: map[string][]byte{}, user: "cpe", pw: "secret"}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != s.user || p != s.pw {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		switch r.Method {
		case http.MethodPut, http.MethodPost:
			s.methods = append(s.methods, r.Method)
			if s.noPut && r.Method == http.MethodPut {
				w.WriteHeader(http.StatusMethodNotAllowed)
				return
			}
			b, _ := io.ReadAll(r.Body)
			s.got[r.URL.Path] = b
			w.WriteHeader(http.StatusCreated)
		case http.MethodGet:
			b, ok := s.files[r.URL.Path]
			if !ok {
				http.NotFound(w, r)
				return
			}
			w.Write(b)
		}
	}))
	t.Cleanup(s.Close)
	return s
}

type fixture struct {
	eng      *datamodel.Engine
	restored []byte
	ring     *vendorfiles.LogRing
}

func newFixture(t *testing.T) *fixture {
	f := &fixture{ring: vendorfiles.NewLogRing(64)}
	m := schema.New()
	m.Define("Device.")
	deviceinfo.Define(m)
	vendorfiles.Define(m)
	mux := datamodel.NewMux(m)
	date := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var mu sync.Mutex
	vendorfiles.Register(mux, vendorfiles.Options{MaxRestore: 1000,
		Config: []vendorfiles.ConfigFile{{Name: "agent-config.json", Version: "1", Description: "data model", UseForBackupRestore: true,
			Date: func() time.Time { return date },
			Backup: func(ctx context.Context, w io.Writer) error {
				_, err := io.WriteString(w, `{"config":true}`)
				return err
			},
			Restore: func(ctx context.Context, data []byte) error {
				if !bytes.HasPrefix(data, []byte("{")) {
					return fmt.Errorf("not a configuration")
				}
				mu.Lock()
				f.restored = data
				mu.Unlock()
				return nil
			}}},
		Logs: []vendorfiles.LogFile{f.ring.File("agent.log")}})
	eng, err := datamodel.New(context.Background(), mux, datamodel.Options{})
	if err != nil {
		t.Fatal(err)
	}
	f.eng = eng
	return f
}

func (f *fixture) run(t *testing.T, cmd string, in map[string]string) error {
	t.Helper()
	res, err := f.eng.Operate(context.Background(), datamodel.Caller{}, cmd, "k", in)
	if err != nil || len(res) != 1 {
		t.Fatalf("%s: %v %d results", cmd, err, len(res))
	}
	if res[0].Err != nil {
		return res[0].Err
	}
	if res[0].Async == nil {
		t.Fatalf("%s is not asynchronous", cmd)
	}
	_, err = res[0].Async(context.Background())
	return err
}

func (f *fixture) get(t *testing.T, path string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, r := range f.eng.Get(context.Background(), datamodel.Caller{}, []string{path}, 0) {
		if r.Err != nil {
			t.Fatalf("%s: %v", path, r.Err)
		}
		for _, o := range r.Objects {
			for k, v := range o.Params {
				out[o.Path+k] = v
			}
		}
	}
	return out
}

func TestValuesAndAlias(t *testing.T) {
	f := newFixture(t)
	got := f.get(t, "Device.DeviceInfo.VendorConfigFile.1.")
	want := map[string]string{"Name": "agent-config.json", "Version": "1", "Description": "data model", "UseForBackupRestore": "true",
		"Date": "2026-01-02T03:04:05Z", "Alias": "cpe-1"}
	for k, v := range want {
		if got["Device.DeviceInfo.VendorConfigFile.1."+k] != v {
			t.Errorf("%s = %q, want %q", k, got["Device.DeviceInfo.VendorConfigFile.1."+k], v)
		}
	}
	if l := f.get(t, "Device.DeviceInfo.VendorLogFile.1."); l["Device.DeviceInfo.VendorLogFile.1.MaximumSize"] != "64" || l["Device.DeviceInfo.VendorLogFile.1.Name"] != "agent.log" {
		t.Errorf("log file %v", l)
	}
	if _, err := f.eng.Set(context.Background(), datamodel.Caller{}, false, []datamodel.UpdateObject{{Path: "Device.DeviceInfo.VendorLogFile.1.",
		Params: []datamodel.ParamSetting{{Param: "Alias", Value: "main-log", Required: true}}}}); err != nil {
		t.Fatal(err)
	}
	if l := f.get(t, "Device.DeviceInfo.VendorLogFile.[Alias==\"main-log\"].Name"); l["Device.DeviceInfo.VendorLogFile.1.Name"] != "agent.log" {
		t.Errorf("by alias: %v", l)
	}
}

func TestBackupAndUpload(t *testing.T) {
	s := newServer(t)
	f := newFixture(t)
	creds := func(url string) map[string]string {
		return map[string]string{"URL": url, "Username": "cpe", "Password": "secret"}
	}
	if err := f.run(t, "Device.DeviceInfo.VendorConfigFile.1.Backup()", creds(s.URL+"/backup.json")); err != nil {
		t.Fatal(err)
	}
	// A server that takes no PUT gets a POST.
	s.noPut = true
	fmt.Fprintf(f.ring, "first line that scrolls away, being long enough\n")
	for i := range 5 {
		fmt.Fprintf(f.ring, "line %d\n", i)
	}
	if err := f.run(t, "Device.DeviceInfo.VendorLogFile.1.Upload()", creds(s.URL+"/agent.log")); err != nil {
		t.Fatal(err)
	}
	if string(s.got["/backup.json"]) != `{"config":true}` || !strings.HasSuffix(string(s.got["/agent.log"]), "line 4\n") ||
		strings.Contains(string(s.got["/agent.log"]), "first") || len(s.got["/agent.log"]) > 64 {
		t.Fatalf("got %q", s.got)
	}
	if strings.Join(s.methods, " ") != "PUT PUT POST" {
		t.Errorf("methods %v", s.methods)
	}
	for _, tc := range []struct {
		name string
		in   map[string]string
		code uint32
	}{
		{"bad password", map[string]string{"URL": s.URL + "/x", "Username": "cpe", "Password": "wrong"}, usperr.CodeCommandFailure},
		{"ftp", creds("ftp://127.0.0.1/x"), usperr.CodeInvalidCommandArgs},
		{"no server", creds("http://127.0.0.1:1/x"), usperr.CodeCommandFailure},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := f.run(t, "Device.DeviceInfo.VendorConfigFile.1.Backup()", tc.in)
			if usperr.Code(err) != tc.code {
				t.Fatalf("%v, want %d", err, tc.code)
			}
		})
	}
}

func TestRestore(t *testing.T) {
	s := newServer(t)
	good := []byte(`{"restored":1}`)
	sum := sha256.Sum256(good)
	s.files["/good.json"], s.files["/bad.json"], s.files["/big.json"] = good, []byte("garbage"), bytes.Repeat([]byte("{"), 2000)
	f := newFixture(t)
	in := func(path string, kv ...string) map[string]string {
		m := map[string]string{"URL": s.URL + path, "Username": "cpe", "Password": "secret"}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	for _, tc := range []struct {
		name string
		in   map[string]string
		fail string
	}{
		{"checksum mismatch", in("/good.json", "CheckSumAlgorithm", "SHA-256", "CheckSum", strings.Repeat("00", 32)), "checksum"},
		{"size mismatch", in("/good.json", "FileSize", "3"), "FileSize"},
		{"404", in("/none.json"), "HTTP 404"},
		{"too large", in("/big.json"), "over 1000 bytes"},
		{"rejected content", in("/bad.json"), "not a configuration"},
		{"good", in("/good.json", "CheckSumAlgorithm", "SHA-256", "CheckSum", hex.EncodeToString(sum[:]), "FileSize", fmt.Sprint(len(good))), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f.restored = nil
			err := f.run(t, "Device.DeviceInfo.VendorConfigFile.1.Restore()", tc.in)
			switch {
			case tc.fail == "" && (err != nil || !bytes.Equal(f.restored, good)):
				t.Fatalf("%v, restored %q", err, f.restored)
			case tc.fail != "" && (err == nil || !strings.Contains(err.Error(), tc.fail) || f.restored != nil):
				t.Fatalf("%v, want %q; restored %q", err, tc.fail, f.restored)
			}
		})
	}
}
