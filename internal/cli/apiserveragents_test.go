package cli_test

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/uspkit/uspkit/internal/testenv"
	"github.com/uspkit/uspkit/telemetry"
)

// TestAPIClientCATLSAgentPaths: with api.tls.client_ca the API and UI
// paths refuse a client without a certificate (403) and one whose
// certificate another CA issued (the handshake fails), and serve one with
// a certificate from client_ca; an Agent without a certificate still posts
// a Bulk Data report to its collector URL with its own credentials and
// fetches a file from the file store by its token URL.
func TestAPIClientCATLSAgentPaths(t *testing.T) {
	bin := buildUSP(t)
	data := t.TempDir()
	pki := testenv.NewPKI(t, "proto::cli-user")
	other := testenv.NewPKI(t, "proto::stranger")
	certs := t.TempDir()
	pki.WriteFiles(t, certs)
	p := startControllerProc(t, bin, data, "api:\n  tls:\n    cert: "+filepath.Join(certs, "server.pem")+"\n    key: "+
		filepath.Join(certs, "server.key")+"\n    client_ca: "+filepath.Join(certs, "ca.pem")+"\n")

	noCert := &tls.Config{RootCAs: pki.CAPool}
	strangerCert := &tls.Config{RootCAs: pki.CAPool, Certificates: []tls.Certificate{other.Client}}
	do := func(cfg *tls.Config, method, path, token string, body []byte, hdr map[string]string) (int, []byte, error) {
		t.Helper()
		tr := &http.Transport{TLSClientConfig: cfg}
		defer tr.CloseIdleConnections()
		req, err := http.NewRequest(method, p.api+path, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := (&http.Client{Transport: tr, Timeout: 5 * time.Second}).Do(req)
		if err != nil {
			return 0, nil, err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		return resp.StatusCode, b, nil
	}

	for _, tc := range []struct {
		name   string
		cfg    *tls.Config
		path   string
		wantOK bool
	}{
		{"API with a client certificate", pki.ClientConfig(), "/api/v1/agents", true},
		{"API without a certificate", noCert, "/api/v1/agents", false},
		{"API with another CA's certificate", strangerCert, "/api/v1/agents", false},
		{"UI without a certificate", noCert, "/", false},
		{"health without a certificate", noCert, "/healthz", false},
		{"API reached through a collector path", noCert, "/bulkdata/../api/v1/agents", false},
		{"API reached through a file path", noCert, "/files//api/v1/agents", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, b, err := do(tc.cfg, "GET", tc.path, p.token, nil, nil)
			switch {
			case tc.wantOK && (err != nil || code != http.StatusOK):
				t.Errorf("%d %v %s", code, err, b)
			case !tc.wantOK && err == nil && code == http.StatusOK:
				t.Errorf("served: %d %.200s", code, b)
			}
		})
	}
	// No bypass: a request without a certificate is refused before the
	// bearer token is looked at.
	if code, _, err := do(noCert, "GET", "/api/v1/agents", p.token, nil, nil); err != nil || code != http.StatusForbidden {
		t.Errorf("API without a certificate: %d %v, want 403", code, err)
	}

	// An Agent without a certificate posts a report to its collector URL.
	key, err := os.ReadFile(filepath.Join(data, "bulkdata.key"))
	if err != nil {
		t.Fatal(err)
	}
	const agentID = "os::012345-NOCERT1"
	creds := telemetry.NewCredentials(key)
	post := func(user, pass string) int {
		t.Helper()
		tr := &http.Transport{TLSClientConfig: noCert}
		defer tr.CloseIdleConnections()
		req, _ := http.NewRequest("POST", p.api+"/bulkdata/"+url.PathEscape(agentID),
			bytes.NewReader([]byte(`{"Report":[{"CollectionTime":1364529149,"Device":{"DeviceInfo":{"UpTime":42}}}]}`)))
		req.Header.Set("Content-Type", "application/json; encoding=ObjectHierarchy")
		req.SetBasicAuth(user, pass)
		resp, err := (&http.Client{Transport: tr, Timeout: 5 * time.Second}).Do(req)
		if err != nil {
			t.Fatalf("collector without a client certificate: %v", err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post(creds.User(agentID), "wrong-password-wrong-password-xx"); code != http.StatusUnauthorized {
		t.Errorf("collector with a wrong password: %d, want 401", code)
	}
	if code := post(creds.User(agentID), creds.Password(agentID)); code != http.StatusOK {
		t.Fatalf("collector with the agent's credentials: %d, want 200", code)
	}
	code, b, err := do(pki.ClientConfig(), "GET", "/api/v1/agents/"+url.PathEscape(agentID)+"/telemetry?param=Device.DeviceInfo.UpTime", p.token, nil, nil)
	if err != nil || code != http.StatusOK || !bytes.Contains(b, []byte("42")) {
		t.Errorf("report not stored: %d %v %s", code, err, b)
	}

	// A file uploaded through the API (with a certificate) is fetched by
	// its token URL without one.
	content := []byte("firmware image bytes\n")
	code, b, err = do(pki.ClientConfig(), "POST", "/api/v1/files?name=image.bin", p.token, content, map[string]string{"Content-Type": "application/octet-stream"})
	if err != nil || code/100 != 2 {
		t.Fatalf("upload: %d %v %s", code, err, b)
	}
	var f struct {
		URL   string `json:"url"`
		Name  string `json:"name"`
		Token string `json:"token"`
	}
	if err := json.Unmarshal(b, &f); err != nil || f.Token == "" {
		t.Fatalf("upload answer %s: %v", b, err)
	}
	filePath := "/files/" + f.Token + "/" + f.Name
	code, got, err := do(noCert, "GET", filePath, "", nil, nil)
	if err != nil || code != http.StatusOK || !bytes.Equal(got, content) {
		t.Errorf("file without a client certificate: %d %v %q", code, err, got)
	}
	if code, _, err := do(strangerCert, "GET", filePath, "", nil, nil); err == nil {
		t.Errorf("file with another CA's certificate: %d, want the handshake refused", code)
	}
}
