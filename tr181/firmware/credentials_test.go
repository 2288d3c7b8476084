package firmware_test

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/uspkit/uspkit/tr181/firmware"
	"github.com/uspkit/uspkit/usperr"
)

// TestDownloadCredentials: Download()'s Username and Password go to the
// server as Basic credentials; refused ones end in TransferComplete! with
// 7006 (Permission denied) and the bank DownloadFailed; the password is
// neither in TransferComplete! nor left in the state file (0600, where a
// pending transfer keeps it) once the transfer has ended.
func TestDownloadCredentials(t *testing.T) {
	good := script("2.0", 0)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "fw" || p != "s3cret-pw" {
			w.Header().Set("WWW-Authenticate", `Basic realm="fw"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Write(good)
	}))
	defer srv.Close()
	for _, tc := range []struct {
		name, user, pass string
		code             uint32
		status           string
	}{
		{"accepted", "fw", "s3cret-pw", 0, firmware.StatusAvailable},
		{"wrong password", "fw", "nope-pw", firmware.CodePermissionDenied, firmware.StatusDownloadFailed},
		{"none", "", "", firmware.CodePermissionDenied, firmware.StatusDownloadFailed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, nil)
			err := f.operate(t, "Device.DeviceInfo.FirmwareImage.2.Download()", map[string]string{"URL": srv.URL, "AutoActivate": "false",
				"Username": tc.user, "Password": tc.pass})
			if usperr.Code(err) != tc.code {
				t.Fatalf("Download(): %v, want code %d", err, tc.code)
			}
			ev := f.ev.last(t)
			if ev["FaultCode"] != map[bool]string{true: "0", false: "7006"}[tc.code == 0] {
				t.Fatalf("TransferComplete! %v", ev)
			}
			for k, v := range ev {
				if tc.pass != "" && strings.Contains(v, tc.pass) {
					t.Errorf("TransferComplete! %s carries the password: %q", k, v)
				}
			}
			if s := f.get(t, "Device.DeviceInfo.FirmwareImage.2.Status"); s != tc.status {
				t.Fatalf("status %q, want %q", s, tc.status)
			}
			path := filepath.Join(f.dir, "fw", "images.json")
			state, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
				t.Errorf("images.json: %v %v, want mode 0600 (it holds pending credentials)", fi.Mode(), err)
			}
			if tc.pass != "" && strings.Contains(string(state), tc.pass) {
				t.Errorf("the password stays in images.json after the transfer: %s", state)
			}
		})
	}
}
