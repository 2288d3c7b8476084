package cli_test

import (
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/uspkit/uspkit/internal/testenv"
)

// TestConformanceAgentFeatures runs against `usp agent`, over MQTT 5
// (mosquitto) and over WebSocket (the agent as server), the TP-469 cases
// of the agent's optional features: Subscription TriggerAction (1.93,
// 1.94), SecuredRoles with a second controller (2.27), OnBoardingComplete
// (1.101) and, with USP_CONFORMANCE_LONG=1 and over MQTT 5 only,
// OnBoardingRestartTime (1.102 and 1.103, about three and a half minutes
// of waiting).
func TestConformanceAgentFeatures(t *testing.T) {
	bin := buildUSP(t)
	testenv.EachMTP(t, func(t *testing.T, m testenv.MTP) {
		ids := "1.93 1.94 1.101 2.27"
		long := os.Getenv("USP_CONFORMANCE_LONG") == "1" && m.Name == "MQTT5"
		if long {
			ids += " 1.102 1.103"
		}
		e := newMTPEnds(m, "proto::uspkit-conformance")
		mtps, ctrls := agentMTPYAML(m, e)
		startAgentProcessWith(t, bin, e.agentID, mtps, ctrls)
		args := append(conformanceArgs(t, m, e), "--run", strings.Join(strings.Fields(ids), ","))
		if long {
			args = append(args, "--long", "--timeout", "4m")
		}
		r := runConformanceProcess(t, bin, args...)
		passed := map[string]bool{}
		for _, c := range r.Results {
			if c.Status == "pass" {
				passed[c.ID] = true
			} else {
				t.Logf("%s %s: %s", c.ID, c.Status, c.Reason)
			}
		}
		for _, id := range strings.Fields(ids) {
			if !passed[id] {
				t.Errorf("%s did not pass", id)
			}
		}
		if !long {
			t.Log("1.102 and 1.103 not run: set USP_CONFORMANCE_LONG=1 (MQTT5)")
		}
	}, "MQTT5", "WebSocket-AgentServer")
}

// TestConformanceNoAbsoluteTime runs TP-469 2.6 against `usp agent` whose
// WebSocket server requires client certificates and has no absolute time
// (tls no_absolute_time): the runner connects with a certificate that
// expired five minutes ago and the agent answers its Get [R-SEC.19]. The
// same agent configured with absolute time refuses that certificate in
// the TLS handshake [R-SEC.20].
func TestConformanceNoAbsoluteTime(t *testing.T) {
	bin := buildUSP(t)
	const ctrlID = "proto::uspkit-conformance"
	pkiDir := t.TempDir()
	pki := testenv.NewPKI(t, ctrlID)
	pki.WriteFiles(t, pkiDir)
	testenv.WriteCert(t, pkiDir, "expired", pki.IssueExpired(t, ctrlID))
	server := func(extra string) int {
		port := testenv.FreePort(t)
		tlsConf := fmt.Sprintf("    tls:\n      cert: %s/server.pem\n      key: %s/server.key\n      ca: %s/ca.pem\n      client_auth: true\n%s", pkiDir, pkiDir, pkiDir, extra)
		startAgentProcess(t, bin, fmt.Sprintf("os::012345-CONFTIME%d", port), fmt.Sprintf("  - protocol: WebSocket\n    listen: 127.0.0.1:%d\n    path: /usp\n%s", port, tlsConf),
			"WebSocket", ctrlID)
		return port
	}

	port := server("      no_absolute_time: true\n")
	r := runConformanceProcess(t, bin, "--agent", fmt.Sprintf("os::012345-CONFTIME%d", port), "--mtp", "ws", "--url", fmt.Sprintf("wss://localhost:%d/usp", port),
		"--ca", pkiDir+"/ca.pem", "--cert", pkiDir+"/expired.pem", "--key", pkiDir+"/expired.key", "--expired-cert", "--run", "2.6")
	if len(r.Results) != 1 || r.Results[0].Status != "pass" {
		t.Errorf("2.6: %+v", r.Results)
	}

	port = server("")
	expired, err := tls.LoadX509KeyPair(pkiDir+"/expired.pem", pkiDir+"/expired.key")
	if err != nil {
		t.Fatal(err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{expired}, RootCAs: pki.CAPool, ServerName: "localhost", MinVersion: tls.VersionTLS12}
	d := tls.Dialer{Config: cfg, NetDialer: &net.Dialer{Timeout: 5 * time.Second}}
	c, err := d.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	for i := 0; i < 50 && err != nil && strings.Contains(err.Error(), "refused"); i++ {
		time.Sleep(100 * time.Millisecond) // the server may come up just after "ready"
		c, err = d.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	}
	if err == nil {
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		// TLS 1.3: the server's verdict on the client certificate arrives
		// after the client's handshake; a request makes it read it.
		_, err = fmt.Fprintf(c, "GET /usp HTTP/1.1\r\nHost: localhost\r\n\r\n")
		if err == nil {
			_, err = c.Read(make([]byte, 1))
		}
		c.Close()
	}
	t.Logf("expired certificate, agent with absolute time: %v", err)
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("an agent with absolute time accepted an expired controller certificate (err %v)", err)
	}
}
