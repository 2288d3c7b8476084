package vendorfiles_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/uspkit/uspkit/datamodel"
	"github.com/uspkit/uspkit/schema"
	"github.com/uspkit/uspkit/tr181/deviceinfo"
	"github.com/uspkit/uspkit/tr181/vendorfiles"
	"github.com/uspkit/uspkit/usperr"
)

// TestHTTPS: Backup(), Upload() and Restore() over HTTPS with Basic
// credentials, through an Options.Client that trusts the server; with the
// default client, which trusts only the system's CAs, the same server is
// refused (7022, the message naming the certificate) and nothing is sent.
func TestHTTPS(t *testing.T) {
	var mu sync.Mutex
	got := map[string]string{}
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "cpe" || p != "secret" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if r.Method == http.MethodGet {
			io.WriteString(w, `{"restored":true}`)
			return
		}
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got[r.Method+" "+r.URL.Path] = string(b)
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	creds := func(path string) map[string]string {
		return map[string]string{"URL": srv.URL + path, "Username": "cpe", "Password": "secret"}
	}
	for _, tc := range []struct {
		name    string
		client  *http.Client
		wantErr bool
	}{
		{"trusted", srv.Client(), false},
		{"system CAs only", nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mu.Lock()
			clear(got)
			mu.Unlock()
			var restored string
			ring := vendorfiles.NewLogRing(1024)
			io.WriteString(ring, "a log line\n")
			eng := httpsEngine(t, vendorfiles.Options{Client: tc.client, MaxRestore: 1000,
				Config: []vendorfiles.ConfigFile{{Name: "c.json", UseForBackupRestore: true,
					Backup:  func(ctx context.Context, w io.Writer) error { _, err := io.WriteString(w, `{"c":1}`); return err },
					Restore: func(ctx context.Context, b []byte) error { restored = string(b); return nil }}},
				Logs: []vendorfiles.LogFile{ring.File("agent.log")}})
			for cmd, path := range map[string]string{"Device.DeviceInfo.VendorConfigFile.1.Backup()": "/c.json",
				"Device.DeviceInfo.VendorLogFile.1.Upload()": "/agent.log", "Device.DeviceInfo.VendorConfigFile.1.Restore()": "/r.json"} {
				res, err := eng.Operate(context.Background(), datamodel.Caller{}, cmd, "k", creds(path))
				if err != nil || len(res) != 1 || res[0].Async == nil {
					t.Fatalf("%s: %v %+v", cmd, err, res)
				}
				_, err = res[0].Async(context.Background())
				switch {
				case tc.wantErr && (usperr.Code(err) != usperr.CodeCommandFailure || !strings.Contains(usperr.Message(err), "certificate")):
					t.Errorf("%s over untrusted HTTPS: %v, want 7022 naming the certificate", cmd, err)
				case !tc.wantErr && err != nil:
					t.Errorf("%s over HTTPS: %v", cmd, err)
				}
			}
			mu.Lock()
			defer mu.Unlock()
			if tc.wantErr {
				if len(got) != 0 || restored != "" {
					t.Errorf("sent %v, restored %q through a server not trusted", got, restored)
				}
				return
			}
			if got["PUT /c.json"] != `{"c":1}` || !strings.Contains(got["PUT /agent.log"], "a log line") || restored != `{"restored":true}` {
				t.Errorf("sent %v, restored %q", got, restored)
			}
		})
	}
}

func httpsEngine(t *testing.T, o vendorfiles.Options) *datamodel.Engine {
	t.Helper()
	m := schema.New()
	m.Define("Device.")
	deviceinfo.Define(m)
	vendorfiles.Define(m)
	mux := datamodel.NewMux(m)
	vendorfiles.Register(mux, o)
	eng, err := datamodel.New(context.Background(), mux, datamodel.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return eng
}
