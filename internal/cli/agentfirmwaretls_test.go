package cli_test

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/uspkit/uspkit/internal/testenv"
	"github.com/uspkit/uspkit/wire"
)

// TestAgentFirmwareHTTPS: `usp agent` downloads an image over HTTPS from
// a server whose certificate comes from the CA its firmware.ca names, and
// refuses one it does not trust (TransferComplete! fault 7022 Command
// failure, TR-369 1.3 having no code of its own for it; the bank
// DownloadFailed, nothing activated).
func TestAgentFirmwareHTTPS(t *testing.T) {
	bin := buildUSP(t)
	img, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	pki := testenv.NewPKI(t, "proto::fw-ctl")
	pkiDir := t.TempDir()
	pki.WriteFiles(t, pkiDir)
	cert := pki.Issue(t, "localhost", nil, []string{"localhost"}, []net.IP{net.IPv4(127, 0, 0, 1)})
	serve := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(img) })
	trusted := httptest.NewUnstartedServer(serve)
	trusted.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	trusted.StartTLS()
	defer trusted.Close()
	untrusted := httptest.NewTLSServer(serve)
	defer untrusted.Close()

	dir := t.TempDir()
	a := &fwAgent{t: t, port: testenv.FreePort(t), notifs: make(chan *wire.Msg, 64)}
	a.cfg = filepath.Join(dir, "agent.yaml")
	os.WriteFile(a.cfg, []byte(fmt.Sprintf("endpoint_id: os::012345-FWTLS\ndata: %s\nlog_level: error\nmtps:\n  - protocol: WebSocket\n    listen: 127.0.0.1:%d\n"+
		"factory:\n  controllers:\n    - endpoint_id: proto::fw-ctl\n      mtps:\n        - protocol: WebSocket\nfirmware:\n  ca: %s/ca.pem\n  stall: 5s\n",
		dir, a.port, pkiDir)), 0o600)
	a.start(bin)
	defer a.stop()
	a.ctl = dialController(t, fmt.Sprintf("ws://127.0.0.1:%d/", a.port), "proto::fw-ctl", "os::012345-FWTLS")
	a.ctl.onNotify = func(m *wire.Msg) { a.notifs <- m }
	subscribe(t, a.ctl, "ev", "Event", "Device.LocalAgent.TransferComplete!")

	a.operate("Device.DeviceInfo.FirmwareImage.2.Download()", "untrusted", map[string]string{"URL": untrusted.URL, "AutoActivate": "true"})
	if tc := a.event("TransferComplete!", 30*time.Second); tc["FaultCode"] != "7022" || !strings.Contains(tc["FaultString"], "certificate") {
		t.Fatalf("TransferComplete! from an untrusted server: %v", tc)
	}
	if s := a.get("Device.DeviceInfo.FirmwareImage.2.Status"); s != "DownloadFailed" {
		t.Fatalf("status %q", s)
	}
	a.operate("Device.DeviceInfo.FirmwareImage.2.Download()", "trusted", map[string]string{"URL": trusted.URL, "AutoActivate": "false"})
	if tc := a.event("TransferComplete!", 30*time.Second); tc["FaultCode"] != "0" || tc["CommandKey"] != "trusted" {
		t.Fatalf("TransferComplete! from the trusted server: %v", tc)
	}
	if s := a.get("Device.DeviceInfo.FirmwareImage.2.Status"); s != "Available" {
		t.Fatalf("status %q", s)
	}
}
